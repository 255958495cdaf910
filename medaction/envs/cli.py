"""`medaction envs ...`: build, show, stats and overlap of clinical environments. The Stage-1 commands of the group
(extract, gold, agreement) live with the Ray jobs they start (medaction/engine/stage1_cli.py); medaction/cli.py
assembles the group from both."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from medaction.envs import canonical
from medaction.envs.canonical import looks_canonical
from medaction.envs.case_input import (
    SOURCE_HELP,
    add_source_args,
    check_rejects,
    iter_cases,
    print_rejects,
    read_cases,
    require_cases,
    resolve_source,
)
from medaction.envs.errors import RejectLog
from medaction.envs.load import SOURCE_CHOICES
from medaction.envs.overlap import find_overlaps
from medaction.envs.render import format_environment
from medaction.outputs import UsageError, atomic_output, refuse_input_as_output


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    _add_build(sub)
    _add_show(sub)
    _add_stats(sub)
    _add_overlap(sub)


# ---- envs build: `medaction envs build`: import cases into canonical environment JSONL.
def _add_build(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build", help="import cases (AgentClinic, MedR-Bench, JSONL) into environment JSONL",
        description="Read cases, validate every record and write one Environment per line. Malformed records are "
        "skipped, counted and listed (--rejects FILE); --strict stops at the first one instead. The output is "
        "written under a temporary name and moved into place when complete; an input with no valid record, "
        "an output equal to the input, or an existing output that is not an environments file is refused.\n"
        "Example: medaction envs build --source agentclinic cases.jsonl -o envs.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_args(p)
    p.add_argument("-o", "--output", type=Path, required=True, help="output environments JSONL")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output even if it is not an environments JSONL")
    p.set_defaults(func=_build)


def _check_build_output(out: Path, inputs: tuple[Path, ...], *, overwrite: bool) -> None:
    """Refuse, before anything is opened, an output that is an input, a folder, or a file we did not write."""
    refuse_input_as_output(out, *inputs)
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; -o takes a file path")
    if out.exists() and not overwrite and not looks_canonical(out):
        raise UsageError(f"{out}: exists and is not an environments JSONL; not overwritten (pass --overwrite "
                         "to replace it)")


def _build(args: argparse.Namespace) -> int:
    if not args.path.is_file():  # checked before any output is opened: a typo never truncates -o
        raise UsageError(f"{args.path}: no such file")
    _check_build_output(args.output, (args.path,), overwrite=args.overwrite)
    check_rejects(args.rejects, args.path, args.output)
    source = resolve_source(args.source, args.path)
    log = RejectLog(args.rejects)
    n = 0
    try:
        with atomic_output(args.output, "wb") as fh:  # moved onto -o only when complete and non-empty
            for env in iter_cases(source, args.path, strict=args.strict, rejects=log):
                fh.write(canonical.encode(env) + b"\n")
                n += 1
            require_cases(n, source, args.path, log)
    except OSError as exc:
        raise UsageError(f"{args.output}: cannot write ({exc.strerror or exc})") from None
    finally:
        log.close()
        print_rejects("envs build", log)
    print(f"wrote {n} environments to {args.output}; rejected {log.count} records"
          + (f" (listed in {args.rejects})" if args.rejects and log.count else ""))
    return 0


# ---- envs show: `medaction envs show`: print environments readably.
def _add_show(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print environments readably (o1, test menu, diagnosis)",
                       description="Print environments: the initial observation, the hidden test menu with "
                       "results and the ground-truth diagnosis.\nExample: medaction envs show envs.jsonl --case "
                       "agentclinic-0001")
    p.add_argument("path", type=Path, help="cases file (any format; see --source)")
    p.add_argument("--source", choices=SOURCE_CHOICES, default="auto", help=SOURCE_HELP)
    p.add_argument("--case", action="append", metavar="ID", help="only this case id (repeatable)")
    p.add_argument("--limit", type=int, default=0, help="show at most N environments (0 = all)")
    p.add_argument("--o1-only", action="store_true", help="show only what the policy sees")
    p.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    shown = read = 0
    log = RejectLog()
    source = resolve_source(args.source, args.path)
    for env in iter_cases(source, args.path, rejects=log):
        read += 1
        if args.case and env.case_id not in args.case:
            continue
        print(format_environment(env, show_hidden=not args.o1_only), end="\n\n")
        shown += 1
        if args.limit and shown >= args.limit:
            break
    require_cases(read, source, args.path, log)
    if args.case and shown == 0:
        raise UsageError(f"{args.path}: no case with id {', '.join(args.case)} ({read} cases read)")
    return 0


# ---- envs stats: `medaction envs stats`: counts, menu sizes and rejects of a case file.
def _add_stats(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="count environments, menu sizes and rejected records",
                       description="Load a case file and print: environments, rejects, menu size distribution, "
                       "o1 length, categories.\nExample: medaction envs stats --source medrbench cases.json")
    add_source_args(p)
    p.set_defaults(func=_stats)


def _stats_text(envs: list, rejects: RejectLog) -> str:
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


def _stats(args: argparse.Namespace) -> int:
    check_rejects(args.rejects, args.path)
    source = resolve_source(args.source, args.path)
    log = RejectLog(args.rejects)
    try:
        envs = list(iter_cases(source, args.path, strict=args.strict, rejects=log))
    finally:
        log.close()
    print(f"{args.path} ({source})")
    print(_stats_text(envs, log))  # printed even for 0 cases: the reject breakdown says why
    require_cases(len(envs), source, args.path, log)
    return 0


# ---- envs overlap: `medaction envs overlap A B`: prove two case sets disjoint (or list their near-duplicate pairs).
def _add_overlap(sub: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=_overlap)


def _check_overlap_args(args: argparse.Namespace) -> None:
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


def _overlap(args: argparse.Namespace) -> int:
    _check_overlap_args(args)
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
