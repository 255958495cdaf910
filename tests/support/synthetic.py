"""Synthetic scored shards in the real row schema (tests and the throughput bench, before/without an engine run).

Rows are made with the shared `rows.to_row` / `rows.to_table`, so they are exactly what the engine writes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq

from medaction.envs.types import OracleReply
from medaction.policies.types import Hypothesis, Message, Turn
from medaction.scoring.rows import to_row, to_table
from medaction.scoring.types import ScoredTrajectory
from medaction.tree.types import Node, Trajectory

DISEASES = ["pneumonia", "myocarditis", "appendicitis", "migraine", "anemia", "gout", "asthma", "lupus"]
TESTS = ["CBC", "chest x-ray", "troponin", "CT abdomen", "ESR", "uric acid", "spirometry", "ANA"]


def _turn_text(dx: str, test: str, t: int, final: bool) -> str:
    if final:
        return f"The findings fit {dx}.\n" + json.dumps({"final_diagnosis": dx, "differential": [
            {"diagnosis": dx, "confidence": 0.9}]})
    return f"Turn {t}: {dx} is likely; order {test}.\n" + json.dumps(
        {"differential": [{"diagnosis": dx, "confidence": 0.6}], "pivot": f"confirm {dx}", "tests": [test]})


def trajectory(case: int, policy_id: str, *, n_turns: int = 3, mode: str = "structured", branch: bool = False,
               seed: int = 0) -> Trajectory:
    rng = random.Random(f"{case}|{policy_id}|{seed}")
    dx = DISEASES[case % len(DISEASES)]
    o1 = f"Case {case}: a {20 + case % 50}-year-old with symptoms suggesting {dx}."
    nodes, record, node_id = [], [], f"r{seed}"
    for t in range(1, n_turns + 1):
        test = rng.choice(TESTS)
        msgs = [Message("system", "You are a diagnostician. Order tests, then commit to a diagnosis."),
                Message("user", o1 + "\n" + "\n".join(record) + f"\nTurn {t}: answer with JSON.")]
        final = t == n_turns
        raw = _turn_text(dx, test, t, final)
        replies = () if final else (OracleReply(request=test, matched=(test,), result=f"{test}: abnormal",
                                                available=True),)
        turn = Turn(differential=(Hypothesis(dx, 0.6),), tests=() if final else (test,),
                    final_diagnosis=dx if final else None, raw=raw)
        parent = node_id if t > 1 else None
        node_id = node_id if t == 1 else f"{node_id}{'.b0' if branch and t == 2 else ''}.{t - 1}"
        nodes.append(Node(tree_id=f"tree-{case}-{policy_id}", node_id=node_id, parent_id=parent, depth=t,
                          policy_id=policy_id, seed=rng.randrange(2**31), turn=turn, replies=replies,
                          messages=tuple(msgs), mode=mode))
        record.append(f"{test}: abnormal")
    return Trajectory(case_id=f"case-{case}", policy_id=policy_id, nodes=tuple(nodes), stop="final",
                      tree_id=f"tree-{case}-{policy_id}", mode=mode)


def scored(traj: Trajectory, *, kept: tuple[int, ...] | None = None, correct: bool = True) -> ScoredTrajectory:
    n = len(traj.nodes)
    kept = tuple(range(1, n + 1)) if kept is None else kept
    verdict = "discarded" if not kept else ("kept" if len(kept) == n else "truncated")
    return ScoredTrajectory(trajectory=traj, dtc=tuple(range(n, 0, -1)), rac=(None,) + (1.0,) * (n - 1),
                            kept_turns=kept, verdict=verdict, correct=correct, graph="synthetic", scorer="identity")


def write_shard(path: str | Path, items: list[ScoredTrajectory], origin: str = "rollout") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(to_table([to_row(s, origin=origin) for s in items]), path)
    return path


def synthetic_shards(out_dir: str | Path, n_cases: int = 16, *, n_turns: int = 3,
                     teachers: tuple[str, ...] = ("teacher-a",), n_shards: int = 2) -> list[Path]:
    """Every case x teacher: one kept structured trajectory; every 4th case also a free-form one."""
    items = []
    for c in range(n_cases):
        for p in teachers:
            items.append(scored(trajectory(c, p, n_turns=n_turns)))
            if c % 4 == 0:
                items.append(scored(trajectory(c, p, n_turns=n_turns, mode="free", seed=1)))
    per = -(-len(items) // n_shards)
    return [write_shard(Path(out_dir) / f"shard-{i:05d}.parquet", items[i * per : (i + 1) * per])
            for i in range(n_shards)]
