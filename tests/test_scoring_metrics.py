"""DTC / RAC / pruning on hand-computed trees (DESIGN "Scoring" conventions), plus filters and retention."""

from __future__ import annotations

import pytest

from medaction.policies.types import Hypothesis, Turn
from medaction.scoring.filters import get_filter, retention
from medaction.scoring.metrics import dtc_cut, dtc_series, prune, rac_removed, rac_series, turn_differential
from medaction.scoring.types import ScoredTrajectory
from medaction.tree.types import Node, Trajectory

CAP = 8
# hop(d, a) between diagnosis nodes 10..13 and test nodes 100, 101
H = {(10, 100): 1, (10, 101): 5, (11, 100): 2, (11, 101): 7, (12, 100): 4, (12, 101): 4,
     (13, 100): 6, (13, 101): 6}


def hop_to_tests(d: int, tests: list[int]) -> int:
    return min(H[(d, a)] for a in tests)


def test_dtc_series_unlinked_is_unmeasured_unreachable_is_cap_plus_one() -> None:
    dist = {5: 0, 6: 2, 7: 3, 8: 20}
    assert dtc_series([7, None, 6, 5, 8], dist.__getitem__, CAP) == [3, None, 2, 0, 9]


@pytest.mark.parametrize(
    ("dtc", "cut", "kept", "verdict"),
    [
        ([3, 2, 1, 0], 4, (1, 2, 3, 4), "kept"),  # convergent: reaches s*
        ([2, 3, 4, 5], 0, (), "discarded"),  # divergent: every later turn strictly farther
        ([3, 2, 4, 5], 2, (1, 2), "truncated"),  # partially convergent: truncated after t*=2
        ([3, 4, 3, 5], 3, (1, 2, 3), "truncated"),  # latest t* with DTC <= DTC_1 (equality counts)
        ([9, 9, 9], 3, (1, 2, 3), "kept"),  # linked but unreachable throughout: cap+1 == cap+1 holds
        ([None, 3, 2, None], 3, (1, 2, 3), "truncated"),  # anchor = first LINKED turn (2); the trailing unlinked
        # turn 4 is after t* = 3 and goes with the rest
        ([3, None, None, 4], 0, (), "discarded"),  # unlinked turns 2-3 cannot be t*: only turn 4 (farther) counts
        ([3, None, 3, None], 3, (1, 2, 3), "truncated"),  # unlinked turn 2 stays (before t*), does not cut
    ],
)
def test_dtc_backward_scan(dtc, cut, kept, verdict) -> None:  # type: ignore[no-untyped-def]
    assert dtc_cut(dtc) == cut
    assert prune(dtc, [None] + [0.0] * (len(dtc) - 1) if dtc else [], tau=3.0) == (kept, verdict)


@pytest.mark.parametrize("dtc", [[0], [None, None], [None, 2, None], [], [None]])
def test_dtc_cannot_decide_below_two_linked_turns(dtc) -> None:  # type: ignore[no-untyped-def]
    # one turn, s* unlinked (all None), a single linked turn: DTC is silent -> None, never "keep"
    assert dtc_cut(dtc) is None
    assert prune(dtc, [None] * len(dtc), tau=3.0) is None


def _tree():  # type: ignore[no-untyped-def]
    diffs = [
        [10, 11],  # t1
        [10, 12],  # t2: delta {11, 12}; tests(t1)=[100]: (2 + 4) / 2 = 3.0 -> passes (not > 3)
        [13, 12],  # t3: delta {10, 13}; tests(t2)=[100, 101]: (1 + 6) / 2 = 3.5 -> fails: remove t2
        [13, 12],  # t4: empty delta -> 0.0, passes
        [13, ("unlinked", "foo")],  # t5: linked delta {12} (foo is not measured); no tests at t4 -> 9: remove t4
        [("unlinked", "bar")],  # t6: linked delta {13}; tests(t5)=[100]: 6 / 1 = 6.0 -> remove t5
    ]
    tests = [[100], [100, 101], [101], [], [100], []]
    return diffs, tests


def test_rac_hand_computed() -> None:
    diffs, tests = _tree()
    assert rac_series(diffs, tests, hop_to_tests, CAP) == [None, 3.0, 3.5, 0.0, 9.0, 6.0]


