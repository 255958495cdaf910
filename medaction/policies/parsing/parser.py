"""The turn parser: model output (untrusted text) -> Turn. Never raises; work is bounded on huge inputs.

Accepted, in order of preference:
1. one JSON object anywhere in the text (fenced or not), the last one that has turn keys; lenient repair of trailing
   commas, single quotes, Python literals, smart quotes and truncation (closing open strings/brackets);
2. MedR-Bench Markdown sections (### Chain of Thought / ### Additional Information Required / ### Conclusion);
3. labelled lines ("Final diagnosis: X", "Tests: a, b") and plain numbered or bulleted lists.
parse = "ok": clean JSON (or, in free mode, any recognised form); "repaired": JSON that needed repair or coercion, or
(structured mode) a non-JSON fallback; "failed": nothing usable. Field normalisation is in parser_fields.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import NamedTuple

from medaction.policies.parsing.fields import FieldResult, fields_from_object, is_turn_object, split_items
from medaction.policies.parsing.repair import loads_lenient
from medaction.policies.parsing.text import parse_markdown, parse_lines
from medaction.policies.types import Mode, Turn

MAX_RAW = 200_000  # chars of raw text kept on the Turn, head and tail (a 5500-token reply is ~25k chars)
MAX_SCAN = 100_000  # chars scanned for JSON / sections: the tail, where the answer is
MAX_CANDIDATES = 24  # JSON candidate objects tried per reply
REPAIR_BUDGET = 300_000  # chars the pure-Python repair may walk per reply

_SPECIAL = re.compile(r'[{}"\\]')
_FENCE_TAIL = re.compile(r"```[a-zA-Z]*\s*$")


def _brace_spans(s: str) -> tuple[list[tuple[int, int]], list[int]]:
    """Balanced {...} spans (start, end) at any depth, and the starts of braces left open; O(len) via regex jumps.

    Double-quoted strings are tracked only inside braces, so apostrophes and stray quotes in prose do no harm.
    """
    spans: list[tuple[int, int]] = []
    stack: list[int] = []
    in_str = False
    skip = -1
    for m in _SPECIAL.finditer(s):
        i = m.start()
        if i < skip:
            continue
        ch = s[i]
        if in_str:
            if ch == "\\":
                skip = i + 2
            elif ch == '"':
                in_str = False
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "}":
            if stack:
                spans.append((stack.pop(), i + 1))
        elif ch == '"' and stack:
            in_str = True
    return spans, stack


def _candidates(s: str) -> list[tuple[int, int, bool]]:
    """Candidate (start, end, truncated) regions in the order tried.

    First a few braces left open (a truncated answer runs to the end of the text): the two outermost and the two
    innermost, so that a run of stray braces cannot starve the rest; then the balanced spans, latest end first and
    outer before nested.
    """
    spans, open_starts = _brace_spans(s)
    picked = sorted(set(open_starts[:2] + open_starts[-2:]))
    cands: list[tuple[int, int, bool]] = [(a, len(s), True) for a in picked]
    spans.sort(key=lambda c: (-c[1], c[0]))
    cands.extend((a, b, False) for a, b in spans[:MAX_CANDIDATES])
    return cands[:MAX_CANDIDATES]


class JsonHit(NamedTuple):
    start: int
    obj: dict
    repaired: bool  # needed lenient repair (quotes, commas, literals, closing a truncated object)
    truncated: bool  # the object was still open at the end of the text


def find_json_object(
    s: str, select: Callable[[dict], dict | None] = lambda o: o, *, allow_truncated: bool = True
) -> JsonHit | None:
    """The last JSON object in `s` (fenced or not) that `select` accepts, with bounded work on hostile input.

    Shared by the turn parser and Stage-1 extraction: one reader of JSON in untrusted model output.
    """
    budget = REPAIR_BUDGET
    for start, end, truncated in _candidates(s):
        if truncated and not allow_truncated:
            continue
        chunk = s[start:end]
        obj: object = None
        repaired = False
        if not truncated:
            try:
                obj = json.loads(chunk)
            except (ValueError, RecursionError):
                obj = None
        if obj is None and len(chunk) <= budget:
            budget -= len(chunk)
            obj = loads_lenient(chunk)
            repaired = True
        if isinstance(obj, dict):
            found = select(obj)
            if found is not None:
                return JsonHit(start, found, repaired, truncated)
    return None


def has_open_object(s: str) -> bool:
    """True when a `{` is still open at the end of `s` (an answer cut short by the token limit)."""
    return bool(_brace_spans(s)[1])


def _find_json(s: str) -> tuple[int, dict, bool] | None:
    """(start, object, repaired) of the last JSON object with turn keys, or None."""
    hit = find_json_object(s, _turn_dict)
    return None if hit is None else (hit.start, hit.obj, hit.repaired)


def _turn_dict(obj: dict) -> dict | None:
    """The object itself if it has turn keys, else one nested level (e.g. {"response": {...}})."""
    if is_turn_object(obj):
        return obj
    for value in list(obj.values())[:8]:
        if isinstance(value, dict) and is_turn_object(value):
            return value
    return None


def _reasoning_before(text: str) -> str:
    return _cap(_FENCE_TAIL.sub("", text[-MAX_RAW - 16 :]).strip())


def _cap(text: str) -> str:
    """Keep head and tail of an oversized text (the answer is at the end, the setup at the start)."""
    if len(text) <= MAX_RAW:
        return text
    half = MAX_RAW // 2
    return text[:half] + "\n[...]\n" + text[-half:]


def _build(fr: FieldResult, *, reasoning: str, raw: str, status: str) -> Turn:
    usable = bool(fr.tests or fr.final_diagnosis or fr.differential)
    return Turn(
        differential=fr.differential,
        pivot=fr.pivot,
        tests=fr.tests,
        final_diagnosis=fr.final_diagnosis,
        reasoning=reasoning,
        raw=raw,
        parse=status if usable else "failed",  # type: ignore[arg-type]
    )


def parse_turn(text: str, *, mode: Mode = "structured") -> Turn:
    """Parse one assistant turn. Never raises: any internal error yields parse="failed" with the raw text kept."""
    if not isinstance(text, str):
        text = ""
    raw = _cap(text)
    try:
        return _parse(text, raw, mode)
    except Exception:  # noqa: BLE001 - the contract is "never raises" on untrusted model output
        return Turn(raw=raw, reasoning=raw.strip(), parse="failed")


def _parse(text: str, raw: str, mode: Mode) -> Turn:
    offset = max(0, len(text) - MAX_SCAN)
    scan = text[offset:]
    found = _find_json(scan)
    if found is not None:
        start, obj, repaired = found
        fr = fields_from_object(obj)
        status = "repaired" if (repaired or fr.coerced) else "ok"
        return _build(fr, reasoning=_reasoning_before(text[: offset + start]), raw=raw, status=status)
    fallback_status = "ok" if mode == "free" else "repaired"
    md = parse_markdown(scan)
    if md is not None:
        fr, reasoning = md
        return _build(fr, reasoning=reasoning, raw=raw, status=fallback_status)
    lines = parse_lines(scan)
    if lines is not None:
        fr, reasoning = lines
        return _build(fr, reasoning=reasoning, raw=raw, status=fallback_status)
    return Turn(raw=raw, reasoning=raw.strip(), parse="failed")


__all__ = ["parse_turn", "split_items", "MAX_SCAN", "MAX_RAW"]
