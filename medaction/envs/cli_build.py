"""`medaction envs build`: import cases into canonical environment JSONL."""

from __future__ import annotations

import argparse
from pathlib import Path

from medaction.envs import canonical
from medaction.envs.canonical import looks_canonical
from medaction.envs.cli_common import (
    add_source_args,
    check_rejects,
    iter_cases,
    print_rejects,
    require_cases,
    resolve_source,
)
from medaction.envs.errors import RejectLog
from medaction.outputs import UsageError, atomic_output, refuse_input_as_output


def register(sub: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=run)


def check_output(out: Path, inputs: tuple[Path, ...], *, overwrite: bool) -> None:
    """Refuse, before anything is opened, an output that is an input, a folder, or a file we did not write."""
    refuse_input_as_output(out, *inputs)
    if out.is_dir():
        raise UsageError(f"{out}: is a directory; -o takes a file path")
    if out.exists() and not overwrite and not looks_canonical(out):
        raise UsageError(f"{out}: exists and is not an environments JSONL; not overwritten (pass --overwrite "
                         "to replace it)")


def run(args: argparse.Namespace) -> int:
    if not args.path.is_file():  # checked before any output is opened: a typo never truncates -o
        raise UsageError(f"{args.path}: no such file")
    check_output(args.output, (args.path,), overwrite=args.overwrite)
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
