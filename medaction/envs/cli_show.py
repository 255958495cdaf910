"""`medaction envs show`: print environments readably."""

from __future__ import annotations

import argparse
from pathlib import Path

from medaction.envs.cli_common import SOURCE_HELP, iter_cases, require_cases, resolve_source
from medaction.envs.errors import RejectLog
from medaction.envs.load import SOURCE_CHOICES
from medaction.envs.render import format_environment
from medaction.outputs import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print environments readably (o1, test menu, diagnosis)",
                       description="Print environments: the initial observation, the hidden test menu with "
                       "results and the ground-truth diagnosis.\nExample: medaction envs show envs.jsonl --case "
                       "agentclinic-0001")
    p.add_argument("path", type=Path, help="cases file (any format; see --source)")
    p.add_argument("--source", choices=SOURCE_CHOICES, default="auto", help=SOURCE_HELP)
    p.add_argument("--case", action="append", metavar="ID", help="only this case id (repeatable)")
    p.add_argument("--limit", type=int, default=0, help="show at most N environments (0 = all)")
    p.add_argument("--o1-only", action="store_true", help="show only what the policy sees")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
