"""Non-JSON fallbacks of the turn parser: MedR-Bench Markdown sections, labelled lines, plain lists."""

from __future__ import annotations

import re

from medaction.policies.parsing.fields import (
    FieldResult,
    clean_item,
    final_from_value,
    hypothesis_from_text,
    normalise_differential,
    normalise_tests,
    split_items,
)
from medaction.policies.types import Hypothesis

MAX_LINES = 4000  # lines examined by the fallbacks
_HEADING = re.compile(r"^\s{0,3}(?:#{1,6}\s*(.+?)\s*#*|\*\*([^*]{2,80}?):?\*\*:?)\s*$")
_INLINE_LABEL = re.compile(r"^\s{0,3}\*\*([^*]{2,80}?):?\*\*:?\s*(\S.*)$")
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•+])\s+(\S.*)$")
_NONE_NEEDED = re.compile(r"^\W*(not required|none|no (additional|further|more)|n/?a\b|nothing)", re.I)
_FINAL_LINE = re.compile(
    r"^\W*(?:final\s+diagnosis|final\s+dx|most\s+likely\s+diagnosis|diagnosis)"
    r"\s*(?:is)?\s*\**\s*[:\-–—]\s*\**\s*(\S.*)$",
    re.I,
)
# "... so the final diagnosis is X." anywhere in a line (the phrase is specific enough); the sentence ends the value
_FINAL_ANY = re.compile(r"\bfinal\s+(?:diagnosis|dx)\s*(?:is\b\s*[:\-–—]?|[:\-–—])\s*\**\s*([^\n]+)", re.I)
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_TESTS_LINE = re.compile(
    r"^\W*(?:tests?(?:\s+to\s+order)?|orders?|ordered\s+tests|investigations?|next\s+tests?|recommended\s+tests?"
    r"|additional\s+information\s+required)\s*\**\s*[:\-–—]\s*\**\s*(.*)$",
    re.I,
)
_NAME_SPLIT = re.compile(r"\s*(?::\s|\s[-–—]\s)")


def _section_kind(title: str) -> str | None:
    t = " ".join(title.casefold().replace("*", "").split()).strip(" :")
    if "chain of thought" in t or t in {"reasoning", "analysis", "thinking", "thought process"}:
        return "reasoning"
    if "additional information" in t or "test" in t or "investigation" in t or t in {"next steps", "workup", "work-up"}:
        return "tests"
    if "differential" in t or "hypothes" in t:
        return "differential"
    if "pivot" in t or "uncertaint" in t:
        return "pivot"
    if t in {"conclusion", "final diagnosis", "diagnosis", "final answer", "final dx"}:
        return "conclusion"
    return None


def _list_items(lines: list[str]) -> list[str]:
    return [m.group(1) for line in lines if (m := _LIST_ITEM.match(line))]


def _test_name(item: str) -> str:
    """'**CBC**: to look for anaemia' -> 'CBC' (the justification after ': ' or ' - ' is dropped)."""
    item = clean_item(item)
    parts = _NAME_SPLIT.split(item, maxsplit=1)
    return parts[0] if len(parts) > 1 and 2 <= len(parts[0]) <= 120 else item


def _tests_from_block(lines: list[str]) -> list[str]:
    items = _list_items(lines)
    if items:
        return [_test_name(i) for i in items if not _NONE_NEEDED.match(i)]
    text = " ".join(line.strip() for line in lines if line.strip())
    if not text or _NONE_NEEDED.match(text):
        return []
    return [_test_name(i) for i in split_items(text)]


