"""TreeScheduler on hand-drawn trees: ids, priority, eager branches, fallbacks, relane/requeue, determinism."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from medaction.policies.types import Hypothesis, Turn
from medaction.tree.branching import MaxEntropy, UniformDepth, build_strategy, differential_entropy
from medaction.tree.scheduler import TreeScheduler, TreeSpec
from medaction.tree.seeds import node_seed
from medaction.tree.tree import NodeTask, tree_id_for
from medaction.tree.types import Node


def _node(task: NodeTask, diff: Sequence[float] = (0.5, 0.5)) -> Node:
    turn = Turn(differential=tuple(Hypothesis(f"d{i}", c) for i, c in enumerate(diff)))
    return Node(tree_id=task.tree_id, node_id=task.node_id, parent_id=task.parent_id, depth=task.depth,
                policy_id=task.policy_id, seed=task.seed, turn=turn)


def _drive(sched: TreeScheduler, lengths: dict[str, int], diffs: dict[str, Sequence[float]] | None = None,
           lane: object = 0, order: str = "priority", rng: random.Random | None = None):
    """Run every task to completion. `lengths[line]` = turns before that line stops (default 2)."""
    popped, lines, done = [], [], []
    pending = []
    while True:
        item = sched.pop(lane)
        if item is not None:
            pending.append(item)
        if item is None or order == "random":
            if not pending:
                break
            if order == "random" and item is not None and rng.random() < 0.5:
                continue
            task, state = pending.pop(rng.randrange(len(pending)) if order == "random" else 0)
            popped.append(task)
            n = lengths.get(task.line, 2)
            steps_in_line = task.step - (1 if ".b" in task.line else 0) + 1
            stop = "final" if steps_in_line >= n else None
            res = sched.complete(task, _node(task, (diffs or {}).get(task.node_id, (0.5, 0.5))), state + 1, stop)
            lines.extend(res.lines)
            if res.tree_done:
                done.append(task.tree_id)
    return popped, lines, done


def test_node_seed_stable_and_field_separated() -> None:
    assert node_seed(1, "c", "p", "r0") == node_seed(1, "c", "p", "r0")
    assert node_seed(1, "c", "p", "r0") != node_seed(2, "c", "p", "r0")
    assert node_seed(1, "ab", "c", "r0") != node_seed(1, "a", "bc", "r0")
    assert 0 <= node_seed(7, "x", "y", "r1.2.b0.1") < 2**63


class PlanAt:
    """Hand-drawn eager plan: branch from (root, depth) points."""

    name = "plan"

    def __init__(self, points):
        self.points = tuple(points)

    def plan(self, k, max_turns, b, rng):
        return self.points

    def choose(self, lines, b, rng):
        return UniformDepth().choose(lines, b, rng)


def test_ids_paths_and_eager_branch() -> None:
    # root r0: 4 turns, r1: 3 turns; branch planned at (root 1, depth 2) -> line "r1.1.b0" (3 more turns)
    sched: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=2, b=1, max_turns=8),
                                              strategy=PlanAt([(1, 2)]))
    sched.add_tree(case_id="c1", policy_id="p", root_state=0)
    popped, lines, done = _drive(sched, {"r0": 4, "r1": 3, "r1.1.b0": 3})
    ids = [t.node_id for t in popped]
    assert set(ids) == {"r0", "r0.1", "r0.2", "r0.3", "r1", "r1.1", "r1.2", "r1.1.b0.1", "r1.1.b0.2", "r1.1.b0.3"}
    paths = sorted(tuple(n.node_id for n in fl.trajectory.nodes) for fl in lines)
    assert paths == [("r0", "r0.1", "r0.2", "r0.3"), ("r1", "r1.1", "r1.1.b0.1", "r1.1.b0.2", "r1.1.b0.3"),
                     ("r1", "r1.1", "r1.2")]
    br = next(fl for fl in lines if fl.line == "r1.1.b0")
    assert [n.depth for n in br.trajectory.nodes] == [1, 2, 3, 4, 5]
    assert br.trajectory.nodes[2].parent_id == "r1.1"
    assert done == ["p::c1"] and sched.active_trees == 0
    # the branch is queued the moment r1.1 completes: before r1.2 runs would need deeper-first; it is depth 3,
    # same as r1.2, so it runs right after r1.1's child rather than after the roots finish
    assert ids.index("r1.1.b0.1") < ids.index("r0.3")
    # seeds are the path hash
    assert all(t.seed == node_seed(0, "c1", "p", t.node_id) for t in popped)


def test_deeper_first_then_older_tree() -> None:
    sched: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=1, b=0))
    sched.add_tree(case_id="a", policy_id="p", root_state=0)
    sched.add_tree(case_id="b", policy_id="p", root_state=0)
    t_a, s = sched.pop()
    assert t_a.case_id == "a"  # same depth: older tree first
    sched.complete(t_a, _node(t_a), 1, None)
    t2, _ = sched.pop()
    assert (t2.case_id, t2.depth) == ("a", 2)  # deeper beats tree b's root


def test_planned_depth_not_reached_falls_back_within_line() -> None:
    # plan wants root 0 depth 5 but r0 stops at turn 3: branch from one of r0, r0.1 (intermediate nodes)
    sched: TreeScheduler[int] = TreeScheduler(run_seed=3, spec=TreeSpec(k=1, b=1), strategy=PlanAt([(0, 5)]))
    sched.add_tree(case_id="c", policy_id="p", root_state=0)
    _, lines, done = _drive(sched, {"r0": 3})
    branch = [fl for fl in lines if ".b" in fl.line]
    assert len(branch) == 1 and branch[0].line in {"r0.b0", "r0.1.b0"}
    assert done == ["p::c"]


def test_no_branch_when_root_stops_at_turn_one() -> None:
    sched: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=1, b=1), strategy=PlanAt([(0, 1)]))
    sched.add_tree(case_id="c", policy_id="p", root_state=0)
    _, lines, done = _drive(sched, {"r0": 1})
    assert [fl.line for fl in lines] == ["r0"] and done == ["p::c"]


def test_max_entropy_waits_for_roots_and_picks_flattest() -> None:
    diffs = {"r0": (0.9, 0.1), "r0.1": (0.5, 0.5), "r1": (0.34, 0.33, 0.33), "r1.1": (1.0,)}
    sched: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=2, b=1, width=2), strategy=MaxEntropy())
    sched.add_tree(case_id="c", policy_id="p", root_state=0)
    popped, lines, done = _drive(sched, {"r0": 3, "r1": 3, "r1.b0": 1, "r1.b1": 1}, diffs)
    assert sorted(fl.line for fl in lines if ".b" in fl.line) == ["r1.b0", "r1.b1"]  # width 2 from r1
    first_branch = [t.node_id for t in popped].index("r1.b0.1")
    assert all(t.line in ("r0", "r1") for t in popped[:first_branch])  # launched only after both roots
    assert differential_entropy(_node(popped[0], (0.5, 0.5))) == pytest.approx(0.6931, abs=1e-3)
    assert done == ["p::c"]


def test_function_strategy_from_import_path_and_validation(tmp_path, monkeypatch) -> None:
    (tmp_path / "mybranch.py").write_text(
        "def deepest(lines, b, rng):\n"
        "    c = [n for line in lines for n in line[:-1]]\n"
        "    return [max(c, key=lambda n: n.depth).node_id] if c else []\n"
        "def leaf(lines, b, rng):\n    return [lines[0][-1].node_id]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sched: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=1, b=1),
                                              strategy=build_strategy("function", "mybranch:deepest"))
    sched.add_tree(case_id="c", policy_id="p", root_state=0)
    _, lines, _ = _drive(sched, {"r0": 4})
    assert sorted(fl.line for fl in lines) == ["r0", "r0.2.b0"]
    bad: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=1, b=1),
                                            strategy=build_strategy("function", "mybranch:leaf"))
    bad.add_tree(case_id="c", policy_id="p", root_state=0)
    with pytest.raises(ValueError, match="non-intermediate"):
        _drive(bad, {"r0": 2})
    with pytest.raises(ValueError, match="package.module:function"):
        build_strategy("function", "nocolon")


def test_same_trajectory_set_in_any_completion_order() -> None:
    def run(order: str, seed: int) -> set[tuple[str, ...]]:
        sched: TreeScheduler[int] = TreeScheduler(run_seed=11, spec=TreeSpec(k=3, b=2, max_turns=8))
        for c in ("c1", "c2", "c3"):
            sched.add_tree(case_id=c, policy_id="p", root_state=0)
        lengths = {"r0": 5, "r1": 8, "r2": 2}
        _, lines, done = _drive(sched, lengths, order=order, rng=random.Random(seed))
        assert sorted(done) == ["p::c1", "p::c2", "p::c3"]
        return {(fl.tree_id, *(n.node_id for n in fl.trajectory.nodes)) for fl in lines}

    ref = run("priority", 0)
    assert len(ref) == 3 * 5  # 3 roots + 2 branches per tree
    assert run("random", 1) == ref and run("random", 2) == ref


def test_relane_and_requeue() -> None:
    sched: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=2, b=0))
    sched.add_tree(case_id="a", policy_id="p", root_state=0, lane="x")
    sched.add_tree(case_id="b", policy_id="p", root_state=0, lane="y")
    task, st = sched.pop("x")
    sched.requeue(task, st)  # lost run comes back
    assert sched.queued("x") == 2 and sched.running == 0
    assert sched.relane("x", lambda case: "y") == 2
    assert sched.queued("x") == 0 and sched.queued("y") == 4 and sched.lane_of("p::a") == "y"
    with pytest.raises(ValueError, match="already active"):
        sched.add_tree(case_id="a", policy_id="p", root_state=0)


def test_complete_twice_is_an_error() -> None:
    sched: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=1, b=0))
    sched.add_tree(case_id="a", policy_id="p", root_state=0)
    task, st = sched.pop()
    sched.complete(task, _node(task), 1, "final")
    with pytest.raises(KeyError, match="completed twice"):
        sched.complete(task, _node(task), 1, "final")


def test_failed_call_ends_line_at_parent_with_stop_reason() -> None:
    sched: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=2, b=0))
    sched.add_tree(case_id="c", policy_id="p", root_state=0)
    lines = []
    t, s = sched.pop()
    lines += sched.complete(t, _node(t), 1, None).lines  # r0 ok
    t, s = sched.pop()  # r0.1 (deeper) -> fails without a turn
    assert t.node_id == "r0.1"
    lines += sched.complete(t, None, s, "timeout", "TimeoutError: slow").lines
    t, s = sched.pop()  # r1 fails at turn 1: an empty trajectory, still written with its stop
    res = sched.complete(t, None, s, "policy_error", "boom")
    lines += res.lines
    assert res.tree_done
    got = {fl.line: (tuple(n.node_id for n in fl.trajectory.nodes), fl.trajectory.stop, fl.trajectory.error)
           for fl in lines}
    assert got == {"r0": (("r0",), "timeout", "TimeoutError: slow"), "r1": ((), "policy_error", "boom")}
    with pytest.raises(ValueError, match="stop reason"):
        s2: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=1, b=0))
        s2.add_tree(case_id="c", policy_id="p", root_state=0)
        t, st = s2.pop()
        s2.complete(t, None, st, None)


def test_critical_priority_runs_shallow_nodes_first_and_switches_back() -> None:
    """Once no trees arrive any more, `critical` pops the longest remaining chains (shallowest nodes) first."""
    s: TreeScheduler = TreeScheduler(run_seed=0, spec=TreeSpec(k=1, b=0, max_turns=8))
    s.add_tree(case_id="old", policy_id="p", root_state="s0")
    task, _ = s.pop()
    s.complete(task, _node(task), "s1", None)  # old tree: its depth-2 node is queued
    s.add_tree(case_id="new", policy_id="p", root_state="s0")  # new tree: a depth-1 root
    s.set_priority("critical")
    first, _ = s.pop()
    assert (first.depth, first.tree_id) == (1, tree_id_for("new", "p"))
    s.requeue(first, "s0")
    s.set_priority("deep")
    first, _ = s.pop()
    assert first.depth == 2
    with pytest.raises(ValueError, match="priority"):
        s.set_priority("shallow")


def test_steal_takes_from_the_busiest_other_lane_only_when_it_has_a_backlog() -> None:
    s: TreeScheduler[int] = TreeScheduler(run_seed=0, spec=TreeSpec(k=3, b=0))
    s.add_tree(case_id="a", policy_id="p", root_state=0, lane="x")  # 3 queued roots on x
    s.add_tree(case_id="b", policy_id="p", root_state=0, lane="y")  # 3 on y
    s.add_tree(case_id="c", policy_id="p", root_state=0, lane="y")  # 6 on y
    task, _ = s.steal("z", ["x", "y", "z"])
    assert task.tree_id in {tree_id_for("b", "p"), tree_id_for("c", "p")} and s.queued("y") == 5
    assert s.running == 1  # a stolen node is running like any popped one
    assert s.steal("y", ["y"]) is None  # no other lane
    while s.queued("x") > 1:
        s.pop("x")
    assert s.steal("y", ["x", "y"]) is None  # one queued node: left to its own lane
    assert s.steal("z", ["x", "y", "z"], min_queued=6) is None and s.queued("y") == 5
