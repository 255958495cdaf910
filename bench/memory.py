"""Driver memory vs number of cases: peak RSS of the driver process at 100 and at 10,000 cases (one tree per
case, sim policy, no latency). Each size runs in its own process (own local Ray) so peaks do not mix.

    python bench/memory.py [--small 100] [--large 10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def child(n: int, tmp: Path) -> None:
    from _cases import write_cases
    from _ray import start_local_ray

    import ray

    from medaction.engine.config import load_config
    from medaction.engine.run_job import run

    cases = write_cases(n, tmp / f"cases-{n}.jsonl")
    sets = ["cases.source=jsonl", f'cases.path="{cases}"', "tree.k=1", "tree.b=0", "tree.max_turns=1",
            "tree.free_share=0.0", "policies.0.id=sim", "policies.0.backend=sim", "policies.0.replicas=2",
            "policies.0.max_concurrency=32", "policies.0.config.time_scale=0.0", "oracle.actors=2",
            "output.rows_per_shard=2000", "engine.progress_every_s=30"]
    start_local_ray(num_cpus=2)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    s = run(load_config(None, sets), out_dir=tmp / f"out-{n}", progress=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"cases": n, "trees": s.trees_done, "nodes": s.nodes, "rows": s.rows, "wall_s": s.wall_s,
                      "rss_after_init_mib": base / 1024, "peak_rss_mib": peak / 1024}))
    ray.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=100)
    ap.add_argument("--large", type=int, default=10000)
    ap.add_argument("--child", type=int, default=0)
    ap.add_argument("--tmp", default="")
    a = ap.parse_args()
    if a.child:
        child(a.child, Path(a.tmp))
        return
    tmp = Path(tempfile.mkdtemp(prefix="medaction-mem-"))
    res = {}
    for n in (a.small, a.large):
        p = subprocess.run([sys.executable, __file__, "--child", str(n), "--tmp", str(tmp)], capture_output=True,
                           text=True, check=True)
        res[n] = json.loads(p.stdout.strip().splitlines()[-1])
        print(json.dumps(res[n]))
    ratio = res[a.large]["peak_rss_mib"] / res[a.small]["peak_rss_mib"]
    print(f"driver peak RSS: {res[a.small]['peak_rss_mib']:.0f} MiB at {a.small} cases, "
          f"{res[a.large]['peak_rss_mib']:.0f} MiB at {a.large} cases -> ratio {ratio:.3f} (target <= 1.2)")


if __name__ == "__main__":
    main()
