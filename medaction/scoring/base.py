"""The Scorer protocol: the engine's scoring stage calls it on every finished trajectory.

The identity scorer keeps every turn; the KG scorers (DTC on PrimeKG/HPO, RAC on ClinGraph/HPO) plug in by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from medaction.envs.types import Environment
from medaction.registry import Registry
from medaction.scoring.types import ScoredTrajectory
from medaction.tree.types import Trajectory


class Scorer(Protocol):
    name: str

    def score(self, trajectory: Trajectory, env: Environment) -> ScoredTrajectory: ...


class IdentityScorer:
    """Keeps every turn; no graph. Used when scoring is switched off."""

    name = "identity"

    def score(self, trajectory: Trajectory, env: Environment) -> ScoredTrajectory:
        n = len(trajectory.nodes)
        return ScoredTrajectory(
            trajectory=trajectory,
            dtc=(None,) * n,
            rac=(None,) * n,
            kept_turns=tuple(range(1, n + 1)),
            verdict="kept",
            graph="none",
            scorer=self.name,
        )


def identity_scorer(_config: Any = None) -> IdentityScorer:
    return IdentityScorer()


ScorerFactory = Callable[[Any], Scorer]
# name -> factory `config -> Scorer` (medaction/registry.py)
SCORERS: Registry[ScorerFactory] = Registry("scorer", {
    "identity": "medaction.scoring.base:identity_scorer",
    "kg": "medaction.scoring.kg_scorer:build_kg_scorer",
})


def available_scorers() -> list[str]:
    return SCORERS.names()


def build_scorer(name: str, config: Any = None) -> Scorer:
    return SCORERS.get(name)(config)
