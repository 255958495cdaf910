"""Write a PrimeKG-sized synthetic kg.csv for benchmarks: 129,375 nodes in PrimeKG's type mix, 4.05M undirected
edges written both ways (8.1M rows, the exact PrimeKG column layout), heavy-tailed degrees (Chung-Lu model with
Zipf weights). Deterministic for a given --seed.

    python scripts/make_synthetic_primekg.py -o /tmp/synthetic_primekg/kg.csv
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

# PrimeKG node counts per type (Chandak et al. 2023); they sum to 129,375.
TYPES = {"biological_process": 28642, "gene/protein": 27671, "disease": 17080, "effect/phenotype": 15311,
         "anatomy": 14035, "molecular_function": 11169, "drug": 7957, "cellular_component": 4176,
         "pathway": 2516, "exposure": 818}
SOURCES = {"biological_process": "GO", "gene/protein": "NCBI", "disease": "MONDO", "effect/phenotype": "HPO",
           "anatomy": "UBERON", "molecular_function": "GO", "drug": "DrugBank", "cellular_component": "GO",
           "pathway": "REACTOME", "exposure": "CTD"}
COLUMNS = ["relation", "display_relation", "x_index", "x_id", "x_type", "x_name", "x_source",
           "y_index", "y_id", "y_type", "y_name", "y_source"]


def make_edges(n: int, m: int, rng: np.random.Generator, exponent: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """m unique undirected edges; P(endpoint = i) ~ (rank_i + 10)^-exponent (heavy-tailed degrees)."""
    w = (np.arange(n, dtype=np.float64) + 10.0) ** -exponent
    w = w[rng.permutation(n)]
    cdf = np.cumsum(w / w.sum())
    keys = np.zeros(0, dtype=np.int64)
    while keys.size < m:
        k = int((m - keys.size) * 1.3) + 1000
        u = np.searchsorted(cdf, rng.random(k)).clip(0, n - 1)
        v = np.searchsorted(cdf, rng.random(k)).clip(0, n - 1)
        a, b = np.minimum(u, v), np.maximum(u, v)
        keep = a != b
        keys = np.unique(np.concatenate([keys, a[keep] * n + b[keep]]))
    keys = rng.permutation(keys)[:m]
    return keys // n, keys % n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", required=True, type=Path)
    ap.add_argument("--edges", type=int, default=4_050_000)
    ap.add_argument("--scale", type=float, default=1.0, help="shrink node and edge counts (tests)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    counts = {t: max(1, int(c * args.scale)) for t, c in TYPES.items()}
    type_names = list(counts)
    type_code = np.repeat(np.arange(len(type_names), dtype=np.int64), list(counts.values()))
    type_code = type_code[rng.permutation(type_code.size)]
    n = type_code.size
    m = int(args.edges * args.scale)
    u, v = make_edges(n, m, rng)
    ids = pa.array([f"{SOURCES[type_names[c]]}:{i}" for i, c in enumerate(type_code.tolist())])
    names = pa.array([f"{type_names[c].split('/')[0]} {i}" for i, c in enumerate(type_code.tolist())])
    types = pa.array([type_names[c] for c in type_code.tolist()])
    sources = pa.array([SOURCES[type_names[c]] for c in type_code.tolist()])
    k = len(type_names)
    rel = pa.array([f"{type_names[a].split('/')[0]}_{type_names[b].split('/')[0]}" for a in range(k) for b in range(k)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(c, pa.int64() if c.endswith("_index") else pa.string()) for c in COLUMNS])
    chunk = 1_000_000
    with pacsv.CSVWriter(args.out, schema) as w:
        for x_all, y_all in ((u, v), (v, u)):  # every edge written both ways, as in PrimeKG
            for lo in range(0, m, chunk):
                x, y = x_all[lo:lo + chunk], y_all[lo:lo + chunk]
                xi, yi = pa.array(x), pa.array(y)
                r = rel.take(pa.array(type_code[x] * k + type_code[y]))
                w.write_table(pa.Table.from_arrays(
                    [r, r, xi, ids.take(xi), types.take(xi), names.take(xi), sources.take(xi),
                     yi, ids.take(yi), types.take(yi), names.take(yi), sources.take(yi)], schema=schema))
    deg = np.bincount(np.concatenate([u, v]), minlength=n)
    print(f"wrote {args.out}: {n:,} nodes, {m:,} undirected edges ({2 * m:,} rows), max degree {deg.max():,}, "
          f"median degree {int(np.median(deg))}, {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
