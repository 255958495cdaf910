"""Output safety and the CLI error convention, shared by every command that writes (docs/design.md, "Outputs").

Rules: a command never deletes or overwrites a file it did not create; an output equal to an input is refused;
on local disks a file is written under a temporary name beside its target and moved into place only when complete,
so an interrupted command leaves the old file (or none), never a partial one.

Errors: `UsageError` (bad input or config, exit 2) and `RunFailed` (the work ran and failed, exit 1) carry one line
for stderr; `medaction.cli.main` prints `medaction <command>: <line>` and returns the code, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO


class UsageError(ValueError):
    """Bad input, bad config or a user mistake: one line on stderr, exit 2, nothing created."""

    exit_code = 2


class RunFailed(RuntimeError):
    """The job ran but produced nothing usable (no case read, every trajectory failed): exit 1."""

    exit_code = 1


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when both paths name one file (resolves links; a missing path is compared by its resolved name)."""
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return os.path.samefile(pa, pb)
    return pa.resolve() == pb.resolve()


def refuse_input_as_output(out: str | os.PathLike[str], *inputs: str | os.PathLike[str] | None) -> None:
    """Raise UsageError when the output path is one of the inputs."""
    for src in inputs:
        if src is not None and same_file(out, src):
            raise UsageError(f"{out}: output is the same file as input {src}; choose another output path")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], mode: str = "w", *, overwrite: bool = True,
                  encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temp file beside `path`; move it onto `path` only when the block ends without an exception.

    With overwrite=False an existing `path` is refused (UsageError) before anything is written.
    """
    target = Path(path)
    if not overwrite and target.exists():
        raise UsageError(f"{target}: already exists; choose another output path")
    if not target.parent.is_dir():
        if target.parent.exists():
            raise UsageError(f"{target}: {target.parent} is not a directory")
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    f = open(tmp, mode, encoding=None if "b" in mode else encoding)
    try:
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, target)
    except BaseException:
        f.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` through a temp file and a rename (readers never see a partial file)."""
    with atomic_output(path, "wb") as f:
        f.write(data)
