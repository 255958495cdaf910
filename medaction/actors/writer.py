"""ShardWriter: a Ray actor that buffers finished trees' rows and writes parquet shards (temp name + rename),
updating the manifest after each shard. Rows of one tree always land together, so `trees_done` is exact.

On resume it verifies the listed shards and, by default, re-opens the trees that failed (their rows are taken out
of the shards that hold them, by writing a new shard without them) so they are run again (docs/design.md,
"Outputs and resume")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray

from medaction.engine import manifest as mf
from medaction.scoring.counts import DecisionCounts
from medaction.scoring.rows import to_table


class ShardWriterImpl:
    """The writer's logic, usable without Ray (tests, the naive bench)."""

    def __init__(self, out_dir: str, config_hash: str, rows_per_shard: int = 2000, resume: bool = False, *,
                 force_out: bool = False, retry_failed: bool = True) -> None:
        self.out = Path(out_dir)
        old = mf.check_output(self.out, config_hash, resume=resume, force_out=force_out)
        (self.out / mf.SHARDS_DIR).mkdir(parents=True, exist_ok=True)
        self.manifest = old or mf.Manifest(config_hash=config_hash)
        self.manifest.config_hash = config_hash
        self.manifest.complete = False
        self.invalid = mf.verify(self.out, self.manifest) if old is not None else []
        self.removed = mf.clean_orphans(self.out, old)
        self.rows_per_shard = max(1, rows_per_shard)
        self._rows: list[dict[str, Any]] = []
        self._trees: list[str] = []
        self.counts = DecisionCounts()  # filter decisions of the rows written in this session
        self._failed: dict[str, str] = {}
        self._next = self._next_index()
        self.retried = self._reopen_failed() if retry_failed else []
        mf.save(self.out, self.manifest)

    def _next_index(self) -> int:
        used = [int(Path(s.file).name.split("-")[1]) for s in self.manifest.shards
                if Path(s.file).name.startswith("part-")]
        return max(used, default=-1) + 1

    def _reopen_failed(self) -> list[str]:
        """Take failed trees out of the manifest and their rows out of the shards, so they run again."""
        failed = set(self.manifest.trees_failed)
        if not failed:
            return []
        shards: list[mf.ShardInfo] = []
        drop: list[str] = []
        for info in self.manifest.shards:
            if not failed & set(info.tree_ids):
                shards.append(info)
                continue
            table = pq.read_table(self.out / info.file)
            keep = table.filter(pc.invert(pc.is_in(table.column("tree_id"), value_set=pa.array(sorted(failed)))))
            if keep.num_rows:
                shards.append(self._write_shard(keep, [t for t in info.tree_ids if t not in failed]))
            drop.append(info.file)
        self.manifest.shards = shards
        self.manifest.trees_done = [t for t in self.manifest.trees_done if t not in failed]
        self.manifest.trees_failed = {}
        mf.save(self.out, self.manifest)
        for rel in drop:  # ours: listed in the manifest and verified; removed only once the manifest drops them
            (self.out / rel).unlink(missing_ok=True)
        return sorted(failed)

    def done_trees(self) -> list[str]:
        return list(self.manifest.trees_done)

    def write_tree(self, tree_id: str, *rows: dict[str, Any], failed: str = "") -> int:
        """Buffer one finished tree; `failed` is the root cause when one of its trajectories hit a policy error."""
        self._rows.extend(rows)
        for r in rows:
            self.counts.add_row(r)
        self._trees.append(tree_id)
        if failed:
            self._failed[tree_id] = failed
        if len(self._rows) >= self.rows_per_shard:
            self.flush()
        return len(rows)

    def _write_shard(self, table: pa.Table, trees: list[str]) -> mf.ShardInfo:
        name = f"part-{self._next:05d}-{os.getpid()}.parquet"
        rel = f"{mf.SHARDS_DIR}/{name}"
        tmp = self.out / mf.SHARDS_DIR / f".{name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.out / rel)
        self._next += 1
        path = self.out / rel
        return mf.ShardInfo(file=rel, rows=table.num_rows, trees=len(trees), bytes=path.stat().st_size,
                            sha256=mf.file_sha256(path), tree_ids=tuple(trees))

    def flush(self) -> str | None:
        if not self._trees:
            return None
        info = self._write_shard(to_table(self._rows), self._trees)
        self.manifest.shards.append(info)
        self.manifest.trees_done.extend(self._trees)
        self.manifest.trees_failed.update(self._failed)
        mf.save(self.out, self.manifest)
        self._rows, self._trees, self._failed = [], [], {}
        return info.file

    def buffered_trees(self) -> int:
        return len(self._trees)

    def close(self, complete: bool) -> dict[str, Any]:
        self.flush()
        self.manifest.complete = complete
        mf.save(self.out, self.manifest)
        return {"shards": len(self.manifest.shards), "rows": self.manifest.rows,
                "trees_done": len(self.manifest.trees_done), "trees_failed": dict(self.manifest.trees_failed),
                "orphans_removed": self.removed, "shards_invalid": self.invalid, "trees_retried": self.retried,
                "scoring": self.counts.report()}


@ray.remote(num_cpus=0)
class ShardWriter(ShardWriterImpl):
    """One writer per run; a sync actor, so writes are applied in submission order."""
