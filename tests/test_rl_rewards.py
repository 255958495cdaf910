"""RL rewards (medaction/scoring/rewards.py) on hand-computed trajectories: every expected number below is worked out
by hand from the formulas in docs/rl.md, not produced by the code under test."""

from __future__ import annotations

import pytest

from medaction.envs.types import Environment, OracleReply, TestItem
from medaction.policies.types import Hypothesis, Turn
from medaction.scoring.rewards import (
    RewardConfig,
    StepReward,
    TerminalCorrectness,
    group_advantages,
    progress_shaping,
    reward_config,
    trajectory_rewards,
)
from medaction.scoring.types import ScoredTrajectory
from medaction.tree.rl_env import ClinicalEnv
from medaction.tree.types import Node, StopReason, Trajectory
from test_loop_helpers import CASE, TableOracle, commit, order

ENV = Environment(
    case_id="c1", source="test", initial_observation="ptosis", diagnosis="Myasthenia gravis",
    tests=(TestItem(name="Complete blood count", category="Laboratory"),
           TestItem(name="Chest X-ray", category="Imaging"),
           TestItem(name="Acetylcholine receptor antibodies", category="")),
)
CFG = RewardConfig(correct=1.0, progress=0.5, rac=0.1, test_cost=0.01, test_costs={"IMAGING": 0.05}, tau=3.0, cap=8)


def node(i: int, turn: Turn, replies: tuple[OracleReply, ...] = ()) -> Node:
    return Node(tree_id="t", node_id=f"r0.{i}" if i else "r0", parent_id=None, depth=i + 1, policy_id="p", seed=i,
                turn=turn, replies=replies)


def reply(request: str, matched: str | None) -> OracleReply:
    return OracleReply(request=request, matched=(matched,) if matched else (), result="x", available=bool(matched))


def three_turns(final: str = "myasthenia gravis", stop: StopReason = "final") -> Trajectory:
    t1 = Turn(differential=(Hypothesis("Lambert-Eaton"),), tests=("CBC", "CXR"))
    t2 = Turn(differential=(Hypothesis("Myasthenia gravis"),), tests=("AChR", "Tensilon test"))
    t3 = Turn(final_diagnosis=final)
    nodes = (node(0, t1, (reply("CBC", "Complete blood count"), reply("CXR", "Chest X-ray"))),
             node(1, t2, (reply("AChR", "Acetylcholine receptor antibodies"), reply("Tensilon test", None))),
             node(2, t3))
    return Trajectory(case_id="c1", policy_id="p", nodes=nodes, stop=stop)


def scored(traj: Trajectory, dtc: tuple, rac: tuple) -> ScoredTrajectory:
    return ScoredTrajectory(trajectory=traj, dtc=dtc, rac=rac)


def test_hand_computed_three_turn_trajectory() -> None:
    # DTC 5 -> 2 -> 0; RAC_2 = 5 > tau (penalises turn 1), RAC_3 = 1.
    # progress: t1 0; t2 0.5*(5-2)/9 = 1/6; t3 0.5*(2-0)/9 = 1/9
    # rac:      t1 0.1; t2 0; t3 0
    # cost:     t1 lab 0.01 (no per-category cost) + imaging 0.05 = 0.06; t2 2 x 0.01 (empty / no category) = 0.02
    # terminal: "myasthenia gravis" names "Myasthenia gravis" -> 1.0 on t3
    b = trajectory_rewards(scored(three_turns(), (5, 2, 0), (None, 5.0, 1.0)), ENV.diagnosis, CFG, env=ENV)
    assert b.progress == pytest.approx((0.0, 1 / 6, 1 / 9))
    assert b.rac_penalty == pytest.approx((0.1, 0.0, 0.0))
    assert b.test_cost == pytest.approx((0.06, 0.02, 0.0))
    assert b.correct and b.terminal == 1.0
    assert b.turn == pytest.approx((-0.16, 1 / 6 - 0.02, 1 / 9 + 1.0))
    assert b.total == pytest.approx(-0.16 + 1 / 6 - 0.02 + 1 / 9 + 1.0)


def test_unlinked_turns_give_no_shaping_and_wrong_final_no_terminal() -> None:
    # no link flags (rows scored before they existed): DTC 9 = cap + 1 may be unlinked -> 3 -> 1: only 3 -> 1
    # shapes: 0.5 * 2/9
    b = trajectory_rewards(scored(three_turns(final="Lambert-Eaton syndrome"), (9, 3, 1), (None, 0.0, 0.0)),
                           ENV.diagnosis, CFG, env=ENV)
    assert b.progress == pytest.approx((0.0, 0.0, 1 / 9))
    assert b.rac_penalty == (0.0, 0.0, 0.0) and not b.correct and b.terminal == 0.0
    assert b.total == pytest.approx(1 / 9 - 0.06 - 0.02)
    assert progress_shaping([None, 2, None, 4, 2], 8) == pytest.approx([0.0, 0.0, 0.0, 0.0, 2 / 9])


