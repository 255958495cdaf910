"""Metric arithmetic of the MedR-Bench protocol on hand-computed examples (F1 of the averages, P=R=0 rule)."""

from __future__ import annotations

import math

import pytest

from medaction.eval.metrics import (
    case_precision_recall,
    f1_of_averages,
    final_diagnosis,
    predicted_tests,
    run_metrics,
    stat,
    tests_per_turn as per_turn_counts,
)
from medaction.eval.summary import summarize
from medaction.eval.types import CaseResult
from medaction.policies.types import Hypothesis, Turn
from medaction.tree.types import Node, Trajectory


def _case(cid: str, pm: tuple[bool, ...], mm: tuple[bool, ...], correct: bool, *, run: int = 0,
          final: str = "x") -> CaseResult:
    p, r = case_precision_recall(pm, mm)
    return CaseResult(case_id=cid, run=run, seed=run, predicted_tests=tuple(f"t{i}" for i in range(len(pm))),
                      pred_matched=pm, menu_matched=mm, menu=tuple(f"m{i}" for i in range(len(mm))), precision=p,
                      recall=r, final_diagnosis=final, truth="y", correct=correct, n_turns=3, stop="final",
                      tests_per_turn=(len(pm), 0))


def test_case_precision_recall_hand_computed() -> None:
    assert case_precision_recall((True, True, False, False), (True, True)) == (0.5, 1.0)
    assert case_precision_recall((True,), (True, False, False, False)) == (1.0, 0.25)
    assert case_precision_recall((), (False, False)) == (0.0, 0.0)  # nothing ordered: P = R = 0
    assert case_precision_recall((True,), ()) == (1.0, 0.0)  # empty menu: nothing to recall


def test_f1_is_of_the_averages_not_the_average_of_f1s() -> None:
    cases = [
        _case("A", (True, True, False, False), (True, True), True),  # P .5, R 1
        _case("B", (True,), (True, False, False, False), False),  # P 1, R .25
        _case("C", (), (False, False, False), False, final=""),  # nothing ordered, no final diagnosis
    ]
    m = run_metrics(cases, run=0, seed=0)
    assert m.precision == pytest.approx(0.5)
    assert m.recall == pytest.approx(1.25 / 3)
    assert m.f1 == pytest.approx(2 * 0.5 * (1.25 / 3) / (0.5 + 1.25 / 3))  # 0.454545...
    assert m.f1 == pytest.approx(0.4545454545)
    mean_of_f1s = (2 / 3 + 0.4 + 0.0) / 3
    assert abs(m.f1 - mean_of_f1s) > 0.09  # the two rules really differ here
    assert m.accuracy == pytest.approx(1 / 3)
    assert (m.n_no_tests, m.n_no_final, m.n_cases) == (1, 1, 3)
    assert f1_of_averages(0.0, 0.0) == 0.0


def test_mean_and_spread_over_runs() -> None:
    runs = [
        _case("A", (True,), (True,), True, run=0),  # run 0: P 1, R 1, acc 1
        _case("A", (True, False), (True, False), False, run=1),  # run 1: P .5, R .5, acc 0
        _case("A", (False,), (False,), True, run=2),  # run 2: P 0, R 0, acc 1
    ]
    s = summarize(runs, label="x", policy="p", judge="j", graph="g", cases="c")
    assert [m.run for m in s.runs] == [0, 1, 2]
    assert s.precision.mean == pytest.approx(0.5)
    assert s.precision.std == pytest.approx(0.5)  # sample sd of (1, .5, 0)
    assert s.accuracy.mean == pytest.approx(2 / 3)
    assert s.accuracy.std == pytest.approx(math.sqrt(1 / 3))
    assert s.f1.mean == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert stat([0.3]).std == 0.0 and stat([]).n == 0


def _node(i: int, turn: Turn) -> Node:
    return Node(tree_id="t", node_id=f"r0{'.1' * i}", parent_id=None, depth=i + 1, policy_id="p", seed=i, turn=turn)


def test_predicted_tests_union_before_final_turn() -> None:
    traj = Trajectory(case_id="c", policy_id="p", stop="final", nodes=(
        _node(0, Turn(differential=(Hypothesis("a", 0.5),), tests=("CBC", "Chest X-ray"))),
        _node(1, Turn(tests=("cbc ", "Troponin", "  "))),  # duplicate (case/space) and blank dropped
        _node(2, Turn(final_diagnosis="Myocarditis", tests=("Cardiac MRI",))),  # final turn: not counted
    ))
    assert predicted_tests(traj) == ("CBC", "Chest X-ray", "Troponin")
    assert final_diagnosis(traj) == "Myocarditis"
    assert per_turn_counts(traj) == (2, 3, 0)
    no_final = Trajectory(case_id="c", policy_id="p", stop="max_turns", nodes=(_node(0, Turn(tests=("EEG",))),))
    assert final_diagnosis(no_final) == "" and predicted_tests(no_final) == ("EEG",)