def parse_markdown(text: str) -> tuple[FieldResult, str] | None:
    """MedR-Bench style sections; None unless a tests or conclusion section is present."""
    lines = text.splitlines()[-MAX_LINES:]
    sections: dict[str, list[str]] = {}
    preamble: list[str] = []
    current: str | None = None
    for line in lines:
        m = _HEADING.match(line)
        inline = None if m else _INLINE_LABEL.match(line)
        title = (m.group(1) or m.group(2)) if m else (inline.group(1) if inline else None)
        kind = _section_kind(title) if title else None
        if kind is not None:
            current = kind
            sections[current] = [inline.group(2)] if inline else []
        elif current is None:
            preamble.append(line)
        else:
            sections[current].append(line)
    if "tests" not in sections and "conclusion" not in sections:
        return None
    tests = normalise_tests(_tests_from_block(sections.get("tests", [])))
    hyps = [h for i in _list_items(sections.get("differential", [])) if (h := hypothesis_from_text(i))]
    conclusion_lines = [l.strip() for l in sections.get("conclusion", []) if l.strip()]
    conclusion = None
    if conclusion_lines:
        first = _FINAL_LINE.match(conclusion_lines[0])
        conclusion = final_from_value(first.group(1) if first else conclusion_lines[0])
    final = None
    if conclusion and tests:  # more information is required: the conclusion is provisional
        hyps.insert(0, Hypothesis(conclusion, 0.0)) if not hyps else None
    elif conclusion:
        final = conclusion
    reasoning = "\n".join(sections.get("reasoning", preamble)).strip()
    pivot = " ".join(" ".join(sections.get("pivot", [])).split())[:2000]
    fr = FieldResult(differential=normalise_differential(hyps), pivot=pivot, tests=tests, final_diagnosis=final)
    return fr, reasoning


def parse_lines(text: str) -> tuple[FieldResult, str] | None:
    """'Final diagnosis: X', 'Tests: a, b' (or a list under it), else the last list in the text; None if none."""
    lines = text.splitlines()[-MAX_LINES:]
    final = None
    tests: list[str] = []
    first_used = len(lines)
    lead = ""  # text before an in-line "final diagnosis is" on the first used line
    last_tests: tuple[int, str] | None = None
    for idx, line in enumerate(lines):
        fm = _FINAL_LINE.match(line)
        value = fm.group(1) if fm else None
        if value is None and (fa := _FINAL_ANY.search(line)):
            value = _SENTENCE_END.split(fa.group(1), maxsplit=1)[0]
            if idx < first_used:
                lead = line[: fa.start()].strip()
        if value is not None:
            final = final_from_value(value) or final
            first_used = min(first_used, idx)
            continue
        tm = _TESTS_LINE.match(line)
        if tm:
            first_used = min(first_used, idx)
            last_tests = (idx, tm.group(1).strip())
    if last_tests is not None:  # the last "Tests:" label wins; read once, so many labels stay linear
        idx, inline = last_tests
        if inline:
            tests = [_test_name(i) for i in split_items(inline)]
        else:
            block = []
            for nxt in lines[idx + 1 : idx + 1 + 64]:
                if _LIST_ITEM.match(nxt):
                    block.append(nxt)
                elif block and nxt.strip():
                    break
            tests = _tests_from_block(block)
    hyps: list[Hypothesis] = []
    if final is None and not tests:
        block_start, block = _last_list(lines)
        if not block:
            return None
        first_used = block_start
        context = " ".join(lines[max(0, block_start - 2) : block_start]).casefold()
        items = _list_items(block)
        if "differential" in context or "hypothes" in context:
            hyps = [h for i in items if (h := hypothesis_from_text(i))]
        else:
            tests = [_test_name(i) for i in items]
    fr = FieldResult(
        differential=normalise_differential(hyps), tests=normalise_tests(tests), final_diagnosis=final, coerced=True
    )
    return fr, "\n".join([*lines[:first_used], lead]).strip()


def _last_list(lines: list[str]) -> tuple[int, list[str]]:
    end = len(lines)
    while end > 0 and not _LIST_ITEM.match(lines[end - 1]):
        end -= 1
    start = end
    while start > 0 and (_LIST_ITEM.match(lines[start - 1]) or not lines[start - 1].strip()):
        start -= 1
    while start < end and not lines[start].strip():
        start += 1
    return start, [l for l in lines[start:end] if l.strip()]
