"""MinHash/LSH overlap vs brute-force exact Jaccard on the shared cases: speed ratio and recall, one run.

Run: python bench/overlap_speed.py [--threshold 0.2] [--copies 4]
Set B is the shared cases plus lightly edited copies (a known set of near-duplicates).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import msgspec  # noqa: E402

from medaction.envs.load import default_cases_path, iter_environments  # noqa: E402
from medaction.envs.overlap import env_text, find_overlaps, shingles  # noqa: E402

MEDRBENCH = REPO.parent / "shared" / "data" / "cases" / "medrbench_diagnosis_demo100.json"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--copies", type=int, default=2)
    args = ap.parse_args()
    a = list(iter_environments("agentclinic", default_cases_path())) + list(iter_environments("medrbench", MEDRBENCH))
    b = []
    for c in range(args.copies):
        for e in a:
            words = e.initial_observation.split()
            words = [w for i, w in enumerate(words) if (i + c) % 9]  # drop every 9th word: a near duplicate
            b.append(msgspec.structs.replace(e, case_id=f"{e.case_id}#{c}", initial_observation=" ".join(words)))
    t0 = time.perf_counter()
    fast = find_overlaps(a, b, threshold=args.threshold)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    sa = [shingles(env_text(e)) for e in a]
    sb = [shingles(env_text(e)) for e in b]
    exact = {(a[i].case_id, b[j].case_id) for i in range(len(a)) for j in range(len(b))
             if len(sa[i] | sb[j]) and len(sa[i] & sb[j]) / len(sa[i] | sb[j]) >= args.threshold}
    t_exact = time.perf_counter() - t0
    found = {(p.a, p.b) for p in fast}
    recall = len(found & exact) / len(exact) if exact else 1.0
    print(f"A {len(a)} x B {len(b)} cases, threshold {args.threshold}: exact pairs {len(exact)}, "
          f"MinHash/LSH found {len(found)} (recall {recall:.3f}, false {len(found - exact)})")
    print(f"brute force {t_exact:.2f} s, MinHash/LSH {t_fast:.2f} s: speed-up x{t_exact / t_fast:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
