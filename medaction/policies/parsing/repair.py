"""Lenient JSON for model output: trailing commas, single quotes, smart quotes, Python literals, unquoted keys,
raw newlines in strings, and truncation (close the open string and brackets, cutting back a dangling member).

One linear pass over the text (callers bound its length), then a few json.loads attempts. Returns None on failure.
"""

from __future__ import annotations

import json
import re

_CLOSE = {"{": "}", "[": "]"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERALS = {"True": "true", "False": "false", "None": "null", "true": "true", "false": "false", "null": "null"}
_SMART_DOUBLE = "\u201c\u201d\u201e\u00ab\u00bb"
_SMART_SINGLE = "\u2018\u2019"
_MAX_CUTS = 6


def _drop_trailing_comma(out: list[str]) -> None:
    j = len(out) - 1
    while j >= 0 and out[j].isspace():
        j -= 1
    if j >= 0 and out[j] == ",":
        del out[j:]


def _normalise(s: str) -> tuple[list[str], tuple[str, ...], list[tuple[int, tuple[str, ...]]]]:
    """(fixed pieces, open brackets at the end, cut points): a cut point is (piece index, open brackets) of a comma."""
    out: list[str] = []
    stack: list[str] = []
    cuts: list[tuple[int, tuple[str, ...]]] = []
    quote = ""  # the open string's quote char, "" outside strings
    str_start = 0  # piece index where the open string began
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        if quote:
            if ch == "\\" and i + 1 < n:
                nxt = s[i + 1]
                out.append("'" if nxt == "'" else "\\" + nxt)
                i += 2
                continue
            if ch == quote or (quote == '"' and ch in _SMART_DOUBLE) or (quote == "'" and ch in _SMART_SINGLE):
                out.append('"')
                quote = ""
            elif ch == '"':
                out.append('\\"')
            elif ch == "\n":
                out.append("\\n")
            elif ch < " ":
                out.append(" ")
            else:
                out.append(ch)
            i += 1
            continue
        if ch == '"' or ch in _SMART_DOUBLE:
            quote, str_start = '"', len(out)
            out.append('"')
        elif ch == "'" or ch in _SMART_SINGLE:
            quote, str_start = "'", len(out)
            out.append('"')
        elif ch in "{[":
            stack.append(ch)
            out.append(ch)
        elif ch in "}]":
            _drop_trailing_comma(out)
            while stack and _CLOSE[stack[-1]] != ch:
                out.append(_CLOSE[stack.pop()])
            if not stack:
                break  # the candidate object ended; ignore trailing text
            stack.pop()
            out.append(ch)
            if not stack:
                break
        elif ch == ",":
            cuts.append((len(out), tuple(stack)))
            if len(cuts) > 2 * _MAX_CUTS:
                del cuts[:_MAX_CUTS]
            out.append(ch)
        elif ch.isalpha() or ch == "_":
            m = _WORD.match(s, i)
            word = m.group(0) if m else ch
            j = i + len(word)
            while j < n and s[j] in " \t":
                j += 1
            if j < n and s[j] == ":" and stack and stack[-1] == "{":
                out.append(json.dumps(word))  # unquoted key
            else:
                out.append(_LITERALS.get(word, word))
            i += len(word)
            continue
        elif ch == "%":
            pass  # "confidence": 60% -> 60, read as percent later
        elif ch == "#" or (ch == "/" and s.startswith("//", i)):
            nl = s.find("\n", i)  # a comment to end of line
            i = n if nl < 0 else nl
            continue
        else:
            out.append(ch)
        i += 1
    if quote:  # truncated inside a string: drop the partial value ("tests": ["CBC", "TS -> ["CBC"])
        del out[str_start:]
        _drop_trailing_comma(out)
    return out, tuple(stack), cuts


def _close(text: str, stack: tuple[str, ...]) -> str:
    text = text.rstrip()
    if text.endswith(","):
        text = text[:-1]
    elif text.endswith(":"):
        text += " null"
    return text + "".join(_CLOSE[c] for c in reversed(stack))


def loads_lenient(s: str) -> object | None:
    pieces, stack, cuts = _normalise(s)
    attempts = [(len(pieces), stack)] + list(reversed(cuts[-_MAX_CUTS:]))
    for pos, st in attempts:
        text = _close("".join(pieces[:pos]), st)
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            continue
    return None
