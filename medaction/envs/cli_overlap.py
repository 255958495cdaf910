"""`medaction envs overlap A B`: prove two case sets disjoint (or list their near-duplicate pairs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from medaction.envs.cli_common import read_cases
from medaction.envs.errors import RejectLog
from medaction.envs.load import SOURCE_CHOICES
from medaction.envs.overlap import find_overlaps
from medaction.outputs import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "overlap", help="near-duplicate cases between two sets (MinHash on o1 + diagnosis)",
        description="Compare every case of A with every case of B by word-shingle Jaccard similarity of o1 + "
        "diagnosis (MinHash/LSH candidates, exact Jaccard reported) and print the pairs at or above the "
        "threshold. Use it to show that a training set and a benchmark set are disjoint.\n"
        "Example: medaction envs overlap train.jsonl bench.jsonl --fail-on-overlap",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", type=Path, help="first case set")
    p.add_argument("b", type=Path, help="second case set")
    p.add_argument("--source-a", choices=SOURCE_CHOICES, default="auto",
                   help="format of A (default: %(default)s = from the file's content)")
    p.add_argument("--source-b", choices=SOURCE_CHOICES, default="auto",
                   help="format of B (default: %(default)s = from the file's content)")
    p.add_argument("--threshold", type=float, default=0.5, help="report pairs with Jaccard >= this (default 0.5)")
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default 128)")
    p.add_argument("--bands", type=int, default=None,
                   help="LSH bands (num-perm must be a multiple); default: chosen for 99%% recall at the threshold")
    p.add_argument("--shingle", type=int, default=3, help="words per shingle (default 3)")
    p.add_argument("--fail-on-overlap", action="store_true", help="exit 1 if any pair is found")
    p.set_defaults(func=run)


def check_args(args: argparse.Namespace) -> None:
    """MinHash parameters checked before any file is read (0 permutations used to end in ZeroDivisionError)."""
    if not 0.0 < args.threshold <= 1.0:  # also false for nan
        raise UsageError(f"--threshold {args.threshold}: must be in (0, 1]")
    for flag, value in (("--num-perm", args.num_perm), ("--shingle", args.shingle), ("--bands", args.bands)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} {value}: must be >= 1")
    if args.num_perm > 4096:  # memory grows with num_perm x shingles; 128 already gives 99% recall
        raise UsageError(f"--num-perm {args.num_perm}: at most 4096")
    if args.bands is not None and args.num_perm % args.bands:
        raise UsageError(f"--num-perm {args.num_perm} must be a multiple of --bands {args.bands}")


def run(args: argparse.Namespace) -> int:
    check_args(args)
    rej_a, rej_b = RejectLog(), RejectLog()
    a = read_cases(args.source_a, args.a, rejects=rej_a)  # 0 cases on either side is an error, never a pass
    b = read_cases(args.source_b, args.b, rejects=rej_b)
    try:
        pairs = find_overlaps(a, b, threshold=args.threshold, num_perm=args.num_perm, bands=args.bands,
                              k=args.shingle)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"A: {args.a} ({len(a)} cases, {rej_a.count} rejected)  B: {args.b} ({len(b)} cases, "
          f"{rej_b.count} rejected)  threshold {args.threshold}")
    print(f"near-duplicate pairs: {len(pairs)}")
    for p in pairs:
        print(f"  {p.a}\t{p.b}\tjaccard {p.jaccard:.3f}\tminhash {p.estimate:.3f}")
    return 1 if pairs and args.fail_on_overlap else 0
