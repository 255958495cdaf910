"""Which case format a file holds, read from its first records (docs/notes/safety-cli.md, "Outputs").

A wrong `--source` used to read a file as 0 cases and pass (an overlap check that compared nothing); `auto`
decides per file from content, never from a default. Each of the first non-blank lines votes for the format whose
real parser accepts it (agentclinic: an OSCE record; jsonl: a canonical Environment; medrbench written on one
line: an object of case records); a pretty-printed MedR-Bench file (a lone `{`, then `"key": {`) is medrbench.
The majority wins; if no line is a valid record, the shape of the records (their keys) decides, so the
zero-records error can still name the likely format. Anything else is a UsageError asking for --source.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from medaction.envs import agentclinic, canonical
from medaction.envs.errors import RecordError
from medaction.outputs import UsageError

_PROBE_LINES = 20  # non-blank lines that vote (a few malformed first records must not decide the format)
_PROBE_BYTES = 1 << 20  # never read more than this much of a line while sniffing
_MRB_KEY = re.compile(r'^"(?:[^"\\]|\\.)*"\s*:\s*\{')


def _votes(text: str) -> tuple[str | None, str | None]:
    """(strong, weak): the format whose parser accepts the line, and the format its keys suggest."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(obj, dict):
        return None, None
    if "OSCE_Examination" in obj:
        try:
            agentclinic.parse_record(obj, case_id="sniff", path="", where="")
        except (RecordError, RecursionError, TypeError, ValueError):
            return None, "agentclinic"
        return "agentclinic", "agentclinic"
    if "case_id" in obj:
        try:
            canonical.parse_line(text.encode(), path="", where="")
        except (RecordError, RecursionError):
            return None, "jsonl"
        return "jsonl", "jsonl"
    vals = list(obj.values())[:3]
    if vals and all(isinstance(v, dict) and ("generate_case" in v or "raw_case" in v) for v in vals):
        return "medrbench", "medrbench"
    return None, None


def detect_source(path: str | Path) -> str:
    """The source name for `path` (agentclinic | medrbench | jsonl); UsageError if the content does not say."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such file")
    lines: list[str] = []
    with p.open("rb") as fh:
        while len(lines) < _PROBE_LINES and (raw := fh.readline(_PROBE_BYTES)):
            text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
            if text:
                lines.append(text)
    if not lines:
        raise UsageError(f"{p}: empty file (0 records)")
    if lines[0] == "{" and len(lines) > 1 and _MRB_KEY.match(lines[1]):
        return "medrbench"
    strong: Counter[str] = Counter()
    weak: Counter[str] = Counter()
    for text in lines:
        s, w = _votes(text)
        if s:
            strong[s] += 1
        if w:
            weak[w] += 1
    for votes in (strong, weak):
        if votes:
            return votes.most_common(1)[0][0]
    raise UsageError(f"{p}: cannot tell the case format from the first {len(lines)} records; "
                     "pass --source agentclinic|medrbench|jsonl")
