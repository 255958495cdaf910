"""`medaction envs stats`: counts, menu sizes and rejects of a case file."""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from medaction.envs.cli_common import add_source_args, check_rejects, iter_cases, require_cases, resolve_source
from medaction.envs.errors import RejectLog


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="count environments, menu sizes and rejected records",
                       description="Load a case file and print: environments, rejects, menu size distribution, "
                       "o1 length, categories.\nExample: medaction envs stats --source medrbench cases.json")
    add_source_args(p)
    p.set_defaults(func=run)


def stats_text(envs: list, rejects: RejectLog) -> str:
    sizes = np.array([len(e.tests) for e in envs], dtype=np.int64)
    o1 = np.array([len(e.initial_observation) for e in envs], dtype=np.int64)
    lines = [f"environments: {len(envs)}", f"rejected records: {rejects.count}"]
    if len(envs):
        hist = Counter(int(s) for s in sizes)
        lines.append(f"empty menus: {int((sizes == 0).sum())}")
        lines.append(f"menu size: min {sizes.min()}  median {np.median(sizes):g}  mean {sizes.mean():.2f}  "
                     f"max {sizes.max()}  total tests {sizes.sum()}")
        lines.append("menu size histogram: " + "  ".join(f"{k}:{hist[k]}" for k in sorted(hist)))
        lines.append(f"o1 chars: min {o1.min()}  median {np.median(o1):g}  max {o1.max()}")
        sources = Counter(e.source for e in envs)
        lines.append("sources: " + ", ".join(f"{k}={v}" for k, v in sorted(sources.items())))
        rare = [e for e in envs if e.meta.get("rare_disease")]
        if rare:
            lines.append(f"rare-disease cases: {len(rare)}")
    by_field = Counter(f"{r.field}: {r.reason.split(':')[0]}" for r in rejects.rejects)
    for k, v in by_field.most_common(10):
        lines.append(f"  reject {v} x {k}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    check_rejects(args.rejects, args.path)
    source = resolve_source(args.source, args.path)
    log = RejectLog(args.rejects)
    try:
        envs = list(iter_cases(source, args.path, strict=args.strict, rejects=log))
    finally:
        log.close()
    print(f"{args.path} ({source})")
    print(stats_text(envs, log))  # printed even for 0 cases: the reject breakdown says why
    require_cases(len(envs), source, args.path, log)
    return 0
