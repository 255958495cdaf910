"""The one config toolkit: TOML files with dotted `--set` overrides converted strictly into msgspec Structs, and the
one `--policy-config` reader. Used by run, train, eval, serve and the Stage-1 commands.

Overrides: `--set tree.k=4`; list items by index in either spelling, `policies.0.replicas=2` or
`policies[0].replicas=2`. A value is a TOML literal when it parses as one (numbers, booleans, arrays, inline
tables, quoted strings), else the bare word as a string. Conversion is strict: "4" never becomes 4, an unknown key
of a Struct that forbids them is an error. Every error is a UsageError naming the file (or option) and the key.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from medaction.outputs import UsageError

T = TypeVar("T")

_INDEX = re.compile(r"\[(\d+)\]")


def parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw  # a bare word: a string


def override_path(key: str) -> list[str]:
    """`policies[0].replicas` and `policies.0.replicas` -> ["policies", "0", "replicas"]."""
    parts = _INDEX.sub(r".\1", key.strip()).split(".")
    if not all(parts):
        raise UsageError(f"--set {key!r}: empty key part")
    return parts


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """`a.b=c` sets data["a"]["b"]; numeric parts index lists, growing them with empty tables."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--set expects key=value, got {assignment!r}")
    parts = override_path(key)
    cur: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        value = parse_value(raw.strip()) if last else None
        if isinstance(cur, list):
            if not part.isdigit():
                raise UsageError(f"--set {assignment!r}: {'.'.join(parts[:i])} is a list; {part!r} is not an index")
            idx = int(part)
            while len(cur) <= idx:
                cur.append({})
            if last:
                cur[idx] = value
            else:
                cur = cur[idx]
        elif isinstance(cur, dict):
            if last:
                cur[part] = value
            else:
                cur = cur.setdefault(part, [] if parts[i + 1].isdigit() else {})
        else:
            raise UsageError(f"--set {assignment!r}: {'.'.join(parts[:i])} is a value, not a table")


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise UsageError(f"{p}: cannot read config ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{p}: invalid TOML: {exc}") from None


def build_config(data: dict[str, Any], kind: type[T], *, where: str) -> T:
    """Strict msgspec conversion; an error names `where` (the file or option) and the offending key."""
    try:
        return msgspec.convert(data, kind)
    except (msgspec.ValidationError, ValueError) as exc:
        raise UsageError(f"{where}: bad config: {exc}") from None


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...], kind: type[T]) -> T:
    """A TOML file (or the defaults when None) plus `--set` overrides, as the Struct `kind`."""
    data = read_toml(path) if path else {}
    for ov in overrides:
        apply_override(data, ov)
    return build_config(data, kind, where=str(path) if path else "<defaults>")


def read_policy_config(text: str | None, *, option: str = "--policy-config") -> dict[str, Any]:
    """A backend config: a .toml or .json file, or an inline JSON object (what every command's
    `--policy-config`, `--judge-config` and `--narrator-config` accepts)."""
    if not text or not text.strip():
        return {}
    path = Path(text)
    try:
        if text.lstrip().startswith("{"):
            obj = json.loads(text)
        elif path.suffix == ".toml":
            obj = read_toml(path)
        elif path.is_file():
            obj = json.loads(path.read_text(encoding="utf-8-sig"))
        else:
            raise UsageError(f"{option} {text[:80]!r}: not a file and not an inline JSON object")
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"{option} {text[:80]!r}: invalid JSON: {type(exc).__name__}") from None
    except OSError as exc:
        raise UsageError(f"{option} {text[:80]!r}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{option} {text[:80]!r}: expected an object/table")
    return obj
