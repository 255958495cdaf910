"""Streaming case loaders: `iter_environments(source, path)` for AgentClinic JSONL, MedR-Bench JSON, our JSONL.

A bad record raises `RecordError` (file, line/key, field). With `strict=False` (default) it is skipped, counted and
listed in `rejects`; every valid record still comes through. With `strict=True` the first bad record raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path

from medaction.envs import agentclinic, canonical, medrbench
from medaction.envs.errors import RecordError, RejectLog, good_records
from medaction.envs.types import Environment
from medaction.storage import is_uri, local_copy

SOURCES = ("agentclinic", "medrbench", "jsonl")

# A reader yields Environments or RecordErrors (never raises for a bad record), so strictness lives in one place.
Reader = Callable[[Path], Iterator[Environment | RecordError]]


def default_cases_path() -> Path:
    """The bundled AgentClinic MedQA-extended cases (MIT, licence in the same folder)."""
    return Path(str(resources.files("medaction.envs") / "data" / "agentclinic_medqa_extended.jsonl"))


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for no, raw in enumerate(fh, start=1):
            raw = raw.strip()
            if raw:
                yield no, raw


def _read_agentclinic(path: Path) -> Iterator[Environment | RecordError]:
    for no, raw in _lines(path):
        where = f"line {no}"
        text = raw.decode("utf-8", "replace")
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield RecordError(path, where, "<line>", f"not UTF-8 text: {exc.reason}", text)
            continue
        except json.JSONDecodeError as exc:
            yield RecordError(path, where, "<line>", f"bad JSON: {exc.msg} (column {exc.colno})", text)
            continue
        try:
            yield agentclinic.parse_record(obj, case_id=f"agentclinic-{no:04d}", path=str(path), where=where)
        except RecordError as err:
            err.raw = text
            yield err


def _read_jsonl(path: Path) -> Iterator[Environment | RecordError]:
    for no, raw in _lines(path):
        try:
            yield canonical.parse_line(raw, path=str(path), where=f"line {no}")
        except RecordError as err:
            yield err


def _read_medrbench(path: Path) -> Iterator[Environment | RecordError]:
    """Top-level `{key: record}`; records are decoded one by one so a bad one does not lose the others.
    After unreadable JSON the rest of the file cannot be resynchronised: everything before it is kept."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        text = path.read_bytes().decode("utf-8", "replace")
        yield RecordError(path, f"byte {exc.start}", "<file>", "not UTF-8 text; undecodable bytes replaced")
    dec = json.JSONDecoder()
    ws = " \t\r\n"
    pos = len(text) - len(text.lstrip(ws))
    if not text.startswith("{", pos):
        yield RecordError(path, "line 1", "<file>", "expected a JSON object keyed by case id", text[:200])
        return
    pos += 1
    seen: set[str] = set()
    while True:
        while pos < len(text) and text[pos] in ws + ",":
            pos += 1
        if pos >= len(text) or text[pos] == "}":
            if pos >= len(text):
                yield RecordError(path, f"char {pos}", "<file>", "truncated: missing closing '}'")
            return
        try:
            key, pos = dec.raw_decode(text, pos)
            while text[pos] in ws:
                pos += 1
            if text[pos] != ":" or not isinstance(key, str):
                raise json.JSONDecodeError("expected 'key': value", text, pos)
            pos += 1
            while text[pos] in ws:
                pos += 1
            start = pos
            obj, pos = dec.raw_decode(text, pos)
        except (json.JSONDecodeError, IndexError) as exc:
            at = exc.pos if isinstance(exc, json.JSONDecodeError) else len(text)
            line = text.count("\n", 0, at) + 1
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "unexpected end of file"
            yield RecordError(path, f"line {line}", "<record>", f"bad JSON: {msg}; rest of file skipped")
            return
        if key in seen:
            yield RecordError(path, f"key {key}", "<key>", "duplicate case id", text[start : start + 200])
            continue
        seen.add(key)
        try:
            yield medrbench.parse_record(key, obj, path=str(path))
        except RecordError as err:
            err.raw = text[start : start + 200]
            yield err


READERS: dict[str, Reader] = {
    "agentclinic": _read_agentclinic,
    "medrbench": _read_medrbench,
    "jsonl": _read_jsonl,
}


def iter_environments(
    source: str, path: str | Path, *, strict: bool = False, rejects: RejectLog | None = None
) -> Iterator[Environment]:
    """Stream Environments from `path` (a local path or a URI such as s3://, downloaded once: medaction.storage);
    see the module docstring for bad-record handling."""
    if source not in READERS:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    path = local_copy(path) if is_uri(path) else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    yield from good_records(READERS[source](path), strict=strict, rejects=rejects)


def write_jsonl(envs: Iterable[Environment], path: str | Path) -> int:
    """Write canonical JSONL (what `iter_environments("jsonl", ...)` reads back exactly); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("wb") as fh:
        for env in envs:
            fh.write(canonical.encode(env) + b"\n")
            n += 1
    return n
