"""Prefix reuse: cached prompt tokens / the theoretical maximum, case-sticky routing vs a shared queue
(no affinity, next free replica, like round-robin), 4 sim replicas with the sim's block prefix cache.

The theoretical maximum is what one unbounded cache seeing every prompt of the run would serve: replaying every
node's exact prompt (from the shards) through an unbounded PrefixCache. With chained block hashes the total does
not depend on the replay order (each distinct block misses exactly once).

    python bench/prefix_reuse.py [--trees 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import msgspec
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cases import write_cases  # noqa: E402
from _ray import start_local_ray  # noqa: E402

from medaction.engine.config import load_config  # noqa: E402
from medaction.policies.backends.sim import _WORD_RE, PrefixCache, SimConfig  # noqa: E402


def theoretical_max(out: Path, block: int) -> int:
    manifest = msgspec.json.decode((out / "manifest.json").read_bytes())
    cache = PrefixCache(block, capacity=1 << 40)
    seen: set[tuple[str, str]] = set()
    total = 0
    for shard in manifest["shards"]:
        for raw in pq.read_table(out / shard["file"], columns=["tree_id", "trajectory_json"]).to_pylist():
            for n in msgspec.json.decode(raw["trajectory_json"])["nodes"]:
                if (raw["tree_id"], n["node_id"]) in seen:
                    continue  # a prefix node shared by a branch and its root ran once
                seen.add((raw["tree_id"], n["node_id"]))
                prompt = "\n".join(f"<{m['role']}>{m['content']}" for m in n["messages"])
                total += cache.lookup_and_insert(_WORD_RE.findall(prompt))
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--time-scale", type=float, default=0.02)
    a = ap.parse_args()
    import ray

    from medaction.engine.run_job import run

    tmp = Path(tempfile.mkdtemp(prefix="medaction-prefix-"))
    cases = write_cases(a.trees, tmp / "cases.jsonl")
    start_local_ray(num_cpus=4)
    ratios = {}
    for routing in ("shared", "sticky"):
        sets = ["cases.source=jsonl", f'cases.path="{cases}"', "tree.free_share=0.0", "policies.0.id=sim",
                "policies.0.backend=sim", "policies.0.replicas=4", "policies.0.max_concurrency=16",
                f"policies.0.routing={routing}", f"policies.0.config.time_scale={a.time_scale}",
                "policies.0.config.concurrency=16", "engine.progress_every_s=30"]
        out = tmp / routing
        s = run(load_config(None, sets), out_dir=out, progress=False)
        best = theoretical_max(out, SimConfig().block_size)
        ratios[routing] = s.cached_tokens / best
        print(f"{routing:>6}: {s.nodes} nodes, prompt tokens {s.prompt_tokens}, cached {s.cached_tokens}, "
              f"theoretical max {best} -> {ratios[routing]:.3f} (cases split over replicas: {s.sessions_split})")
    ray.shutdown()
    print(f"cached / theoretical max: shared queue {ratios['shared']:.3f}, sticky {ratios['sticky']:.3f} "
          f"(target sticky >= 0.9)")


if __name__ == "__main__":
    main()
