"""Arguments and case reading shared by `envs` subcommands (rules: docs/notes/safety-cli.md, "Outputs").

Every command that reads cases goes through `read_cases`/`require_cases`: a missing file, a strict-mode reject and
a file with zero accepted records are `UsageError`s (one line, exit 2) that name the file and the reject count.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec

from medaction.envs.errors import RecordError, Reject, RejectLog
from medaction.envs.load import SOURCE_CHOICES, iter_environments
from medaction.envs.types import Environment
from medaction.outputs import UsageError, refuse_input_as_output

SOURCE_HELP = ("input format: auto = decided from the file's content (default), agentclinic = AgentClinic OSCE "
               "JSONL, medrbench = MedR-Bench diagnosis JSON, jsonl = canonical environments")


def add_source_args(p: argparse.ArgumentParser, *, path_required: bool = True) -> None:
    p.add_argument("--source", choices=SOURCE_CHOICES, default="auto", help=SOURCE_HELP)
    p.add_argument("path", type=Path, nargs=None if path_required else "?", help="input file")
    p.add_argument("--strict", action="store_true", help="stop at the first malformed record (exit code 2)")
    p.add_argument("--rejects", type=Path, default=None, metavar="FILE",
                   help="write skipped malformed records as JSONL to FILE")


def check_rejects(rejects: Path | None, *inputs: Path) -> None:
    """--rejects is an output too: never an input, never someone else's file (a rejects JSONL may be replaced)."""
    if rejects is None:
        return
    refuse_input_as_output(rejects, *inputs)
    if rejects.is_dir():
        raise UsageError(f"{rejects}: is a directory; --rejects takes a file path")
    if rejects.exists() and rejects.stat().st_size:
        with rejects.open("rb") as fh:
            first = fh.readline(1 << 16)
        try:
            msgspec.json.decode(first, type=Reject)
        except (msgspec.DecodeError, RecursionError):
            raise UsageError(f"{rejects}: exists and is not a rejects JSONL; not overwritten") from None


def resolve_source(source: str, path: Path) -> str:
    """The concrete format of `path` (`auto` sniffed from content); UsageError for a missing file."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file" + (" (a directory)" if path.is_dir() else ""))
    if source != "auto":
        return source
    from medaction.envs.sniff import detect_source

    return detect_source(path)


def iter_cases(source: str, path: Path, *, strict: bool = False, rejects: RejectLog | None = None
               ) -> Iterator[Environment]:
    """`iter_environments` with its errors as UsageErrors (missing file, unknown format, strict-mode reject)."""
    try:
        source = resolve_source(source, path)
        yield from iter_environments(source, path, strict=strict, rejects=rejects)
    except RecordError as exc:
        raise UsageError(f"{exc} (--strict)") from None
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from None


def require_cases(n: int, source: str, path: Path, rejects: RejectLog | None) -> None:
    """Zero accepted records is an error, never a silent pass: name the file, the reject count and, when an
    explicit --source disagrees with the content, the format the file looks like."""
    if n:
        return
    nrej = rejects.count if rejects is not None else 0
    msg = f"{path}: 0 cases read as {source} ({nrej} records rejected)"
    if rejects is not None and rejects.rejects:
        r = rejects.rejects[0]
        msg += f"; first: {r.where}: field {r.field!r}: {' '.join(r.reason.split())}"
    from medaction.envs.sniff import detect_source

    try:
        looks = detect_source(path)
    except UsageError:
        looks = source
    if looks != source:
        msg += f"; the file looks like {looks}: pass --source {looks} (or auto)"
    raise UsageError(msg)


def read_cases(source: str, path: Path, *, strict: bool = False, rejects: RejectLog | None = None
               ) -> list[Environment]:
    """All accepted cases of `path`; UsageError when none was accepted."""
    log = rejects if rejects is not None else RejectLog()
    source = resolve_source(source, path)
    envs = list(iter_cases(source, path, strict=strict, rejects=log))
    require_cases(len(envs), source, path, log)
    return envs


def nonempty_cases(source: str, path: Path, *, strict: bool = False, rejects: RejectLog | None = None
                   ) -> Iterator[Environment]:
    """A stream of the cases of `path` that raises (UsageError) before it is returned when none is accepted:
    a consumer that creates outputs creates nothing for an empty or unreadable file."""
    log = rejects if rejects is not None else RejectLog()
    source = resolve_source(source, path)
    it = iter_cases(source, path, strict=strict, rejects=log)
    first = next(it, None)
    if first is None:
        require_cases(0, source, path, log)
    return itertools.chain([first], it)  # type: ignore[list-item]


def print_rejects(command: str, log: RejectLog, limit: int = 10) -> None:
    """The first rejects on stderr, one line each, in the CLI's `medaction <command>: ...` form."""
    for rej in log.rejects[:limit]:
        reason = " ".join(rej.reason.split())
        print(f"medaction {command}: rejected {rej.file}: {rej.where}: field {rej.field!r}: {reason}",
              file=sys.stderr)
    if log.count > limit:
        print(f"medaction {command}: ... and {log.count - limit} more rejected records", file=sys.stderr)
