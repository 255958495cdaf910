"""The JSON an extraction LLM must return, and a tolerant reader for it (model output is untrusted input).

The reader finds the first JSON object anywhere in the text (inside ```json fences or prose), decodes it with
msgspec into `Extraction`, and raises `ExtractParseError` with a reason a human (and the repair prompt) can act on.
"""

from __future__ import annotations

import json
import re

import msgspec


class ExtractedO1(msgspec.Struct, frozen=True, kw_only=True):
    """The initial observation: what a clinician knows before ordering any test (paper 3.3 Stage 1)."""

    chief_complaint: str = ""
    history: str = ""
    examination: str = ""


class ExtractedTest(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    category: str = ""
    result: str = ""


class Extraction(msgspec.Struct, frozen=True, kw_only=True):
    """The whole answer of the extraction model. Unknown keys are ignored; wrong types are errors."""

    o1: ExtractedO1
    tests: tuple[ExtractedTest, ...] = ()
    diagnosis: str = ""


class ExtractParseError(ValueError):
    """The model's text holds no JSON object of the extraction schema; `reason` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def find_json_object(text: str) -> dict[str, object]:
    """The first JSON object in `text`: fenced blocks first, then any `{` that starts a decodable object.

    A fenced block cut short by the token limit has no closing fence; the scan over raw `{` positions still sees it
    and reports it as undecodable rather than silently returning an inner fragment.
    """
    candidates = [m.group(1) for m in _FENCE_RE.finditer(text)] + [text]
    first_error = ""
    for chunk in candidates:
        for start in (i for i, ch in enumerate(chunk) if ch == "{"):
            try:
                obj, _ = _DECODER.raw_decode(chunk, start)
            except json.JSONDecodeError as exc:
                first_error = first_error or f"invalid JSON at char {start}: {exc.msg}"
                continue
            if isinstance(obj, dict):
                return obj
    if first_error:
        raise ExtractParseError(f"no complete JSON object ({first_error}; output cut short?)")
    raise ExtractParseError("no JSON object found in the output")


def _coerce_o1(obj: dict[str, object]) -> dict[str, object]:
    # Accept a plain-string o1 (a common, harmless deviation) as the history; anything else is left to msgspec.
    o1 = obj.get("o1", obj.get("initial_observation"))
    if isinstance(o1, str):
        obj = {**obj, "o1": {"history": o1}}
    elif o1 is not None and "o1" not in obj:
        obj = {**obj, "o1": o1}
    return obj


def decode_extraction(text: str) -> Extraction:
    """Parse a model's answer; raises ExtractParseError naming the offending field."""
    obj = _coerce_o1(find_json_object(text))
    if "o1" not in obj:
        raise ExtractParseError("missing required field 'o1' (object with chief_complaint, history, examination)")
    try:
        return msgspec.convert(obj, Extraction, strict=True)
    except msgspec.ValidationError as exc:
        raise ExtractParseError(f"schema error: {exc}") from None
