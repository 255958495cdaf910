"""Parsing of untrusted judge-model output: Correct/Wrong verdicts and covered-menu-item lists. Never raises."""

from __future__ import annotations

import json
import re

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_VERDICT = re.compile(r"\b(incorrect|not\s+correct|wrong|correct)\b", re.I)
_JSON_OBJ = re.compile(r"\{[^{}]*\}", re.S)
_NONE = re.compile(r"\b(none|no match|not covered|nothing)\b", re.I)
_INT = re.compile(r"\b\d{1,3}\b")


def _strip(text: str) -> str:
    text = _THINK.sub(" ", text or "")
    # an unterminated <think> (truncated output): keep only what follows the last closing tag, if any
    if "</think>" in text.lower():
        text = text[text.lower().rfind("</think>") + 8 :]
    return text


def parse_verdict(text: str) -> bool | None:
    """True = Correct, False = Wrong, None = no verdict found. The LAST verdict word wins (models reason first)."""
    body = _strip(text)
    m = None
    for m in _VERDICT.finditer(body):
        pass
    if m is None:
        return None
    word = " ".join(m.group(1).lower().split())
    return word == "correct"


def parse_covered(text: str, n_menu: int) -> tuple[int, ...] | None:
    """Menu numbers (1-based in the prompt) -> 0-based indices in range; () for none; None when unparseable.

    Prefers a JSON object {"covered": [...]}; otherwise integers on the last non-empty line; out-of-range numbers
    (a model inventing items) are dropped.
    """
    body = _strip(text)
    for raw in reversed(_JSON_OBJ.findall(body)):
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("covered"), list):
            vals = [v for v in obj["covered"] if isinstance(v, int) and not isinstance(v, bool)]
            vals += [int(v) for v in obj["covered"] if isinstance(v, str) and v.strip().isdigit()]
            return tuple(sorted({v - 1 for v in vals if 1 <= v <= n_menu}))
    lines = [ln for ln in body.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    nums = [int(x) for x in _INT.findall(last)]
    if nums:
        return tuple(sorted({v - 1 for v in nums if 1 <= v <= n_menu}))
    if _NONE.search(last):
        return ()
    return None
