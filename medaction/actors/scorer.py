"""ScorerActor: a pool member that scores finished trajectories with `build_scorer(name, cfg)` and returns the
shard row, so rows go from scorer to writer through the object store without passing through the driver."""

from __future__ import annotations

from typing import Any

import ray

from medaction.engine.metrics import QualityMetrics
from medaction.envs.types import Environment
from medaction.scoring.base import build_scorer
from medaction.scoring.rows import to_row
from medaction.tree.types import Trajectory


def resolve_scorer(name: str, config: Any, fallback: str) -> Any:
    """Build `name`; if it cannot be built here (missing graph/module) and a fallback is set, build that."""
    try:
        return build_scorer(name, config)
    except (KeyError, ImportError, FileNotFoundError, OSError) as exc:
        if not fallback:
            raise
        print(f"[medaction] scorer {name!r} unavailable ({type(exc).__name__}: {exc}); using {fallback!r}")
        return build_scorer(fallback, None)


@ray.remote(num_cpus=0)
class ScorerActor:
    def __init__(self, name: str, config: Any, fallback: str = "", run: str = "") -> None:
        self.scorer = resolve_scorer(name, config, fallback)
        self.quality = QualityMetrics(run, requested=name)

    def describe(self) -> dict[str, str]:
        return {"scorer": getattr(self.scorer, "name", "?")}

    def score(self, trajectory: Trajectory, env: Environment) -> dict[str, Any]:
        row = to_row(self.scorer.score(trajectory, env))
        self.quality.row(row)
        return row
