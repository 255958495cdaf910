"""ShardWriter: a Ray actor that buffers finished trees' rows and writes parquet shards under unique names (whole
objects: temp + rename locally, one upload on object storage), then a commit record per shard; the manifest is
written when the output is opened and last, at close (engine/manifest.py). Rows of one tree always land together
in one shard, so `trees_done` is exact. A run may have several writers (`output.writers`, e.g. one per node): the
primary opens and closes the output, the others only write shards and their commit records.

On resume it verifies the listed shards and, by default, re-opens the trees that failed (their rows are taken out
of the shards that hold them, by writing a new shard without them) so they are run again (docs/design.md,
"Outputs and resume")."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray

from medaction.engine import manifest as mf
from medaction.scoring.counts import DecisionCounts
from medaction.scoring.rows import to_table
from medaction.storage import resolve


class ShardWriterImpl:
    """The writer's logic, usable without Ray (tests, the naive bench)."""

    def __init__(self, out_dir: str, config_hash: str, rows_per_shard: int = 2000, resume: bool = False, *,
                 force_out: bool = False, retry_failed: bool = True, primary: bool = True) -> None:
        self.out = resolve(out_dir)
        self.primary = primary
        self.tag = uuid.uuid4().hex[:10]  # this writer's shard names: unique across writers and sessions
        self._next = 0
        self.rows_per_shard = max(1, rows_per_shard)
        self._rows: list[dict[str, Any]] = []
        self._trees: list[str] = []
        self._accepted: set[str] = set()  # trees taken this session: a retried write_tree is a no-op
        self.counts = DecisionCounts()  # filter decisions of the rows written by this writer in this session
        self._failed: dict[str, str] = {}
        self.invalid: list[str] = []
        self.removed: list[str] = []
        self.retried: list[str] = []
        self.manifest = mf.Manifest(config_hash=config_hash)
        if not primary:
            return
        old = mf.check_output(self.out, config_hash, resume=resume, force_out=force_out)
        self.out.join(mf.SHARDS_DIR).mkdirs()
        self.manifest = old or mf.Manifest(config_hash=config_hash)
        self.manifest.config_hash = config_hash
        self.manifest.complete = False
        self.invalid = mf.verify(self.out, self.manifest) if old is not None else []
        self.removed = mf.clean_orphans(self.out, old)
        self.retried = self._reopen_failed() if retry_failed else []
        mf.fold_commits(self.out, self.manifest)  # the commit records of the last session are in it now

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
            table = pq.read_table(self.out.join(info.file).path, filesystem=self.out.fs)
            keep = table.filter(pc.invert(pc.is_in(table.column("tree_id"), value_set=pa.array(sorted(failed)))))
            if keep.num_rows:
                shards.append(self._write_shard(keep, [t for t in info.tree_ids if t not in failed]))
            drop.append(info.file)
        self.manifest.shards = shards
        self.manifest.trees_done = [t for t in self.manifest.trees_done if t not in failed]
        self.manifest.trees_failed = {}
        mf.save(self.out, self.manifest)
        for rel in drop:  # ours: listed in the manifest and verified; removed only once the manifest drops them
            if self.out.join(rel).exists():
                self.out.join(rel).delete()
        return sorted(failed)

    def done_trees(self) -> list[str]:
        return list(self.manifest.trees_done)

    def write_tree(self, tree_id: str, *rows: dict[str, Any], failed: str = "") -> int:
        """Buffer one finished tree; `failed` is the root cause when one of its trajectories hit a policy error.
        A tree already taken (the driver retried a write whose reply was lost) is ignored: every tree lands once."""
        if tree_id in self._accepted:
            return 0
        self._accepted.add(tree_id)
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
        """Encode in memory (size and sha256 without reading back), then one whole write under a new name."""
        rel = f"{mf.SHARDS_DIR}/part-{self.tag}-{self._next:05d}.parquet"
        self._next += 1
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        data = sink.getvalue().to_pybytes()
        self.out.join(rel).write_bytes(data)
        return mf.ShardInfo(file=rel, rows=table.num_rows, trees=len(trees), bytes=len(data),
                            sha256=hashlib.sha256(data).hexdigest(), tree_ids=tuple(trees))

    def flush(self) -> str | None:
        if not self._trees:
            return None
        info = self._write_shard(to_table(self._rows), self._trees)
        mf.write_commit(self.out, info, self._failed)  # after the shard: a record always names a whole shard
        self.manifest.shards.append(info)
        self.manifest.trees_done.extend(self._trees)
        self.manifest.trees_failed.update(self._failed)
        self._rows, self._trees, self._failed = [], [], {}
        return info.file

    def buffered_trees(self) -> int:
        return len(self._trees)

    def close_secondary(self) -> bytes:
        """A secondary writer's close: flush; returns its decision counts (msgpack) for the primary's report."""
        self.flush()
        return msgspec.msgpack.encode(self.counts)

    def close(self, complete: bool, others: tuple[bytes, ...] = ()) -> dict[str, Any]:
        """The primary's close, after every secondary closed: the manifest, written last, from the commit records
        of every writer (one pass over the run: linear)."""
        self.flush()
        for raw in others:
            self.counts = merge_counts(self.counts, msgspec.msgpack.decode(raw, type=DecisionCounts))
        self.manifest = mf.load(self.out) or self.manifest
        self.manifest.complete = complete
        mf.fold_commits(self.out, self.manifest)
        return {"shards": len(self.manifest.shards), "rows": self.manifest.rows,
                "trees_done": len(self.manifest.trees_done), "trees_failed": dict(self.manifest.trees_failed),
                "orphans_removed": self.removed, "shards_invalid": self.invalid, "trees_retried": self.retried,
                "scoring": self.counts.report()}


def merge_counts(a: DecisionCounts, b: DecisionCounts) -> DecisionCounts:
    """Field-wise sum of two writers' decision counts (ints, dicts of ints, per-turn lists of ints)."""
    x, y = msgspec.to_builtins(a), msgspec.to_builtins(b)
    out: dict[str, Any] = {}
    for k in x.keys() | y.keys():
        u, v = x.get(k), y.get(k)
        if isinstance(u, dict) or isinstance(v, dict):
            u, v = u or {}, v or {}
            out[k] = {n: u.get(n, 0) + v.get(n, 0) for n in u.keys() | v.keys()}
        elif isinstance(u, list) or isinstance(v, list):
            u, v = u or [], v or []
            width = max(len(r) for r in [*u, *v]) if (u or v) else 0
            out[k] = [[(u[i][j] if i < len(u) else 0) + (v[i][j] if i < len(v) else 0) for j in range(width)]
                      for i in range(max(len(u), len(v)))]
        else:
            out[k] = (u or 0) + (v or 0)
    return msgspec.convert(out, DecisionCounts)


@ray.remote(num_cpus=0)
class ShardWriter(ShardWriterImpl):
    """A sync actor, so one writer's writes are applied in submission order."""