def test_link_flags_decide_what_was_measured() -> None:
    # with the scorer's per-turn link flags, cap + 1 on a LINKED top-1 is a real "beyond cap" distance:
    # 9 -> 3 shapes 0.5 * 6/9; an unlinked turn (None) between two linked ones breaks the chain on both sides
    class Flagged:  # a scored trajectory that carries top1_linked (duck-typed: trajectory, dtc, rac, top1_linked)
        def __init__(self, dtc: tuple, linked: tuple) -> None:
            self.trajectory, self.dtc, self.rac, self.top1_linked = three_turns(), dtc, (None,) * 3, linked

    b = trajectory_rewards(Flagged((9, 3, 1), (True, True, True)), ENV.diagnosis, CFG)  # type: ignore[arg-type]
    assert b.progress == pytest.approx((0.0, 0.5 * 6 / 9, 0.5 * 2 / 9))
    b = trajectory_rewards(Flagged((9, None, 1), (True, False, True)), ENV.diagnosis, CFG)  # type: ignore[arg-type]
    assert b.progress == (0.0, 0.0, 0.0)
    assert progress_shaping([5, 9, 9], 8, [True, True, False]) == pytest.approx([0.0, -4 / 9, 0.0])


def test_identity_scorer_values_and_no_final() -> None:
    # no graph: DTC/RAC undefined -> only test costs; the line hit max_turns -> no terminal reward even though the
    # last node carries the right name (a max_turns stop has no committed diagnosis)
    b = trajectory_rewards(scored(three_turns(stop="max_turns"), (None,) * 3, (None,) * 3), ENV.diagnosis,
                           RewardConfig(test_cost=0.1), env=None)
    assert b.turn == pytest.approx((-0.2, -0.2, 0.0)) and b.total == pytest.approx(-0.4) and not b.correct
    # mismatched series lengths (a scorer that returned nothing) are treated as undefined, not misaligned
    b2 = trajectory_rewards(scored(three_turns(), (), ()), ENV.diagnosis, RewardConfig(test_cost=0.0))
    assert b2.turn == pytest.approx((0.0, 0.0, 1.0))


def test_invalid_turn_penalty_and_weights_from_config() -> None:
    traj = Trajectory(case_id="c1", policy_id="p", nodes=(node(0, Turn(parse="failed", raw="??")),),
                      stop="parse_failed")
    cfg = reward_config({"invalid": 0.5, "test_cost": 0.0})
    assert trajectory_rewards(scored(traj, (None,), (None,)), ENV.diagnosis, cfg).turn == (-0.5,)
    with pytest.raises(Exception):
        reward_config({"no_such_weight": 1.0})
    empty = Trajectory(case_id="c1", policy_id="p", nodes=(), stop="policy_error")
    assert trajectory_rewards(scored(empty, (), ()), ENV.diagnosis).total == 0.0


def test_group_advantages() -> None:
    assert group_advantages([1.0, 0.0, 0.0, 1.0]) == pytest.approx([1.0, -1.0, -1.0, 1.0], abs=1e-5)
    assert group_advantages([0.3, 0.3]) == [0.0, 0.0]
    assert group_advantages([2.0, 0.0], normalise_std=False) == [1.0, -1.0]


class _TableScorer:
    """Returns fixed DTC/RAC prefixes (hand-chosen) so StepReward's per-step differences can be checked."""

    name = "table"

    def __init__(self, dtc: tuple, rac: tuple) -> None:
        self.dtc, self.rac = dtc, rac

    def score(self, trajectory: Trajectory, env: Environment) -> ScoredTrajectory:
        n = len(trajectory.nodes)
        return ScoredTrajectory(trajectory=trajectory, dtc=self.dtc[:n], rac=self.rac[:n])


def test_step_reward_in_clinical_env_sums_to_the_trajectory_return() -> None:
    # 3 steps, DTC 6 -> 3 -> 0, RAC_3 = 5 > tau penalises turn 2, which is only known at step 3.
    # step 1: -2 tests * 0.01 = -0.02
    # step 2: 0.5*3/9 - 0.01 = 1/6 - 0.01
    # step 3: 0.5*3/9 + 1 (correct) - 0.1 (turn 2's RAC penalty, paid now)
    cfg = RewardConfig(progress=0.5, rac=0.1, test_cost=0.01)
    env = ClinicalEnv(CASE, StepReward(_TableScorer((6, 3, 0), (None, 0.0, 5.0)), cfg), oracle=TableOracle(CASE))
    env.reset()
    steps = [env.step(order(["TSH", "Chest CT"]))[1], env.step(order(["Electromyography"]))[1],
             env.step(commit("Myasthenia gravis"))[1]]
    assert steps == pytest.approx([-0.02, 1 / 6 - 0.01, 1 / 6 + 1.0 - 0.1])
    # a second episode on the same reward object starts from zero again
    env.reset()
    assert env.step(commit("Multiple sclerosis"))[1] == pytest.approx(0.0)
    assert TerminalCorrectness()(CASE, env.state, None) == 0.0
