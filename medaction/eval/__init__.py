"""Evaluation with the MedR-Bench protocol: the runner, metrics, judges, reports and plots.

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.eval name", {
    "EvalSpec": "medaction.eval.runner:EvalSpec",
    "evaluate": "medaction.eval.runner:evaluate",
    "Judge": "medaction.eval.judges.base:Judge",
    "JUDGES": "medaction.eval.judges.base:JUDGES",
    "build_judge": "medaction.eval.judges.base:build_judge",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
