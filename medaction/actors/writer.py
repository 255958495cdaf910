"""ShardWriter: a Ray actor that buffers finished trees' rows and writes parquet shards (temp name + rename),
updating the manifest after each shard. Rows of one tree always land together, so `trees_done` is exact."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import ray

from medaction.engine import manifest as mf
from medaction.scoring.counts import DecisionCounts
from medaction.scoring.rows import to_table


class ShardWriterImpl:
    """The writer's logic, usable without Ray (tests, the naive bench)."""

    def __init__(self, out_dir: str, config_hash: str, rows_per_shard: int = 2000, resume: bool = False) -> None:
        self.out = Path(out_dir)
        (self.out / mf.SHARDS_DIR).mkdir(parents=True, exist_ok=True)
        old = mf.check_output(self.out, config_hash, resume=resume)
        self.manifest = old or mf.Manifest(config_hash=config_hash)
        self.manifest.complete = False
        self.removed = mf.clean_orphans(self.out, old)
        self.rows_per_shard = max(1, rows_per_shard)
        self._rows: list[dict[str, Any]] = []
        self._trees: list[str] = []
        self._next = len(self.manifest.shards)
        self.counts = DecisionCounts()  # filter decisions of the rows written in this session
        mf.save(self.out, self.manifest)

    def done_trees(self) -> list[str]:
        return list(self.manifest.trees_done)

    def write_tree(self, tree_id: str, *rows: dict[str, Any]) -> int:
        self._rows.extend(rows)
        for r in rows:
            self.counts.add_row(r)
        self._trees.append(tree_id)
        if len(self._rows) >= self.rows_per_shard:
            self.flush()
        return len(rows)

    def flush(self) -> str | None:
        if not self._trees:
            return None
        name = f"part-{self._next:05d}-{os.getpid()}.parquet"
        rel = f"{mf.SHARDS_DIR}/{name}"
        tmp = self.out / mf.SHARDS_DIR / f".{name}.tmp"
        pq.write_table(to_table(self._rows), tmp, compression="zstd")
        os.replace(tmp, self.out / rel)
        self.manifest.shards.append(mf.ShardInfo(file=rel, rows=len(self._rows), trees=len(self._trees)))
        self.manifest.trees_done.extend(self._trees)
        mf.save(self.out, self.manifest)
        self._next += 1
        self._rows, self._trees = [], []
        return rel

    def close(self, complete: bool) -> dict[str, Any]:
        self.flush()
        self.manifest.complete = complete
        mf.save(self.out, self.manifest)
        return {"shards": len(self.manifest.shards), "rows": self.manifest.rows,
                "trees_done": len(self.manifest.trees_done), "orphans_removed": self.removed,
                "scoring": self.counts.report()}


@ray.remote(num_cpus=0)
class ShardWriter(ShardWriterImpl):
    """One writer per run; a sync actor, so writes are applied in submission order."""
