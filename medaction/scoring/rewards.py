"""RL rewards from the shared judgements (docs/rl.md, "Rewards"): pure functions, no Ray, no model.

One place for every reward the engine pays: the trainer-facing rollout API (`engine/rollout_service.py`, via the
ScorerActor), the gym-style `ClinicalEnv` (`StepReward`, `TerminalCorrectness`, `DTCReward`) and external RL
frameworks (`rl/adapters.py`) all call `trajectory_rewards`. The judgements are the ones the SFT data uses:
the one diagnosis equivalence (`envs.diagnosis.same_diagnosis`) for correctness, the scorer's DTC/RAC series
(`ScoredTrajectory.dtc/.rac`, eqs. 3-4) for progress and consistency. Turn t below is 1-based; lists are 0-based.

    r_t = w_progress * shape_t - w_rac * rac_pen_t - cost_t - w_invalid * invalid_t   (+ w_correct * correct at T)
    shape_t   = (DTC_{t-1} - DTC_t) / (cap + 1)       when t >= 2 and both turns' top-1 are linked; else 0
    rac_pen_t = 1  when RAC_{t+1} > tau (the differential change at t+1 is not supported by the tests of turn t:
                   the same judgement that prunes turn t from the SFT data); else 0 (also when RAC is undefined)
    cost_t    = sum over the tests of turn t that were sent to the oracle of test_costs[category] (default
                test_cost); a final turn orders nothing
    invalid_t = 1  when the turn is unusable (parse "failed"), else 0
    correct   = same_diagnosis(final diagnosis, truth)
    R = sum_t r_t

A turn is linked when the scorer measured its DTC: `top1_linked[i]` when the scored trajectory carries it, and
DTC None means not measured (unlinked top-1, unlinked s*, no graph). A linked top-1 beyond `cap` hops is cap + 1,
a real (far) measurement. Rows scored before `top1_linked` existed wrote cap + 1 for unlinked top-1s too: there,
cap + 1 counts as not measured. An entity-linking miss never pays or costs progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from medaction.envs.diagnosis import same_diagnosis
from medaction.envs.types import Environment
from medaction.scoring.types import ScoredTrajectory
from medaction.tree.rl_env import TerminalCorrectness
from medaction.tree.types import Node, Trajectory

__all__ = ["DTCReward", "RewardBreakdown", "RewardConfig", "StepReward", "TerminalCorrectness", "group_advantages",
           "reward_config", "trajectory_rewards"]


class RewardConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    correct: float = 1.0  # w_correct: terminal correctness
    progress: float = 0.5  # w_progress: DTC shaping (telescopes to (DTC_1 - DTC_T)/(cap+1) over linked turns)
    rac: float = 0.1  # w_rac: RAC consistency penalty per inconsistent turn
    invalid: float = 0.0  # w_invalid: unusable (unparseable / no action) turn penalty; 0 = off
    test_cost: float = 0.01  # cost of one test sent to the oracle, any category
    test_costs: dict[str, float] = {}  # per test category (menu TestItem.category, case-insensitive) -> cost
    tau: float = 3.0  # RAC threshold (same as the scorer's)
    cap: int = 8  # hop cap (same as the scorer's)


class RewardBreakdown(msgspec.Struct, frozen=True, kw_only=True):
    """Per-turn rewards and their parts (index i = turn i+1); `total` = sum(turn) = the trajectory return."""

    turn: tuple[float, ...] = ()
    progress: tuple[float, ...] = ()
    rac_penalty: tuple[float, ...] = ()
    test_cost: tuple[float, ...] = ()
    invalid: tuple[float, ...] = ()
    terminal: float = 0.0  # w_correct * correct, already included in turn[-1]
    correct: bool = False
    total: float = 0.0


def measured_turns(dtc: Sequence[int | None], cap: int, linked: Sequence[bool | None] | None = None) -> list[bool]:
    """Per turn: did the scorer measure DTC (a linked top-1 and a linked s*)? See the module docstring."""
    if linked is not None and len(linked) == len(dtc):
        return [v is not None and lk is True for v, lk in zip(dtc, linked)]
    return [v is not None and 0 <= v <= cap for v in dtc]  # no link flags: cap + 1 may mean unlinked


def progress_shaping(dtc: Sequence[int | None], cap: int, linked: Sequence[bool | None] | None = None) -> list[float]:
    """shape_t = (DTC_{t-1} - DTC_t)/(cap+1) between two consecutive turns whose DTC was measured."""
    ok = measured_turns(dtc, cap, linked)
    out = [0.0] * len(dtc)
    for i in range(1, len(dtc)):
        if ok[i - 1] and ok[i]:
            out[i] = (min(dtc[i - 1], cap + 1) - min(dtc[i], cap + 1)) / (cap + 1)  # type: ignore[type-var]
    return out


def rac_penalties(rac: Sequence[float | None], tau: float) -> list[float]:
    """1 at turn t when RAC_{t+1} > tau (turn t's tests did not support the next differential change)."""
    out = [0.0] * len(rac)
    for i in range(len(rac) - 1):
        nxt = rac[i + 1]
        if nxt is not None and nxt > tau:
            out[i] = 1.0
    return out


def _category_costs(cfg: RewardConfig) -> dict[str, float]:
    return {k.strip().casefold(): float(v) for k, v in cfg.test_costs.items()}


def test_costs(nodes: Sequence[Node], env: Environment | None, cfg: RewardConfig) -> list[float]:
    """Cost of the tests each turn sent to the oracle (node.replies: one reply per request sent)."""
    by_cat = _category_costs(cfg)
    category = {t.name: t.category.strip().casefold() for t in env.tests} if env is not None and by_cat else {}
    out: list[float] = []
    for n in nodes:
        c = 0.0
        for reply in n.replies:
            cat = next((category[m] for m in reply.matched if category.get(m)), "")
            c += by_cat.get(cat, cfg.test_cost) if cat else cfg.test_cost
        out.append(c)
    return out


def final_diagnosis(trajectory: Trajectory) -> str | None:
    if trajectory.stop != "final":
        return None
    return next((n.turn.final_diagnosis for n in reversed(trajectory.nodes) if n.turn.final_diagnosis), None)


def trajectory_rewards(scored: ScoredTrajectory, truth: str, cfg: RewardConfig = RewardConfig(), *,
                       env: Environment | None = None) -> RewardBreakdown:
    """The reward of every turn of one scored trajectory (formulas in the module docstring and docs/rl.md).

    `env` is needed only for per-category test costs (the menu's categories); `truth` is s*."""
    nodes = scored.trajectory.nodes
    n = len(nodes)
    dtc = list(scored.dtc) if len(scored.dtc) == n else [None] * n
    rac = list(scored.rac) if len(scored.rac) == n else [None] * n
    linked = getattr(scored, "top1_linked", None)  # absent on rows scored before link flags existed
    prog = [cfg.progress * s for s in progress_shaping(dtc, cfg.cap, tuple(linked) if linked else None)]
    pen = [cfg.rac * p for p in rac_penalties(rac, cfg.tau)]
    cost = test_costs(nodes, env, cfg)
    inv = [cfg.invalid * (1.0 if nd.turn.parse == "failed" else 0.0) for nd in nodes]
    final = final_diagnosis(scored.trajectory)
    correct = bool(final) and same_diagnosis(final, truth)
    terminal = cfg.correct * (1.0 if correct else 0.0)
    turn = [prog[i] - pen[i] - cost[i] - inv[i] for i in range(n)]
    if n:
        turn[-1] += terminal
    return RewardBreakdown(turn=tuple(turn), progress=tuple(prog), rac_penalty=tuple(pen), test_cost=tuple(cost),
                           invalid=tuple(inv), terminal=terminal, correct=correct, total=float(sum(turn)) if n
                           else terminal)


def reward_config(cfg: Any) -> RewardConfig:
    """A RewardConfig from None, itself, or a dict of its fields (a TOML table)."""
    if cfg is None:
        return RewardConfig()
    if isinstance(cfg, RewardConfig):
        return cfg
    return msgspec.convert(cfg, RewardConfig)


def group_advantages(returns: Sequence[float], *, eps: float = 1e-6, normalise_std: bool = True) -> list[float]:
    """GRPO advantages of one group: (R_i - mean) / (std + eps) (population std); all-equal groups give zeros."""
    if not returns:
        return []
    m = sum(returns) / len(returns)
    centred = [r - m for r in returns]
    if not normalise_std:
        return centred
    sd = (sum(c * c for c in centred) / len(centred)) ** 0.5
    return [c / (sd + eps) for c in centred]


# ---- step rewards for the gym-style ClinicalEnv (tree/rl_env.py RewardFn protocol) ---------------------------------
class StepReward:
    """`trajectory_rewards` paid step by step in ClinicalEnv: step t returns R(turns 1..t) - R(turns 1..t-1), so the
    step rewards of an episode sum to the trajectory return of the rollout API (the RAC penalty of turn t-1 is
    known only at turn t and is paid there). One instance per concurrent episode: it keeps the episode's turns
    (reset when a state with turn == 1 arrives)."""

    def __init__(self, scorer: Any = None, cfg: RewardConfig = RewardConfig()) -> None:
        from medaction.scoring.base import IdentityScorer

        self.scorer = scorer if scorer is not None else IdentityScorer()
        self.cfg = cfg
        self._nodes: list[Node] = []
        self._paid = 0.0

    def __call__(self, env: Environment, state: Any, turn: Any) -> float:
        if state.turn == 1:
            self._nodes, self._paid = [], 0.0
        replies = tuple(e.reply for e in state.record if e.turn == state.turn)
        self._nodes.append(Node(tree_id="", node_id=f"t{state.turn}", parent_id=None, depth=state.turn,
                                policy_id="env", seed=0, turn=turn, replies=replies))
        stop = state.stop if state.done and state.stop else "max_turns"
        traj = Trajectory(case_id=env.case_id, policy_id="env", nodes=tuple(self._nodes), stop=stop)
        total = trajectory_rewards(self.scorer.score(traj, env), env.diagnosis, self.cfg, env=env).total
        step, self._paid = total - self._paid, total
        return step


class DTCReward:
    """Closeness-to-s* reward: per step `step_weight * (1 - DTC_t/(cap+1))` of the top-1, plus `final_bonus` on a
    correct final diagnosis (the scorer's `is_correct`: same_diagnosis, or the same linked graph node). A potential,
    not a difference: prefer StepReward's shaping (the change in DTC) for policy-gradient training."""

    def __init__(self, scorer: Any = None, *, step_weight: float = 0.1, final_bonus: float = 1.0) -> None:
        from medaction.scoring.kg_scorer import KGScorer

        self.scorer = scorer or KGScorer()
        self.step_weight, self.final_bonus = step_weight, final_bonus

    def closeness(self, env: Environment, turn: Any) -> float:
        """1 - DTC/(cap+1) of the turn's top-1: 1.0 on s*, 0.0 when unlinked/unreachable or s* unlinked."""
        from medaction.scoring.metrics import turn_differential

        diff = turn_differential(turn)
        dtc, s = self.scorer.dtc(env.diagnosis, [diff[0] if diff else None])
        if s is None or dtc[0] is None:
            return 0.0
        return 1.0 - dtc[0] / (self.scorer.config.cap + 1)

    def _final_ok(self, env: Environment, final: str | None) -> bool:
        return bool(final) and self.scorer.is_correct(final, env.diagnosis,
                                                      self.scorer.dtc_linker.link(env.diagnosis).node)

    def __call__(self, env: Environment, state: Any, turn: Any) -> float:
        r = self.step_weight * self.closeness(env, turn)
        final = getattr(state, "final_diagnosis", None) if getattr(state, "done", False) else None
        return r + (self.final_bonus if self._final_ok(env, final) else 0.0)

    def trajectory_reward(self, env: Environment, turns: Sequence[Any]) -> float:
        """Whole-trajectory return: the sum of the per-step rewards with the final bonus on a correct end."""
        total = sum(self.step_weight * self.closeness(env, t) for t in turns)
        final = next((t.final_diagnosis for t in reversed(turns) if t.final_diagnosis), None)
        return total + (self.final_bonus if self._final_ok(env, final) else 0.0)
