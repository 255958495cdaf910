"""Stage 1 from raw case reports: LLM environment extraction and gold trajectories.

It sits above `policies`, `tree` and `scoring` (it calls a Policy and emits Trajectories), so `envs` stays the bottom
layer; the readers, leakage and overlap checks it uses are plain `envs` code. No Ray: the Ray jobs that run it are
in medaction/engine/.

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.stage1 name", {
    "ExtractConfig": "medaction.stage1.extract:ExtractConfig",
    "ExtractResult": "medaction.stage1.extract:ExtractResult",
    "extract_case": "medaction.stage1.extract:extract_case",
    "ReportJob": "medaction.stage1.extract_run:ReportJob",
    "ExtractOutputs": "medaction.stage1.extract_run:ExtractOutputs",
    "run_extraction": "medaction.stage1.extract_run:run_extraction",
    "gold_trajectory": "medaction.stage1.gold:gold_trajectory",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
