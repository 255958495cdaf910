"""`medaction envs build`: import cases into canonical environment JSONL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medaction.envs.cli_common import add_source_args
from medaction.envs.errors import RecordError, RejectLog
from medaction.envs.load import iter_environments, write_jsonl


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build", help="import cases (AgentClinic, MedR-Bench, JSONL) into environment JSONL",
        description="Read cases, validate every record and write one Environment per line. Malformed records are "
        "skipped, counted and listed (--rejects FILE); --strict stops at the first one instead.\n"
        "Example: medaction envs build --source agentclinic cases.jsonl -o envs.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_args(p)
    p.add_argument("-o", "--output", type=Path, required=True, help="output environments JSONL")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    log = RejectLog(args.rejects)
    try:
        n = write_jsonl(iter_environments(args.source, args.path, strict=args.strict, rejects=log), args.output)
    except (RecordError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        log.close()
    print(f"wrote {n} environments to {args.output}; rejected {log.count} records"
          + (f" (listed in {args.rejects})" if args.rejects and log.count else ""))
    for rej in log.rejects[:10]:
        print(f"  rejected {rej.file}: {rej.where}: {rej.field}: {rej.reason}", file=sys.stderr)
    return 0
