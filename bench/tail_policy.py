"""Tail policies under a virtual clock: the real TreeScheduler, the engine bench's workload, no Ray, no sleeping.

Why: `engine_overhead.py` takes minutes per run and measures one instance; the order in which the scheduler runs
nodes near the end decides most of the gap to the ideal, and that gap varies a lot between instances. This model
replays the same workload shape (1,000 trees, K=3 + 1 uniform branch, the sim's commit hazard, exponential
completion lengths, replicas x slots FIFO servers, the driver's per-replica in-flight cap and tail stealing) on
several seeded instances in seconds, so tail policies can be compared on the same instances. Each node's service
time and commit draw depend only on (instance, tree, node id), never on the order things ran.

Also prints the non-clairvoyant floor (in expectation) E[makespan] >= work / capacity + mean x (H_capacity - 1).

    python bench/tail_policy.py [--instances 8] [--per-replica 32] [--policies deep,critical,always]
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import math
import statistics
import sys
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _capacity import default_in_flight, nonclairvoyant_floor  # noqa: E402

from medaction.policies.backends.sim import SimConfig, commit_probability  # noqa: E402
from medaction.policies.types import Turn  # noqa: E402
from medaction.tree.scheduler import TreeScheduler, TreeSpec  # noqa: E402
from medaction.tree.tree import NodeTask  # noqa: E402
from medaction.tree.types import Node  # noqa: E402


def _unit(*key: object) -> float:
    h = hashlib.blake2b(":".join(map(str, key)).encode(), digest_size=8).digest()
    return (int.from_bytes(h, "little") + 0.5) / 2**64


def simulate(policy: str, instance: int, *, trees: int = 1000, k: int = 3, max_turns: int = 8, replicas: int = 4,
             slots: int = 32, in_flight: int = 40, max_active: int = 0, mean_s: float = 2.5, steal: bool = True,
             sim: SimConfig = SimConfig()) -> tuple[float, float, float]:
    """Returns (makespan, work / capacity, longest chain) in virtual seconds."""
    sched: TreeScheduler[float] = TreeScheduler(run_seed=instance, spec=TreeSpec(k=k, b=1, max_turns=max_turns))
    max_active = max_active or 4 * replicas * in_flight  # the driver's default
    loads = [0] * replicas
    lane_of: dict[str, int] = {}
    sent = [0] * replicas  # driver-side in flight per replica (server queue + running)
    waiting: list[deque[tuple[NodeTask, float]]] = [deque() for _ in range(replicas)]
    running = [0] * replicas
    events: list[tuple[float, int, int, NodeTask, float, float]] = []
    admitted, now, work, chain, tie = 0, 0.0, 0.0, 0.0, 0
    exhausted = False
    if policy == "always":
        sched.set_priority("critical")

    def admit() -> None:
        nonlocal admitted, exhausted
        while not exhausted and sched.active_trees < max_active:
            if admitted == trees:
                exhausted = True
                if policy != "deep":
                    sched.set_priority("critical")
                return
            case = f"c{admitted}"
            admitted += 1
            r = min(range(replicas), key=lambda i: loads[i])  # sticky, least loaded on first sight
            loads[r] += 1
            lane_of[sched.add_tree(case_id=case, policy_id="sim", root_state=0.0, lane=r)] = r

    def dispatch() -> None:
        nonlocal tie
        for r in range(replicas):
            while sent[r] < in_flight:
                item = sched.pop(r)
                if item is None and exhausted and steal:
                    item = sched.steal(r, range(replicas))
                if item is None:
                    break
                sent[r] += 1
                waiting[r].append(item)
            while running[r] < slots and waiting[r]:
                task, acc = waiting[r].popleft()
                s = -mean_s * math.log(_unit(instance, task.tree_id, task.node_id, "s"))
                running[r] += 1
                tie += 1
                heapq.heappush(events, (now + s, tie, r, task, acc + s, s))

    admit()
    dispatch()
    while events:
        now, _, r, task, acc, s = heapq.heappop(events)
        running[r] -= 1
        sent[r] -= 1
        work += s
        commit = task.depth >= max_turns or _unit(instance, task.tree_id, task.node_id, "c") < commit_probability(
            sim, task.depth - 1)
        node = Node(tree_id=task.tree_id, node_id=task.node_id, parent_id=task.parent_id, depth=task.depth,
                    policy_id="sim", seed=task.seed, turn=Turn())
        res = sched.complete(task, node, acc, "final" if commit else None)
        if res.lines:
            chain = max(chain, acc)
        if res.tree_done:
            loads[lane_of.pop(task.tree_id)] -= 1
        admit()
        dispatch()
    return now, work, chain


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=8)
    ap.add_argument("--trees", type=int, default=1000)
    ap.add_argument("--per-replica", type=int, default=32)
    ap.add_argument("--mean-s", type=float, default=2.5, help="mean service time (sim: 250 tokens x 0.02 s x 0.5)")
    ap.add_argument("--policies", default="deep,critical,always")
    a = ap.parse_args()
    cap = 4 * a.per_replica
    in_flight = default_in_flight(a.per_replica)
    for policy in a.policies.split(","):
        ratios, floors = [], []
        for i in range(a.instances):
            wall, work, chain = simulate(policy, i, trees=a.trees, slots=a.per_replica, in_flight=in_flight,
                                         mean_s=a.mean_s)
            ideal = max(work / cap, chain)
            ratios.append(wall / ideal)
            floors.append(nonclairvoyant_floor(work, cap, a.mean_s, chain) / ideal)
        print(f"{policy:9s} wall/ideal mean {statistics.mean(ratios):.3f} (min {min(ratios):.3f}, max "
              f"{max(ratios):.3f}); non-clairvoyant floor mean {statistics.mean(floors):.3f}")


if __name__ == "__main__":
    main()
