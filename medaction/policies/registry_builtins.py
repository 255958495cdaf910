"""Imports the built-in backends so they register. Each module imports its heavy deps lazily inside methods."""

from __future__ import annotations

import importlib

_BUILTINS = (
    "medaction.policies.scripted",
    "medaction.policies.heuristic",
    "medaction.policies.sim",
    "medaction.policies.openai_http",
    "medaction.policies.hf",
    "medaction.policies.vllm_backend",
    "medaction.policies.sglang_backend",
)

for _mod in _BUILTINS:
    try:
        importlib.import_module(_mod)
    except ModuleNotFoundError as exc:  # a backend module not written yet, or an optional dep missing at import
        if not exc.name or not exc.name.startswith("medaction."):
            raise
