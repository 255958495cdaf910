"""Gold trajectories -> parquet shards + manifest, in the engine's shard format (rows with origin="gold").

Uses the engine's `ShardWriterImpl` (whole shards under unique names, a commit record after each, `--resume` skips
trees already recorded), so the trainer reads gold rows exactly like rollout rows and can mix them in. The scorer is any
registered one (`identity` keeps every turn; `kg` scores DTC/RAC like rollouts). No Ray needed: the gold plan is
deterministic and cheap; with a narrator LLM the calls go through its Policy like any other.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from pathlib import Path

from medaction.actors.writer import ShardWriterImpl
from medaction.stage1.gold import GOLD_POLICY_ID, gold_trajectory
from medaction.envs.types import Environment
from medaction.policies.base import Policy
from medaction.scoring.base import Scorer
from medaction.scoring.rows import to_row
from medaction.tree.tree import tree_id_for

GOLD_VERSION = "gold-v1"  # bump when the plan or its text changes: it enters the manifest's config hash


def gold_config_hash(*, max_turns: int, scorer: str, narrator: str) -> str:
    key = f"{GOLD_VERSION}|max_turns={max_turns}|scorer={scorer}|narrator={narrator}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


async def _write(
    envs: Iterable[Environment], writer: ShardWriterImpl, scorer: Scorer, *, max_turns: int, seed: int,
    narrator: Policy | None,
) -> int:
    done = set(writer.done_trees())
    n = 0
    for env in envs:
        if tree_id_for(env.case_id, GOLD_POLICY_ID) in done:
            continue
        traj = await gold_trajectory(env, max_turns=max_turns, seed=seed, narrator=narrator)
        writer.write_tree(traj.tree_id, to_row(scorer.score(traj, env), origin="gold"))
        done.add(traj.tree_id)
        n += 1
    return n


def write_gold_shards(
    envs: Iterable[Environment],
    out_dir: str | Path,
    scorer: Scorer,
    *,
    max_turns: int = 8,
    seed: int = 0,
    resume: bool = False,
    rows_per_shard: int = 2000,
    narrator: Policy | None = None,
    narrator_id: str = "",
) -> dict[str, object]:
    """Write one gold trajectory per environment; returns the writer's summary plus `written`."""
    writer = ShardWriterImpl(
        str(out_dir), gold_config_hash(max_turns=max_turns, scorer=scorer.name, narrator=narrator_id),
        rows_per_shard=rows_per_shard, resume=resume,
    )
    written = asyncio.run(_write(envs, writer, scorer, max_turns=max_turns, seed=seed, narrator=narrator))
    return {**writer.close(complete=True), "written": written}
