"""The JSON an extraction LLM must return, and a tolerant reader for it (model output is untrusted input).

The reader finds the last complete JSON object anywhere in the text (inside ```json fences or prose), decodes it with
msgspec into `Extraction`, and raises `ExtractParseError` with a reason a human (and the repair prompt) can act on.
"""

from __future__ import annotations

import msgspec

from medaction.policies.parsing import parser


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


def find_json_object(text: str) -> dict[str, object]:
    """The last complete JSON object in `text` (fenced or in prose), read by the turn parser's bounded reader.

    An object still open at the end (cut short by the token limit) is refused, not silently closed: an extraction
    missing its tail would drop tests or the diagnosis without anyone noticing.
    """
    hit = parser.find_json_object(text[-parser.MAX_SCAN :], allow_truncated=False)
    if hit is not None:
        return hit.obj
    if parser.has_open_object(text[-parser.MAX_SCAN :]):
        raise ExtractParseError("no complete JSON object (an object is still open at the end; output cut short?)")
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
