"""ScorerActor: a pool member that scores finished trajectories with `build_scorer(name, cfg)` and returns the
shard row, so rows go from scorer to writer through the object store without passing through the driver."""

from __future__ import annotations

from typing import Any

import ray

from medaction.engine.metrics import QualityMetrics
from medaction.envs.types import Environment
from medaction.scoring.base import build_scorer
from medaction.scoring.rewards import RewardBreakdown, RewardConfig, trajectory_rewards
from medaction.scoring.rows import to_row
from medaction.tree.types import Trajectory


def resolve_scorer(name: str, config: Any, fallback: str) -> tuple[Any, str]:
    """Build `name`; if it cannot be built here (missing graph file or module) and a fallback is named, build that.
    Returns (scorer, note): the note says why the fallback was used ("" when it was not), for the console and the
    summary. An unknown name is never a reason to fall back (the driver rejects it before starting)."""
    try:
        return build_scorer(name, config), ""
    except (ImportError, FileNotFoundError, OSError) as exc:
        if not fallback:
            raise
        note = f"scorer {name!r} unavailable ({type(exc).__name__}: {exc}); using fallback {fallback!r}"
        return build_scorer(fallback, None), " ".join(note.split())[:300]


@ray.remote(num_cpus=0)
class ScorerActor:
    def __init__(self, name: str, config: Any, fallback: str = "", run: str = "") -> None:
        self.scorer, self.note = resolve_scorer(name, config, fallback)
        self.quality = QualityMetrics(run, requested=name)

    def describe(self) -> dict[str, str]:
        return {"scorer": getattr(self.scorer, "name", "?"), "fallback": self.note}

    def score(self, trajectory: Trajectory, env: Environment) -> dict[str, Any]:
        row = to_row(self.scorer.score(trajectory, env))
        self.quality.row(row)
        return row

    def score_rl(self, trajectory: Trajectory, env: Environment,
                 rewards: RewardConfig) -> tuple[dict[str, Any], RewardBreakdown]:
        """The shard row and the RL rewards of one trajectory, from the same scoring (docs/rl.md)."""
        scored = self.scorer.score(trajectory, env)
        row = to_row(scored)
        self.quality.row(row)
        return row, trajectory_rewards(scored, env.diagnosis, rewards, env=env)
