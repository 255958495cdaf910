"""The root cause of a failure as one plain line: what the `error` column, the summary and the console show.

Ray wraps an actor's exception in RayTaskError (its str is the remote traceback, with terminal colour codes) and a
failed actor constructor in ActorDiedError; the user needs the cause at the end of that text, not the first
500 characters of the traceback (docs/design.md, "Outputs and resume")."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
MAX_CHARS = 300


def plain(text: str) -> str:
    """No colour codes, one line, at most MAX_CHARS."""
    return " ".join(_ANSI.sub("", text).split())[:MAX_CHARS]


def root_cause(exc: BaseException) -> str:
    """`Type: message` of the innermost exception (unwrapping Ray's task and actor errors)."""
    from ray.exceptions import RayActorError, RayTaskError

    seen = 0
    while seen < 10:
        seen += 1
        if isinstance(exc, RayTaskError) and isinstance(getattr(exc, "cause", None), BaseException):
            exc = exc.cause
            continue
        if isinstance(exc, RayActorError):
            return plain(_last_error_line(str(exc)) or type(exc).__name__)
        break
    name = type(exc).__name__
    msg = str(exc)
    if "Traceback (most recent call last)" in msg:
        return plain(_last_error_line(msg))
    return plain(f"{name}: {msg}" if msg else name)


_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Failed|Lost)\b:?")


def _last_error_line(text: str) -> str:
    """The `Type: message` line that ends a formatted traceback (the whole text when there is none)."""
    lines = [ln.strip() for ln in _ANSI.sub("", text).splitlines() if ln.strip()]
    if len(lines) <= 1:
        return " ".join(lines)
    for ln in reversed(lines):
        if _EXC_LINE.match(ln):
            return _short_type(ln)
    return lines[0]


def _short_type(line: str) -> str:
    """`medaction.policies.base.PolicyError: msg` -> `PolicyError: msg` (the module path is noise here)."""
    head, sep, rest = line.partition(":")
    return f"{head.rsplit('.', 1)[-1]}{sep}{rest}"
