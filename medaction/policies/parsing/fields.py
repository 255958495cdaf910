"""Turn fields from a parsed JSON object or from text items: aliases, confidence normalisation, de-duplication.

Confidences: numbers or strings, 0-1 or percent ("60%", 60) -> 0-1; negative/NaN -> 0; then scaled so the
differential sums to at most 1. Duplicate diagnoses/tests are merged case-insensitively (first spelling kept,
a duplicate hypothesis keeps the larger confidence). The differential is sorted by confidence, ties in model order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import msgspec

from medaction.policies.types import Hypothesis

MAX_ITEMS = 32  # tests or hypotheses kept per turn
MAX_ITEM_CHARS = 300

_DIFF_KEYS = ("differential", "differential_diagnosis", "differential_diagnoses", "differentials", "ddx",
              "hypotheses", "ranked_differential")
# no bare "test"/"uncertainty": those appear inside list items and would make an item look like a whole turn
_PIVOT_KEYS = ("pivot", "key_uncertainty", "pivot_uncertainty")
_TEST_KEYS = ("tests", "tests_to_order", "test_orders", "orders", "next_tests", "recommended_tests", "actions",
              "investigations", "additional_tests", "tests_ordered")
_FINAL_KEYS = ("final_diagnosis", "final", "final_dx", "conclusion", "diagnosis_final")
_NAME_KEYS = ("diagnosis", "name", "disease", "hypothesis", "condition", "dx", "label", "test", "test_name",
              "item", "request", "exam")
_CONF_KEYS = ("confidence", "probability", "prob", "likelihood", "score", "p", "conf", "confidence_score")
_NO_ANSWER = frozenset({"", "null", "none", "n/a", "na", "not yet", "pending", "undetermined", "unknown", "tbd"})
_LIST_MARK = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•+])\s+")
# "MG: 0.6", "MG (60%)", "MG - 60", "MG 60%", "MG 0.6"; a bare integer ("CKD stage 3") is part of the name.
_CONF_IN_TEXT = (
    re.compile(r"^(.*?)\s*(?:[:=]\s*|\(\s*|\s[-–—]\s+|,\s*)(\d{1,3}(?:\.\d+)?)\s*(%?)\s*\)?\s*$"),
    re.compile(r"^(.*?)\s+(\d{1,3}(?:\.\d+)?)\s*(%)\s*$"),
    re.compile(r"^(.*?)\s+(0?\.\d+|1\.0+)()\s*$"),
)


class FieldResult(msgspec.Struct, frozen=True, kw_only=True):
    differential: tuple[Hypothesis, ...] = ()
    pivot: str = ""
    tests: tuple[str, ...] = ()
    final_diagnosis: str | None = None
    coerced: bool = False  # a field had the wrong shape and was coerced (e.g. tests as one string)


def norm_key(key: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(key).casefold()).strip("_")


def is_turn_object(obj: dict) -> bool:
    keys = {norm_key(k) for k in list(obj)[:64]}
    return any(k in keys for k in (*_DIFF_KEYS, *_TEST_KEYS, *_FINAL_KEYS, *_PIVOT_KEYS))


def _get(obj: dict, names: tuple[str, ...]) -> object:
    normed = {norm_key(k): v for k, v in list(obj.items())[:64]}
    for name in names:
        if name in normed:
            return normed[name]
    return None


def clean_item(text: str) -> str:
    """One line, no list marker, no Markdown emphasis, bounded length."""
    text = " ".join(str(text).split())
    text = _LIST_MARK.sub("", text)
    text = text.replace("**", "").replace("__", "").strip(" \t`*_\"'")
    return text[:MAX_ITEM_CHARS].strip()


def dedupe_key(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" .,;:")


def split_items(text: str) -> list[str]:
    """Split a one-string list on newlines, ';' and ',' (not inside parentheses: 'electrolytes (Na, K)')."""
    items: list[str] = []
    buf: list[str] = []
    depth = 0
    for ch in text[:20000]:
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
        if ch in "\n;" or (ch == "," and depth == 0):
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    items.append("".join(buf))
    return [c for c in (clean_item(i) for i in items) if c]


def to_confidence(value: object) -> float:
    """A raw confidence -> [0, 1]: percent when > 1 or written with '%'; anything unreadable -> 0."""
    percent = False
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, str):
        s = value.strip()
        percent = s.endswith("%")
        try:
            value = float(s.rstrip("%").strip())
        except ValueError:
            return 0.0
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return 0.0
    v = float(value)
    if percent or v > 1.0:
        v = v / 100.0
    return min(v, 1.0)


def hypothesis_from_text(text: str) -> Hypothesis | None:
    """'Myasthenia gravis (60%)', 'MG: 0.6', 'MG' -> Hypothesis."""
    text = clean_item(text)
    if not text:
        return None
    for pattern in _CONF_IN_TEXT:
        m = pattern.match(text)
        if m:
            name = clean_item(m.group(1).strip(" :-–—=(,"))
            if name:
                return Hypothesis(name, to_confidence(m.group(2) + m.group(3)))
    return Hypothesis(text, 0.0)


def _hypotheses(value: object) -> tuple[list[Hypothesis], bool]:
    out: list[Hypothesis] = []
    coerced = False
    if isinstance(value, dict):  # {"MG": 0.6, "LEMS": 0.2}
        value = [{"diagnosis": k, "confidence": v} for k, v in list(value.items())[:MAX_ITEMS * 2]]
        coerced = True
    elif isinstance(value, str):
        value = split_items(value)
        coerced = True
    if not isinstance(value, list):
        return out, value is not None
    for item in value[: MAX_ITEMS * 2]:
        hyp: Hypothesis | None = None
        if isinstance(item, dict):
            name = _get(item, _NAME_KEYS)
            if isinstance(name, str) and clean_item(name):
                hyp = Hypothesis(clean_item(name), to_confidence(_get(item, _CONF_KEYS)))
        elif isinstance(item, str):
            hyp = hypothesis_from_text(item)
        elif isinstance(item, list) and item and isinstance(item[0], str):  # ["MG", 0.6]
            hyp = Hypothesis(clean_item(item[0]), to_confidence(item[1] if len(item) > 1 else 0))
            coerced = True
        if hyp is not None and hyp.diagnosis:
            out.append(hyp)
    return out, coerced


def normalise_differential(hyps: Iterable[Hypothesis]) -> tuple[Hypothesis, ...]:
    merged: dict[str, Hypothesis] = {}
    for h in hyps:
        key = dedupe_key(h.diagnosis)
        if not key:
            continue
        prev = merged.get(key)
        conf = min(max(h.confidence, 0.0), 1.0) if math.isfinite(h.confidence) else 0.0
        if prev is None:
            if len(merged) < MAX_ITEMS:
                merged[key] = Hypothesis(h.diagnosis, conf)
        elif conf > prev.confidence:
            merged[key] = Hypothesis(prev.diagnosis, conf)
    items = list(merged.values())
    total = sum(h.confidence for h in items)
    if total > 1.0:
        items = [Hypothesis(h.diagnosis, min(h.confidence / total, 1.0)) for h in items]
        # float rounding can leave the sum a hair above 1: trim the largest
        excess = sum(h.confidence for h in items) - 1.0
        if excess > 0:
            i = max(range(len(items)), key=lambda j: items[j].confidence)
            items[i] = Hypothesis(items[i].diagnosis, max(0.0, items[i].confidence - excess))
    items.sort(key=lambda h: -h.confidence)  # stable: ties keep the model's order
    return tuple(items)


def normalise_tests(items: Iterable[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        name = clean_item(item)
        key = dedupe_key(name)
        if key and key not in seen:
            seen.add(key)
            out.append(name)
            if len(out) >= MAX_ITEMS:
                break
    return tuple(out)


def _tests(value: object) -> tuple[list[str], bool]:
    if value is None:
        return [], False
    if isinstance(value, str):
        return split_items(value), True
    if isinstance(value, dict):  # {"CBC": "reason", ...}
        return [str(k) for k in list(value)[: MAX_ITEMS * 2]], True
    if not isinstance(value, list):
        return [], True
    out: list[str] = []
    coerced = False
    for item in value[: MAX_ITEMS * 2]:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            name = _get(item, _NAME_KEYS)
            if isinstance(name, str):
                out.append(name)
            coerced = True
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            coerced = True
    return out, coerced


def final_from_value(value: object) -> str | None:
    if isinstance(value, dict):
        value = _get(value, _NAME_KEYS)
    elif isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    if not isinstance(value, str):
        return None
    text = clean_item(value)
    return None if text.casefold() in _NO_ANSWER else text


def _text(value: object) -> str:
    if isinstance(value, str):
        return " ".join(value.split())[:2000]
    if isinstance(value, list):
        return "; ".join(" ".join(str(v).split()) for v in value[:8] if isinstance(v, str))[:2000]
    return ""


def fields_from_object(obj: dict) -> FieldResult:
    hyps, c1 = _hypotheses(_get(obj, _DIFF_KEYS))
    tests, c2 = _tests(_get(obj, _TEST_KEYS))
    final = final_from_value(_get(obj, _FINAL_KEYS))
    return FieldResult(
        differential=normalise_differential(hyps),
        pivot=_text(_get(obj, _PIVOT_KEYS)),
        tests=normalise_tests(tests),
        final_diagnosis=final,
        coerced=c1 or c2,
    )
