"""How evaluation gets its rollouts: a small RolloutBackend protocol. The engine (medaction.engine.run_job.run,
K=1, no branches) is THE implementation; the protocol exists so the runner and its tests do not depend on how the
engine is configured, not to offer a second engine."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from medaction.scoring.types import ScoredTrajectory


class RolloutRequest(msgspec.Struct, frozen=True, kw_only=True):
    policy: str
    policy_config: dict[str, Any] = {}
    cases: str
    source: str
    seed: int
    out: str  # the run's own output directory (the engine's resume unit)
    limit: int | None = None
    max_turns: int = 8
    scorer: str = "kg"  # DTC/RAC for the Fig.-5 analyses; "identity" when no graph is wanted
    scorer_config: dict[str, Any] = {}


class RolloutBackend(Protocol):
    name: str

    def rollouts(self, req: RolloutRequest) -> list[ScoredTrajectory]:
        """Run (or resume) the policy on the cases with K=1, no branches; return one scored trajectory per case."""
        ...

