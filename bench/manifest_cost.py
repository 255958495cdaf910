"""Manifest bookkeeping cost vs run size: the engine's per-shard commit records + one manifest at close (linear)
against rewriting the whole manifest after every shard (what the engine did before: quadratic).

Synthetic trees (ids like real ones), `--trees-per-shard` trees per shard (2,000 rows / 4 rows per tree = 500).
Only the bookkeeping is timed: per shard, the record the writer writes (engine/manifest.py `write_commit`; or a
full `save` in the old scheme), then the close (`load` + `fold_commits`: the manifest, written last). Prints bytes
written and seconds for each size, and the growth ratio between the sizes: linear ~ size ratio, quadratic ~ its
square.

    python bench/manifest_cost.py [--sizes 10000 100000] [--trees-per-shard 500] [--old-max 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from medaction.engine import manifest as mf  # noqa: E402


def _shards(n_trees: int, per_shard: int) -> list[mf.ShardInfo]:
    out = []
    for i in range(0, n_trees, per_shard):
        ids = tuple(f"case-{j:07d}::teacher-{hashlib.blake2b(str(j).encode(), digest_size=4).hexdigest()}"
                    for j in range(i, min(n_trees, i + per_shard)))
        out.append(mf.ShardInfo(file=f"shards/part-0123456789-{i // per_shard:05d}.parquet", rows=4 * len(ids),
                                trees=len(ids), bytes=1 << 20, sha256="0" * 64, tree_ids=ids))
    return out


def new_scheme(root: Path, shards: list[mf.ShardInfo]) -> tuple[float, int]:
    t0 = time.perf_counter()
    mf.save(root, mf.Manifest(config_hash="h"))  # written when the output is opened
    for s in shards:
        mf.write_commit(root, s, {})
    m = mf.load(root)  # the close: manifest + commit records, written last
    assert m is not None and len(m.trees_done) == sum(s.trees for s in shards)
    m.complete = True
    mf.fold_commits(root, m)
    dt = time.perf_counter() - t0
    written = sum(len(msgspec.json.encode(mf.ShardCommit(shard=s))) for s in shards) + (root / mf.MANIFEST).stat().st_size
    return dt, written


def old_scheme(root: Path, shards: list[mf.ShardInfo]) -> tuple[float, int]:
    t0, written = time.perf_counter(), 0
    m = mf.Manifest(config_hash="h")
    for s in shards:  # the whole manifest after every shard
        m.shards.append(s)
        m.trees_done.extend(s.tree_ids)
        mf.save(root, m)
        written += (root / mf.MANIFEST).stat().st_size
    return time.perf_counter() - t0, written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--trees-per-shard", type=int, default=500)
    p.add_argument("--old-max", type=int, default=100_000, help="largest size to run the old scheme at")
    a = p.parse_args()
    res: dict[str, dict[int, tuple[float, int]]] = {"new": {}, "old": {}}
    for n in a.sizes:
        shards = _shards(n, a.trees_per_shard)
        for name, fn in (("new", new_scheme), ("old", old_scheme)):
            if name == "old" and n > a.old_max:
                continue
            with tempfile.TemporaryDirectory() as d:
                res[name][n] = fn(Path(d), shards)
            dt, b = res[name][n]
            print(f"{name}: {n} trees, {len(shards)} shards: {b / 1e6:.1f} MB written, {dt:.2f} s", flush=True)
    lo, hi = min(a.sizes), max(a.sizes)
    for name in ("new", "old"):
        if lo in res[name] and hi in res[name]:
            (t_lo, b_lo), (t_hi, b_hi) = res[name][lo], res[name][hi]
            print(f"{name} scheme, {hi} vs {lo} trees (size x{hi / lo:.0f}): bytes x{b_hi / b_lo:.1f}, "
                  f"time x{t_hi / t_lo:.1f}")


if __name__ == "__main__":
    main()
