"""RL integrations above the engine: adapters for external frameworks (docs/rl.md).

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.rl name", {
    "SkyRLClinicalEnv": "medaction.rl.adapters:SkyRLClinicalEnv",
    "VerlClinicalInteraction": "medaction.rl.adapters:VerlClinicalInteraction",
    "verl_dataset_rows": "medaction.rl.adapters:verl_dataset_rows",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
