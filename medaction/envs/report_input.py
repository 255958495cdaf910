"""Raw case-report inputs for Stage-1 extraction: plain text, PMC JATS XML, MedR-Bench `raw_case`.

Every input becomes a `CaseReport` (title, abstract, body sections, tables as text). Anything else is refused
with a `RecordError` that names the file and why. XML is parsed with the standard library's parser; documents
declaring entities are refused (no entity expansion from untrusted files).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from medaction.envs.errors import RecordError, RejectLog, good_records

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md"})
XML_SUFFIXES = frozenset({".xml", ".nxml", ".jats"})
_MAX_BYTES = 20_000_000  # a case report is kilobytes; refuse anything absurd before reading it


class Section(msgspec.Struct, frozen=True):
    heading: str
    text: str


class CaseReport(msgspec.Struct, frozen=True, kw_only=True):
    report_id: str
    source: str  # "text" | "jats" | "medrbench"
    title: str = ""
    abstract: str = ""
    sections: tuple[Section, ...] = ()
    tables: tuple[str, ...] = ()
    path: str = ""

    @property
    def case_id(self) -> str:
        return self.report_id

    @property
    def meta(self) -> dict[str, object]:
        """Copied into the extracted environment's meta."""
        return {k: v for k, v in (("title", self.title), ("report_source", self.source), ("path", self.path)) if v}

    @property
    def text(self) -> str:
        """The whole report as one readable text (what the extraction prompt receives)."""
        parts = [self.title, f"Abstract\n{self.abstract}" if self.abstract else ""]
        parts += [f"{s.heading}\n{s.text}" if s.heading else s.text for s in self.sections]
        parts += [f"Table\n{t}" for t in self.tables]
        return "\n\n".join(p for p in parts if p.strip())


def _space(text: str) -> str:
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\s*\n\s*", "\n", text)).strip()


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(el: ET.Element) -> str:
    return _space("".join(el.itertext()))


def _table_text(wrap: ET.Element) -> str:
    lines = []
    for child in wrap:
        name = _local(child.tag)
        if name in ("label", "caption"):
            lines.append(_text(child))
    for row in wrap.iter():
        if _local(row.tag) == "tr":
            cells = [_text(c) for c in row if _local(c.tag) in ("td", "th")]
            lines.append(" | ".join(cells))
    return "\n".join(x for x in lines if x)


def _sections(sec: ET.Element, prefix: str) -> Iterator[Section]:
    title = next((_text(c) for c in sec if _local(c.tag) == "title"), "")
    heading = f"{prefix} > {title}" if prefix and title else (title or prefix)
    paras = [_text(c) for c in sec if _local(c.tag) in ("p", "list", "disp-quote", "def-list")]
    if any(paras):
        yield Section(heading, "\n".join(p for p in paras if p))
    for c in sec:
        if _local(c.tag) == "sec":
            yield from _sections(c, heading)


def parse_jats(data: bytes, *, report_id: str, path: str = "") -> CaseReport:
    if b"<!entity" in data.lower():
        raise RecordError(path, "file", "<xml>", "XML declares entities; refused (no entity expansion)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise RecordError(path, f"line {exc.position[0]}", "<xml>", f"malformed XML: {exc}") from None
    if _local(root.tag) != "article":
        raise RecordError(path, "file", "<xml>", f"not a JATS article (root element <{_local(root.tag)}>)")
    title, abstract = "", ""
    for el in root.iter():
        name = _local(el.tag)
        if name == "article-title" and not title:
            title = _text(el)
        elif name == "abstract" and not abstract:
            abstract = _text(el)
    body = next((el for el in root.iter() if _local(el.tag) == "body"), None)
    sections: list[Section] = []
    if body is not None:
        loose = [_text(c) for c in body if _local(c.tag) == "p"]
        if any(loose):
            sections.append(Section("", "\n".join(p for p in loose if p)))
        for c in body:
            if _local(c.tag) == "sec":
                sections.extend(_sections(c, ""))
    tables = tuple(_table_text(el) for el in root.iter() if _local(el.tag) == "table-wrap")
    if not (abstract or sections):
        raise RecordError(path, "file", "body", "JATS article has neither abstract nor body text")
    return CaseReport(report_id=report_id, source="jats", title=title, abstract=abstract,
                      sections=tuple(sections), tables=tables, path=path)


def parse_text(data: bytes, *, report_id: str, path: str = "") -> CaseReport:
    if b"\x00" in data:
        raise RecordError(path, "file", "<text>", "binary file (NUL bytes), not a text case report")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(path, f"byte {exc.start}", "<text>", "not UTF-8 text") from None
    text = _space(text)
    if not text:
        raise RecordError(path, "file", "<text>", "empty file")
    first, _, rest = text.partition("\n")
    title = first if len(first) < 200 and rest else ""
    return CaseReport(report_id=report_id, source="text", title=title,
                      sections=(Section("", rest if title else text),), path=path)


FORMATS = ("text", "jats", "medrbench")


def read_report(path: str | Path, *, fmt: str | None = None) -> CaseReport:
    """One file -> CaseReport (format from `fmt`, else the suffix); bad files raise RecordError naming the file."""
    path = Path(path)
    suffix = {"text": ".txt", "jats": ".xml"}.get(fmt or "", path.suffix.lower())
    if suffix not in TEXT_SUFFIXES | XML_SUFFIXES:
        raise RecordError(path, "file", "<suffix>",
                          f"unsupported file type {suffix or '(none)'}; "
                          f"expected {sorted(TEXT_SUFFIXES | XML_SUFFIXES)}")
    if path.stat().st_size > _MAX_BYTES:
        raise RecordError(path, "file", "<size>", f"larger than {_MAX_BYTES} bytes")
    data = path.read_bytes()
    if suffix in XML_SUFFIXES:
        return parse_jats(data, report_id=path.stem, path=str(path))
    return parse_text(data, report_id=path.stem, path=str(path))


def iter_medrbench_reports(path: str | Path) -> Iterator[CaseReport | RecordError]:
    """MedR-Bench JSON -> one CaseReport per `raw_case` (errors are yielded, not raised)."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        yield RecordError(path, "file", "<file>", f"bad JSON: {exc}")
        return
    if not isinstance(data, dict):
        yield RecordError(path, "file", "<file>", "expected a JSON object keyed by case id")
        return
    for key, rec in data.items():
        raw = rec.get("raw_case") if isinstance(rec, dict) else None
        if not isinstance(raw, str) or not raw.strip():
            yield RecordError(path, f"key {key}", "raw_case", "missing or not a non-empty string")
            continue
        yield CaseReport(report_id=str(key), source="medrbench", sections=(Section("", _space(raw)),), path=str(path))


def iter_reports(paths: Iterable[str | Path], *, fmt: str | None = None, strict: bool = False,
                 rejects: RejectLog | None = None) -> Iterator[CaseReport]:
    """Files and folders (recursively, sorted) -> CaseReports. Format: `fmt` ("text", "jats", "medrbench") or,
    when None, each file's suffix (`.json` = a MedR-Bench set). Bad files are skipped and logged unless strict."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    for p in paths:
        p = Path(p)
        files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
        for f in files:
            items: Iterable[CaseReport | RecordError]
            if fmt == "medrbench" or (fmt is None and f.suffix.lower() == ".json"):
                items = iter_medrbench_reports(f)
            else:
                try:
                    items = [read_report(f, fmt=fmt)]
                except RecordError as err:
                    items = [err]
            yield from good_records(items, strict=strict, rejects=rejects)
