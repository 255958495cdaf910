"""TreeScheduler: pure logic deciding what runs next across every active tree (no Ray, no I/O, no clock).

One continuous priority queue per lane (a lane is whatever the caller routes by, e.g. a policy replica): deeper
nodes first (bounds memory and finishes trees early so rows stream out), then older trees, then node id. Once no
new trees will arrive, the caller may switch to `critical` priority: shallower nodes first, i.e. the longest
remaining chain first, so the trees admitted last do not run their whole chain alone in the tail (makespan). There is no barrier per turn or per
tree: a node's child is queued the moment it completes, and a branch the moment its launch node completes (eager
strategies) or the moment the last root line finishes (strategies that need every candidate).

The loop state that a node starts from is opaque here (`S`): the caller passes the post-turn state on completion
and gets it back with the child's task.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

import msgspec

from medaction.tree.branching import BranchStrategy, UniformDepth
from medaction.tree.seeds import node_seed
from medaction.tree.tree import (
    FinishedLine,
    NodeTask,
    branch_line,
    first_step,
    is_branch_line,
    make_trajectory,
    node_id,
    root_line,
    tree_id_for,
)
from medaction.tree.types import Node, StopReason

S = TypeVar("S")
Lane = Hashable


class TreeSpec(msgspec.Struct, frozen=True, kw_only=True):
    k: int = 3  # root rollouts per case per teacher (paper appendix C)
    b: int = 1  # branch launch points per tree
    width: int = 1  # continuations started at each launch point
    max_turns: int = 8

    def __post_init__(self) -> None:
        if self.k < 1 or self.b < 0 or self.width < 1 or self.max_turns < 1:
            raise ValueError(f"tree: need k >= 1, b >= 0, width >= 1, max_turns >= 1; got {self}")


class Completed(msgspec.Struct, frozen=True, kw_only=True):
    lines: tuple[FinishedLine, ...] = ()
    tree_done: bool = False


class _Tree(Generic[S]):
    __slots__ = (
        "tree_id", "case_id", "policy_id", "mode", "seq", "lane", "nodes", "states", "open_lines",
        "root_lines", "roots_done", "points", "decided",
    )

    def __init__(self, tree_id: str, case_id: str, policy_id: str, mode: str, seq: int, lane: Lane) -> None:
        self.tree_id, self.case_id, self.policy_id, self.mode, self.seq, self.lane = (
            tree_id, case_id, policy_id, mode, seq, lane)
        self.nodes: dict[str, Node] = {}
        self.states: dict[str, S] = {}  # post-turn states of nodes a branch may still start from
        self.open_lines = 0
        self.root_lines: dict[int, list[str]] = {}
        self.roots_done = 0
        self.points: dict[int, tuple[int, int]] = {}  # planned branch points not yet launched: i -> (root, depth)
        self.decided = False  # branch points settled (planned ones resolved or `choose` called)


class TreeScheduler(Generic[S]):
    def __init__(self, *, run_seed: int, spec: TreeSpec = TreeSpec(), strategy: BranchStrategy | None = None) -> None:
        self.run_seed = run_seed
        self.spec = spec
        self.strategy = strategy or UniformDepth()
        self._trees: dict[str, _Tree[S]] = {}
        self._heaps: dict[Lane, list[tuple[tuple[int, int, str], int, NodeTask, S]]] = {}
        self._tie = itertools.count()
        self._seq = itertools.count()
        self._running: dict[tuple[str, str], NodeTask] = {}
        self._priority = "deep"

    # ---- admission -----------------------------------------------------------------------------------------
    def add_tree(self, *, case_id: str, policy_id: str, root_state: S, lane: Lane = 0, mode: str = "structured") -> str:
        tid = tree_id_for(case_id, policy_id)
        if tid in self._trees:
            raise ValueError(f"tree {tid} is already active")
        tree: _Tree[S] = _Tree(tid, case_id, policy_id, mode, next(self._seq), lane)
        self._trees[tid] = tree
        spec = self.spec
        planned = self.strategy.plan(spec.k, spec.max_turns, spec.b, self._rng(tree, "#plan")) if spec.b else ()
        if planned is not None:
            tree.points = dict(enumerate(planned))
            tree.decided = not tree.points
        for k in range(spec.k):
            line = root_line(k)
            tree.root_lines[k] = []
            self._push_line(tree, line, parent=None, depth=1, state=root_state)
        return tid

    # ---- dispatch ------------------------------------------------------------------------------------------
    def set_priority(self, priority: str) -> None:
        """`deep` (default: deeper first) or `critical` (shallower first = longest remaining chain first)."""
        if priority not in ("deep", "critical"):
            raise ValueError(f"priority must be 'deep' or 'critical', got {priority!r}")
        if priority == self._priority:
            return
        self._priority = priority
        for lane, heap in self._heaps.items():
            self._heaps[lane] = [(self._key(self._trees[t.tree_id], t), tie, t, st) for _, tie, t, st in heap]
            heapq.heapify(self._heaps[lane])

    def pop(self, lane: Lane = 0) -> tuple[NodeTask, S] | None:
        heap = self._heaps.get(lane)
        if not heap:
            return None
        _, _, task, state = heapq.heappop(heap)
        self._running[(task.tree_id, task.node_id)] = task
        return task, state

    def steal(self, own: Lane, lanes: Iterable[Lane], *, min_queued: int = 2) -> tuple[NodeTask, S] | None:
        """Pop from the busiest lane other than `own` (tail work stealing), if it holds at least `min_queued`
        nodes: a single queued node will be served soon by its own lane anyway, without losing cache locality."""
        victim = max((ln for ln in lanes if ln != own), key=self.queued, default=None)
        if victim is None or self.queued(victim) < min_queued:
            return None
        return self.pop(victim)

    def requeue(self, task: NodeTask, state: S) -> None:
        """The run of `task` was lost (its replica died): queue it again, on the tree's current lane."""
        self._running.pop((task.tree_id, task.node_id), None)
        self._push(self._trees[task.tree_id], task, state)

    def relane(self, lane: Lane, assign: Callable[[str], Lane]) -> int:
        """Move every tree on `lane` (and its queued nodes) to `assign(case_id)`; returns queued nodes moved."""
        for tree in self._trees.values():
            if tree.lane == lane:
                tree.lane = assign(tree.case_id)
        moved = self._heaps.pop(lane, [])
        for _, _, task, state in moved:
            self._push(self._trees[task.tree_id], task, state)
        return len(moved)

    def lane_of(self, tree_id: str) -> Lane:
        return self._trees[tree_id].lane

    # ---- completion ----------------------------------------------------------------------------------------
    def complete(self, task: NodeTask, node: Node | None, state: S, stop: StopReason | None,
                 error: str = "") -> Completed:
        """Record a finished run of `task`. `node` is None when the call failed without a turn (policy_error,
        timeout): the line then ends at the parent, and the trajectory keeps the stop reason and the error."""
        if self._running.pop((task.tree_id, task.node_id), None) is None:
            raise KeyError(f"node {task.tree_id}/{task.node_id} was not running (completed twice?)")
        tree = self._trees[task.tree_id]
        root_k = None if is_branch_line(task.line) else int(task.line[1:])
        if node is None:
            if stop is None:
                raise ValueError(f"node {task.node_id}: no turn needs a stop reason")
        else:
            if node.node_id != task.node_id:
                raise ValueError(f"node id {node.node_id!r} does not match task {task.node_id!r}")
            tree.nodes[node.node_id] = node
            if root_k is not None:
                tree.root_lines[root_k].append(node.node_id)
            if stop is None and task.depth >= self.spec.max_turns:
                stop = "max_turns"  # defensive: the loop should have said so
        finished: list[FinishedLine] = []
        if stop is None and node is not None:
            if root_k is not None and not tree.decided:
                tree.states[node.node_id] = state
            self._push_line(tree, task.line, parent=node.node_id, depth=task.depth + 1, state=state,
                            step=task.step + 1)
            if root_k is not None:
                self._launch_planned(tree, root_k, node)
        else:
            assert stop is not None
            leaf = node.node_id if node is not None else task.parent_id
            finished.append(self._finish_line(tree, task.line, leaf, stop, error))
            if root_k is not None:
                tree.roots_done += 1
                self._resolve_after_root(tree, root_k)
        done = tree.open_lines == 0 and tree.decided
        if done:
            del self._trees[tree.tree_id]
        return Completed(lines=tuple(finished), tree_done=done)

    # ---- introspection -------------------------------------------------------------------------------------
    @property
    def active_trees(self) -> int:
        return len(self._trees)

    @property
    def running(self) -> int:
        return len(self._running)

    def queued(self, lane: Lane | None = None) -> int:
        if lane is not None:
            return len(self._heaps.get(lane, ()))
        return sum(len(h) for h in self._heaps.values())

    # ---- internals -----------------------------------------------------------------------------------------
    def _rng(self, tree: _Tree[S], salt: str) -> random.Random:
        return random.Random(node_seed(self.run_seed, tree.case_id, tree.policy_id, salt))

    def _key(self, tree: _Tree[S], task: NodeTask) -> tuple[int, int, str]:
        depth = -task.depth if self._priority == "deep" else task.depth
        return (depth, tree.seq, task.node_id)

    def _push(self, tree: _Tree[S], task: NodeTask, state: S) -> None:
        heapq.heappush(self._heaps.setdefault(tree.lane, []), (self._key(tree, task), next(self._tie), task, state))

    def _push_line(self, tree: _Tree[S], line: str, *, parent: str | None, depth: int, state: S,
                   step: int | None = None) -> None:
        step = first_step(line) if step is None else step
        if step == first_step(line):
            tree.open_lines += 1
        nid = node_id(line, step)
        task = NodeTask(
            tree_id=tree.tree_id, case_id=tree.case_id, policy_id=tree.policy_id, line=line, step=step,
            node_id=nid, parent_id=parent, depth=depth,
            seed=node_seed(self.run_seed, tree.case_id, tree.policy_id, nid), mode=tree.mode,
        )
        self._push(tree, task, state)

    def _branch_from(self, tree: _Tree[S], point: int, parent: Node, state: S) -> None:
        # the branch index comes from the point's index, never from completion order: same ids on every run
        for x in range(self.spec.width):
            line = branch_line(parent.node_id, point * self.spec.width + x)
            self._push_line(tree, line, parent=parent.node_id, depth=parent.depth + 1, state=state)

    def _launch_planned(self, tree: _Tree[S], root_k: int, node: Node) -> None:
        hits = [i for i, (k, d) in sorted(tree.points.items()) if k == root_k and d == node.depth]
        for i in hits:
            del tree.points[i]
            self._branch_from(tree, i, node, tree.states[node.node_id])
        if hits:
            self._maybe_decided(tree)

    def _resolve_after_root(self, tree: _Tree[S], root_k: int) -> None:
        if tree.decided:
            return
        line = [tree.nodes[n] for n in tree.root_lines[root_k]]
        if tree.points:  # planned points on this root that it never reached: fall back within the line
            for i in [i for i, (k, _) in sorted(tree.points.items()) if k == root_k]:
                del tree.points[i]
                picked = UniformDepth().choose([line], 1, self._rng(tree, f"#fallback{i}"))
                for nid in picked:
                    self._branch_from(tree, i, tree.nodes[nid], tree.states[nid])
            self._maybe_decided(tree)
        elif tree.roots_done == self.spec.k:  # strategy chooses now, with every root line complete
            lines = [[tree.nodes[n] for n in tree.root_lines[k]] for k in range(self.spec.k)]
            picked = self.strategy.choose(lines, self.spec.b, self._rng(tree, "#choose"))
            for i, nid in enumerate(picked):
                self._branch_from(tree, i, tree.nodes[nid], tree.states[nid])
            tree.decided = True
            tree.states.clear()

    def _maybe_decided(self, tree: _Tree[S]) -> None:
        if not tree.points:
            tree.decided = True
            tree.states.clear()

    def _finish_line(self, tree: _Tree[S], line: str, leaf: str | None, stop: StopReason,
                     error: str) -> FinishedLine:
        path: list[Node] = []
        cur: str | None = leaf
        while cur is not None:
            n = tree.nodes[cur]
            path.append(n)
            cur = n.parent_id
        path.reverse()
        tree.open_lines -= 1
        traj = make_trajectory(case_id=tree.case_id, policy_id=tree.policy_id, tree_id=tree.tree_id,
                               mode=tree.mode, nodes=path, stop=stop, error=error)
        return FinishedLine(tree_id=tree.tree_id, line=line, trajectory=traj)
