"""Everything about a run that can be checked before Ray starts (docs/design.md, "Outputs and resume"): names of
the case source, policy backends, scorer and its fallback; the backend configs and sampling parameters; the case
file; the API-key variables named by `api_key_env`. Each failure is one UsageError line (exit 2), and nothing has
been created when it is raised (the output directory is checked by `manifest.prepare_output`)."""

from __future__ import annotations

import os
from typing import Any

import msgspec

from medaction.engine.config import RunConfig, cases_path
from medaction.outputs import UsageError


def validate_run(cfg: RunConfig) -> None:
    from medaction.envs.load import SOURCES
    from medaction.policies.base import check_config
    from medaction.policies.types import SamplingParams
    from medaction.scoring.base import available_scorers
    from medaction.tree.branching import build_strategy

    if cfg.cases.source not in SOURCES:
        raise UsageError(f"cases.source {cfg.cases.source!r} is unknown; choose one of {', '.join(SOURCES)}")
    try:
        path = cases_path(cfg)
    except OSError as exc:  # a URI that cannot be fetched (missing object, no credentials, no endpoint)
        raise UsageError(f"cases.path {cfg.cases.path!r}: {exc}") from None
    if not path.is_file():
        raise UsageError(f"cases.path {str(path)!r}: no such file")
    try:
        build_strategy(cfg.tree.strategy, cfg.tree.strategy_fn)
    except (ValueError, ImportError, AttributeError) as exc:
        raise UsageError(f"tree.strategy: {exc}") from None
    for i, tc in enumerate(cfg.policies):
        where = f"policies.{i} (id {tc.id!r})"
        check_config(tc.backend, tc.config, where=f"{where}.config")
        unknown = sorted(set(tc.params) - set(SamplingParams.__struct_fields__))
        if unknown:
            raise UsageError(f"{where}.params: unknown key(s) {', '.join(unknown)}; known: "
                             f"{', '.join(SamplingParams.__struct_fields__)}")
        try:
            msgspec.convert(tc.params, SamplingParams)
        except msgspec.ValidationError as exc:
            raise UsageError(f"{where}.params: {exc}") from None
        _check_key_env(where, tc.config)
    if cfg.oracle.kind != "matcher":  # the LLM oracle's backend table: a typo'd key would be silently ignored
        check_config(cfg.oracle.backend, cfg.oracle.config, where="oracle.config")
        _check_key_env("oracle", cfg.oracle.config)
    scorers = available_scorers()
    sc = cfg.scoring
    if sc.name not in scorers:
        raise UsageError(f"scoring.name {sc.name!r} is not a scorer; known: {', '.join(scorers)}")
    if sc.fallback and sc.fallback not in scorers:
        raise UsageError(f"scoring.fallback {sc.fallback!r} is not a scorer; known: {', '.join(scorers)}")


def _check_key_env(where: str, config: dict[str, Any]) -> None:
    name = config.get("api_key_env")
    if isinstance(name, str) and name and not os.environ.get(name):
        raise UsageError(f"{where}.config.api_key_env: environment variable {name} is not set")
