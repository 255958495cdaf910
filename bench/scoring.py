"""Benchmark: DTC + RAC for MedAction-32K-sized synthetic trajectories on a PrimeKG-sized synthetic graph.

    python scripts/make_synthetic_primekg.py -o /tmp/synthetic_primekg/kg.csv      # once (~1-2 min)
    python bench/scoring.py --kg-csv /tmp/synthetic_primekg/kg.csv --store /tmp/synthetic_primekg/store

Prints load time from the cached store, scoring seconds after load, peak RSS, and their ratios to the targets
(<= 60 s scoring, <= 5 s load, <= 2 GB RSS). Trajectories: 32,681 over 2,896 cases (the paper's counts), turn
counts 1-8 (mean ~4.7), differentials of 3-5 diseases drifting toward s*, ~1.9 tests per turn from a per-case
menu drawn out of 3,000 phenotype nodes (phenotypes stand in for tests as in the offline HPO graph).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

from medaction.scoring.batch import LinkedTrajectory, score_linked
from medaction.scoring.graph import GraphStore

TURN_P = np.array([0.03, 0.10, 0.17, 0.20, 0.18, 0.13, 0.10, 0.09])  # turns 1..8


def synth(g: GraphStore, n_traj: int, n_cases: int, seed: int) -> list[LinkedTrajectory]:
    rng = np.random.default_rng(seed)
    diseases = g.nodes_of_types(["disease"])
    phen = g.nodes_of_types(["effect/phenotype"])
    test_pool = rng.choice(phen if phen.size else np.arange(g.n_nodes), size=min(3000, max(phen.size, 1)),
                           replace=False)
    per_case = np.bincount(rng.integers(0, n_cases, n_traj), minlength=n_cases)
    out: list[LinkedTrajectory] = []
    for c in range(n_cases):
        truth = int(rng.choice(diseases))
        pool = [truth, *rng.choice(diseases, 10, replace=False).tolist()]
        menu = rng.choice(test_pool, 12, replace=False).tolist()
        for _ in range(per_case[c]):
            n = int(rng.choice(8, p=TURN_P)) + 1
            diffs: list[tuple[int, ...]] = []
            tests: list[tuple[int, ...]] = []
            prev: list[int] = list(rng.choice(pool, 4, replace=False))
            for t in range(n):
                cur = prev[:]
                for _ in range(int(rng.integers(0, 3))):  # 0-2 changes per turn
                    cur[int(rng.integers(0, len(cur)))] = int(rng.choice(pool))
                top = truth if rng.random() < 0.15 + 0.6 * t / 8 else cur[0]
                cur = [top, *[d for d in cur if d != top]][: int(rng.integers(3, 6))]
                diffs.append(tuple(dict.fromkeys(int(d) for d in cur)))
                k = int(rng.poisson(1.9))
                tests.append(tuple(int(a) for a in rng.choice(menu, min(k, len(menu)), replace=False)))
                prev = cur
            out.append(LinkedTrajectory(truth=truth, diffs=tuple(diffs), tests=tuple(tests)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, default=Path("/tmp/synthetic_primekg/store"))
    ap.add_argument("--kg-csv", type=Path, default=None, help="build the store from this kg.csv if missing")
    ap.add_argument("--trajectories", type=int, default=32_681)
    ap.add_argument("--cases", type=int, default=2_896)
    ap.add_argument("--cap", type=int, default=8)
    ap.add_argument("--tau", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not (args.store / "graph.npz").is_file():
        if args.kg_csv is None:
            ap.error(f"{args.store}: no store; pass --kg-csv (make one with scripts/make_synthetic_primekg.py)")
        from medaction.scoring.loaders.primekg import load_primekg

        t = time.perf_counter()
        load_primekg(args.kg_csv, name="synthetic PrimeKG").save(args.store)
        print(f"built store from {args.kg_csv} in {time.perf_counter() - t:.1f} s (one-off, not benchmarked)")
    t0 = time.perf_counter()
    g = GraphStore.load(args.store)
    load_s = time.perf_counter() - t0
    print(f"graph: {g.describe()}")
    t = time.perf_counter()
    trajs = synth(g, args.trajectories, args.cases, args.seed)
    synth_s = time.perf_counter() - t
    turns = sum(len(x.diffs) for x in trajs)
    print(f"synthetic trajectories: {len(trajs):,} over {args.cases:,} cases, {turns:,} turns "
          f"(mean {turns / len(trajs):.2f}); generated in {synth_s:.1f} s (not counted)")
    t, cpu = time.perf_counter(), time.process_time()
    res = score_linked(trajs, g, cap=args.cap, tau=args.tau)
    score_s, score_cpu = time.perf_counter() - t, time.process_time() - cpu
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    verdicts = {v: sum(r.verdict == v for r in res) for v in ("kept", "truncated", "discarded")}
    kept = sum(len(r.kept_turns) for r in res)
    print(f"verdicts: {verdicts}; turns kept {kept:,}/{turns:,} ({kept / turns:.1%})")
    print(f"load from cache: {load_s:.2f} s  (target <= 5 s, ratio {load_s / 5:.2f})")
    print(f"DTC+RAC scoring after load: {score_s:.1f} s  (target <= 60 s, ratio {score_s / 60:.2f}; "
          f"{len(trajs) / score_s:,.0f} trajectories/s; CPU time {score_cpu:.1f} s, "
          f"{os.getloadavg()[0]:.1f} load average on {os.cpu_count()} cores)")
    print(f"peak RSS: {rss_gb:.2f} GB  (target <= 2 GB, ratio {rss_gb / 2:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
