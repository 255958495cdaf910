"""DTC-shaped reward for the RL form of the turn loop (`medaction.tree.rl_env.ClinicalEnv`).

Per step (the `RewardFn` protocol: env, state after the turn, the turn): a small shaping term for how close the
turn's top-1 hypothesis is to s* on the graph, `step_weight * (1 - DTC_t / (cap + 1))`, plus `final_bonus` when the
episode ends with a final diagnosis that matches s* (linked node or text). Stateless, so branches of one tree
can share it; DTC lookups reuse the scorer's per-case BFS cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medaction.envs.types import Environment
from medaction.policies.types import Turn
from medaction.scoring.kg_scorer import KGScorer
from medaction.scoring.metrics import turn_differential


class DTCReward:
    def __init__(self, scorer: KGScorer | None = None, *, step_weight: float = 0.1, final_bonus: float = 1.0) -> None:
        self.scorer = scorer or KGScorer()
        self.step_weight, self.final_bonus = step_weight, final_bonus

    def closeness(self, env: Environment, turn: Turn) -> float:
        """1 - DTC/(cap+1) of the turn's top-1: 1.0 on s*, 0.0 when unlinked/unreachable or s* unlinked."""
        diff = turn_differential(turn)
        dtc, s = self.scorer.dtc(env.diagnosis, [diff[0] if diff else None])
        if s is None or dtc[0] is None:
            return 0.0
        return 1.0 - dtc[0] / (self.scorer.config.cap + 1)

    def __call__(self, env: Environment, state: Any, turn: Turn) -> float:
        r = self.step_weight * self.closeness(env, turn)
        final = getattr(state, "final_diagnosis", None) if getattr(state, "done", False) else None
        if final and self.scorer.is_correct(final, env.diagnosis, self.scorer.dtc_linker.link(env.diagnosis).node):
            r += self.final_bonus
        return r

    def trajectory_reward(self, env: Environment, turns: Sequence[Turn]) -> float:
        """Whole-trajectory return: the sum of the per-step rewards with the final bonus on a correct end."""
        total = sum(self.step_weight * self.closeness(env, t) for t in turns)
        final = next((t.final_diagnosis for t in reversed(turns) if t.final_diagnosis), None)
        if final and self.scorer.is_correct(final, env.diagnosis, self.scorer.dtc_linker.link(env.diagnosis).node):
            total += self.final_bonus
        return total
