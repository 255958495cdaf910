"""Our canonical JSONL: one msgspec-encoded `Environment` per line; decode(encode(env)) == env exactly."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from medaction.envs.errors import RecordError
from medaction.envs.types import Environment

SOURCE = "jsonl"
_ENC = msgspec.json.Encoder()
_DEC = msgspec.json.Decoder(Environment)
_AT = re.compile(r"at `\$\.?([^`]*)`")


def encode(env: Environment) -> bytes:
    return _ENC.encode(env)


def parse_line(raw: bytes, *, path: str, where: str) -> Environment:
    try:
        env = _DEC.decode(raw)
    except msgspec.ValidationError as exc:
        m = _AT.search(str(exc))
        raise RecordError(path, where, m.group(1) if m else "<record>", str(exc), raw.decode("utf-8", "replace"))
    except msgspec.DecodeError as exc:
        raise RecordError(path, where, "<line>", f"bad JSON: {exc}", raw.decode("utf-8", "replace")) from None
    if not env.case_id.strip():
        raise RecordError(path, where, "case_id", "empty case_id", raw.decode("utf-8", "replace"))
    if not env.diagnosis.strip():
        raise RecordError(path, where, "diagnosis", "empty diagnosis", raw.decode("utf-8", "replace"))
    return env


def looks_canonical(path: str | Path) -> bool:
    """True for an empty file or one whose first record is a canonical Environment: a file `envs build` may
    replace. Anything else was not written by us and is never overwritten without --overwrite."""
    with Path(path).open("rb") as fh:
        while raw := fh.readline(16 << 20):  # bounded: a binary file without newlines is not read whole
            if raw.strip():
                try:
                    _DEC.decode(raw.strip())
                except (msgspec.DecodeError, RecursionError):
                    return False
                return True
    return True
