"""The engine: run config, the driver loop, manifest and resume, metrics, the rollout service for trainers, the
Ray Serve endpoint and the Ray jobs of Stage 1.

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.engine name", {
    "RunConfig": "medaction.engine.config:RunConfig",
    "load_config": "medaction.engine.config:load_config",
    "run": "medaction.engine.run_job:run",
    "RunSummary": "medaction.engine.summary:RunSummary",
    "RolloutService": "medaction.engine.rollout_service:RolloutService",
    "RolloutGroup": "medaction.engine.rollout_service:RolloutGroup",
    "start_policy": "medaction.engine.rollout_service:start_policy",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
