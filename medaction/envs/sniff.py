"""Which case format a file holds, read from its first records (docs/notes/safety-cli.md, "Outputs").

A wrong `--source` used to read a file as 0 cases and pass (an overlap check that compared nothing); `auto`
decides per file from content, never from a default:
- first non-blank line is a lone `{`: a pretty-printed JSON object keyed by case id -> medrbench;
- a line that is a whole JSON object: `OSCE_Examination` -> agentclinic; `case_id` + `initial_observation` -> jsonl
  (ours); every value an object with `generate_case`/`raw_case` -> medrbench written on one line.
Anything else is a UsageError asking for an explicit source.
"""

from __future__ import annotations

import json
from pathlib import Path

from medaction.outputs import UsageError

_PROBE_LINES = 20  # lines tried before giving up (a few malformed first records must not decide the format)
_PROBE_BYTES = 1 << 20  # never read more than this much of a line while sniffing


def _classify(obj: object) -> str | None:
    if not isinstance(obj, dict):
        return None
    if "OSCE_Examination" in obj:
        return "agentclinic"
    if "case_id" in obj and "initial_observation" in obj:
        return "jsonl"
    vals = list(obj.values())[:3]
    if vals and all(isinstance(v, dict) and ("generate_case" in v or "raw_case" in v) for v in vals):
        return "medrbench"
    return None


def detect_source(path: str | Path) -> str:
    """The source name for `path` (agentclinic | medrbench | jsonl); UsageError if the content does not say."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such file")
    seen = 0
    with p.open("rb") as fh:
        while seen < _PROBE_LINES:
            raw = fh.readline(_PROBE_BYTES)
            if not raw:
                break
            text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
            if not text:
                continue
            seen += 1
            if seen == 1 and text == "{":
                return "medrbench"
            try:
                found = _classify(json.loads(text))
            except (ValueError, RecursionError):
                continue
            if found:
                return found
    if seen == 0:
        raise UsageError(f"{p}: empty file (0 records)")
    raise UsageError(f"{p}: cannot tell the case format from the first {seen} records; "
                     "pass --source agentclinic|medrbench|jsonl")
