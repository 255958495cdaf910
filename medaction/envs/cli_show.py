"""`medaction envs show`: print environments readably."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medaction.envs.errors import RecordError
from medaction.envs.load import SOURCES, iter_environments
from medaction.envs.render import format_environment


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print environments readably (o1, test menu, diagnosis)",
                       description="Print environments: the initial observation, the hidden test menu with "
                       "results and the ground-truth diagnosis.\nExample: medaction envs show envs.jsonl --case "
                       "agentclinic-0001")
    p.add_argument("path", type=Path, help="environments file (canonical JSONL unless --source says otherwise)")
    p.add_argument("--source", choices=SOURCES, default="jsonl", help="input format (default: %(default)s)")
    p.add_argument("--case", action="append", metavar="ID", help="only this case id (repeatable)")
    p.add_argument("--limit", type=int, default=0, help="show at most N environments (0 = all)")
    p.add_argument("--o1-only", action="store_true", help="show only what the policy sees")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    shown = 0
    try:
        for env in iter_environments(args.source, args.path):
            if args.case and env.case_id not in args.case:
                continue
            print(format_environment(env, show_hidden=not args.o1_only), end="\n\n")
            shown += 1
            if args.limit and shown >= args.limit:
                break
    except (RecordError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.case and shown == 0:
        print(f"error: no case with id {', '.join(args.case)} in {args.path}", file=sys.stderr)
        return 1
    return 0