def test_rac_removal_single_pass_after_dtc() -> None:
    diffs, tests = _tree()
    rac = rac_series(diffs, tests, hop_to_tests, CAP)
    # DTC keeps all six turns: removals are t-1 for t in {3, 5, 6} -> {2, 4, 5}, from the ORIGINAL values
    assert rac_removed(rac, 6, 3.0) == {2, 4, 5}
    assert prune([4, 3, 3, 2, 1, 0], rac, 3.0) == ((1, 3, 6), "truncated")
    # DTC truncates after t*=3: RAC of turns 4..6 no longer applies
    assert prune([4, 3, 3, 6, 7, 8], rac, 3.0) == ((1, 3), "truncated")
    # a looser tau keeps more (paper: tau 4 retains more data)
    assert prune([4, 3, 3, 2, 1, 0], rac, 4.0) == ((1, 2, 3, 6), "truncated")


def test_rac_conventions() -> None:
    same = [[10], [10]]
    assert rac_series(same, [[], []], hop_to_tests, CAP) == [None, 0.0]  # empty delta passes even without tests
    changed = [[10], [11]]
    assert rac_series(changed, [[], []], hop_to_tests, CAP) == [None, 9.0]  # no tests at t-1 fails
    assert rac_series([[10]], [[100]], hop_to_tests, CAP) == [None]  # RAC_1 undefined
    # an unlinked diagnosis is not part of Delta b_t: appearing, staying or leaving, it cannot push RAC over tau
    assert rac_series([[("unlinked", "x")], [("unlinked", "x")]], [[100], []], hop_to_tests, CAP) == [None, 0.0]
    assert rac_series([[10], [10, ("unlinked", "y")]], [[100], []], hop_to_tests, CAP) == [None, 0.0]
    assert rac_series([[10, ("unlinked", "y")], [10]], [[], []], hop_to_tests, CAP) == [None, 0.0]
    # ...while a linked new hypothesis next to it still counts: delta {11}, hop(11, 100) = 2
    assert rac_series([[10], [10, 11, ("unlinked", "y")]], [[100], []], hop_to_tests, CAP) == [None, 2.0]
    # tests were ordered at t-1 but none linked: the revision cannot be measured (None removes nothing);
    # no test ordered at all: an unsupported revision (cap + 1)
    assert rac_series(changed, [[], []], hop_to_tests, CAP, ordered=[2, 0]) == [None, None]
    assert rac_series(changed, [[], []], hop_to_tests, CAP, ordered=[0, 0]) == [None, 9.0]
    assert rac_removed([None, None], 2, 3.0) == set()


def test_rac_can_remove_the_first_turn() -> None:
    assert prune([3, 2], [None, 9.0], 3.0) == ((2,), "truncated")
    assert prune([1, 1], [None, 0.0], 3.0) == ((1, 2), "kept")


def test_turn_differential_final_turn_commits() -> None:
    t = Turn(differential=(Hypothesis("pneumonia", 0.6), Hypothesis("bronchitis", 0.4)),
             final_diagnosis="Bronchitis")
    assert turn_differential(t) == ["Bronchitis", "pneumonia", "bronchitis"]
    assert turn_differential(Turn(differential=(Hypothesis("a"), Hypothesis(" a "), Hypothesis("")))) == ["a"]
    assert turn_differential(Turn()) == []


def _st(n: int, verdict: str, kept: tuple[int, ...]) -> ScoredTrajectory:
    nodes = tuple(Node(tree_id="t", node_id=f"r0{'.0' * i}", parent_id=None, depth=i + 1, policy_id="p", seed=0,
                       turn=Turn()) for i in range(n))
    return ScoredTrajectory(trajectory=Trajectory(case_id="c", policy_id="p", nodes=nodes, stop="final"),
                            kept_turns=kept, verdict=verdict)  # type: ignore[arg-type]


def test_filters_and_retention() -> None:
    dtc, rac = [3, 2, 4, 5], [None, 0.0, 0.0, 0.0]
    assert get_filter("none")(dtc, rac, False, 3.0) == ((1, 2, 3, 4), "kept")
    assert get_filter("correctness")(dtc, rac, False, 3.0) == ((), "discarded")
    assert get_filter("correctness")(dtc, rac, True, 3.0) == ((1, 2, 3, 4), "kept")
    assert get_filter("dtc+rac")(dtc, rac, True, 3.0) == ((1, 2), "truncated")
    with pytest.raises(KeyError, match="unknown filter"):
        get_filter("best")
    stats = retention([_st(4, "kept", (1, 2, 3, 4)), _st(4, "truncated", (1, 2)), _st(2, "discarded", ())])
    assert stats["trajectories"] == 3 and stats["kept"] == 1 and stats["truncated"] == 1
    assert stats["trajectory_retention"] == pytest.approx(2 / 3)
    assert stats["turn_retention"] == pytest.approx(6 / 10)
