"""Streaming case loaders: `iter_environments(source, path)` for AgentClinic JSONL, MedR-Bench JSON, our JSONL.

A bad record raises `RecordError` (file, line/key, field). With `strict=False` (default) it is skipped, counted and
listed in `rejects`; every valid record still comes through. With `strict=True` the first bad record raises.
Case ids are unique per file: a repeated id is a bad record (field `case_id`, naming the line of the first one), so
the same case never yields two trees. A UTF-8 byte-order mark at the start of a file is accepted and ignored.

Empty menus, one rule for every importer: a case whose test menu is empty (AgentClinic `Test_Results` is `{}`,
MedR-Bench's "Ancillary Tests" section lists nothing or only results already stated in o1, a canonical record with
`tests: []`) is kept with `tests=()`; every test the policy orders is then answered as unavailable, and
`medaction envs stats` counts such cases as "empty menus". Only a record whose structure cannot be read is
rejected (e.g. a MedR-Bench summary with no "Ancillary Tests" heading, so o1 cannot be told from the menu).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path

from medaction.envs import agentclinic, canonical, medrbench
from medaction.envs.errors import RecordError, RejectLog, good_records
from medaction.envs.types import Environment
from medaction.outputs import atomic_output
from medaction.storage import is_uri, local_copy

SOURCES = ("agentclinic", "medrbench", "jsonl")
SOURCE_CHOICES = ("auto", *SOURCES)  # auto: decided per file from its content (envs/sniff.py)

# A reader yields Environments or RecordErrors (never raises for a bad record), so strictness lives in one place.
Reader = Callable[[Path], Iterator[Environment | RecordError]]


def default_cases_path() -> Path:
    """The bundled AgentClinic MedQA-extended cases (MIT, licence in the same folder)."""
    return Path(str(resources.files("medaction.envs") / "data" / "agentclinic_medqa_extended.jsonl"))


_BOM = "\ufeff".encode()
_DEEP = "JSON nested too deeply"


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for no, raw in enumerate(fh, start=1):
            if no == 1:
                raw = raw.removeprefix(_BOM)
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
        except RecursionError:
            yield RecordError(path, where, "<line>", _DEEP, text[:200])
            continue
        try:
            yield agentclinic.parse_record(obj, case_id=f"agentclinic-{no:04d}", path=str(path), where=where)
        except RecordError as err:
            err.raw = text
            yield err
        except RecursionError:
            yield RecordError(path, where, "<record>", _DEEP, text[:200])


def _read_jsonl(path: Path) -> Iterator[Environment | RecordError]:
    first: dict[str, int] = {}
    for no, raw in _lines(path):
        try:
            env = canonical.parse_line(raw, path=str(path), where=f"line {no}")
        except RecordError as err:
            yield err
            continue
        except RecursionError:
            yield RecordError(path, f"line {no}", "<line>", _DEEP, raw[:200].decode("utf-8", "replace"))
            continue
        if env.case_id in first:
            yield RecordError(path, f"line {no}", "case_id",
                              f"duplicate case id {env.case_id!r} (first at line {first[env.case_id]})",
                              raw.decode("utf-8", "replace"))
            continue
        first[env.case_id] = no
        yield env


def _read_medrbench(path: Path) -> Iterator[Environment | RecordError]:
    """Top-level `{key: record}`; records are decoded one by one so a bad one does not lose the others.
    After unreadable JSON the rest of the file cannot be resynchronised: everything before it is kept."""
    data = path.read_bytes()
    data = data.removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", "replace")
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
            try:
                obj, pos = dec.raw_decode(text, pos)
            except RecursionError:  # skip just this value; the records after it still load
                pos = skip_value(text, start)
                line = text.count("\n", 0, start) + 1
                yield RecordError(path, f"key {key}", "<record>", f"{_DEEP} (line {line})",
                                  text[start : start + 200])
                continue
        except (json.JSONDecodeError, IndexError, RecursionError) as exc:  # a key cannot be skipped: stop here
            at = exc.pos if isinstance(exc, json.JSONDecodeError) else min(pos, len(text))
            line = text.count("\n", 0, at) + 1
            msg = (exc.msg if isinstance(exc, json.JSONDecodeError) else
                   _DEEP if isinstance(exc, RecursionError) else "unexpected end of file")
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
        except RecursionError:
            yield RecordError(path, f"key {key}", "<record>", _DEEP, text[start : start + 200])


def skip_value(text: str, pos: int) -> int:
    """End offset of the JSON array/object starting at `pos`, found without recursion (strings are skipped
    whole, so brackets inside them do not count); raises IndexError if the value is not closed."""
    depth = 0
    i = pos
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise IndexError(pos)


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
    path = local_copy(path) if is_uri(path) else Path(path)
    if source == "auto":
        from medaction.envs.sniff import detect_source

        source = detect_source(path)
    if source not in READERS:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCE_CHOICES)}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    yield from good_records(_unique(READERS[source](path), path), strict=strict, rejects=rejects)


def _unique(items: Iterator[Environment | RecordError], path: Path) -> Iterator[Environment | RecordError]:
    """Every reader's output passes here: a case id seen before in this file is a bad record, never a second case
    (readers that know line numbers report them first; this is the net for any reader)."""
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Environment):
            if item.case_id in seen:
                item = RecordError(path, f"case {item.case_id}", "case_id", "duplicate case id")
            else:
                seen.add(item.case_id)
        yield item


def write_jsonl(envs: Iterable[Environment], path: str | Path) -> int:
    """Write canonical JSONL (what `iter_environments("jsonl", ...)` reads back exactly); returns the count.

    Written to a temp name and renamed when complete (medaction/outputs.py): an error while `envs` is consumed
    leaves any earlier `path` as it was."""
    n = 0
    with atomic_output(path, "wb") as fh:
        for env in envs:
            fh.write(canonical.encode(env) + b"\n")
            n += 1
    return n
