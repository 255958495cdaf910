"""Text that offline backends (heuristic, sim) write as if they were an LLM: reasoning, then one JSON object.

Also reads what an offline backend needs from a prompt without knowing the template: whether this is the last turn
(commit now) and the turn index. Both read the prompts module's markers when it provides them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from medaction.policies.types import Hypothesis, Message

# Phrases that mean "commit now" in any sane last-turn instruction (ours and MedR-Bench style).
_FINAL_RE = re.compile(
    r"(final turn|last turn|this is your last|must (now )?(commit|give|provide|state) (a |your |the )?final"
    r"|no more tests|no further tests|do not order (any )?(more )?tests|give your final diagnosis now)",
    re.IGNORECASE,
)
_TURN_RE = re.compile(r"\bturn\s+(\d+)\s*(?:of|/)\s*(\d+)", re.IGNORECASE)


def _instruction(messages: Sequence[Message]) -> str:
    # The instruction is at the end of the last user message (stable prefix first); look only there so a case
    # text that happens to say "last turn" does not trigger a commit.
    for m in reversed(messages):
        if m.role == "user":
            return m.content[-1500:]
    return ""


def is_final_turn(messages: Sequence[Message]) -> bool:
    """Our prompts state "Turn N of M" and carry FINAL_TURN_MARKER on the last turn; only prompts without a turn
    count fall back to generic phrases (a follow-up that merely allows committing must not force it)."""
    tail = _instruction(messages)
    marker = _prompt_marker()
    if marker and marker.lower() in tail.lower():
        return True
    hit = _TURN_RE.findall(tail)
    if hit:
        return int(hit[-1][0]) >= int(hit[-1][1])
    return bool(_FINAL_RE.search(tail))


def turn_index(messages: Sequence[Message]) -> int:
    """0-based turn index when the prompt states it ("Turn 3 of 8"), else the number of assistant messages."""
    hit = _TURN_RE.findall(_instruction(messages))
    if hit:
        return max(0, int(hit[-1][0]) - 1)
    return sum(1 for m in messages if m.role == "assistant")


def _prompt_marker() -> str:
    try:  # written by the turn-loop issue; optional so this module never depends on its progress
        from medaction.policies import prompts
    except ImportError:
        return ""
    return str(getattr(prompts, "FINAL_TURN_MARKER", "") or "")


def render_turn(
    reasoning: str,
    differential: Sequence[Hypothesis],
    *,
    pivot: str = "",
    tests: Sequence[str] = (),
    final_diagnosis: str | None = None,
) -> str:
    """Reasoning paragraph, then a fenced JSON object in the schema of docs/design.md, "The turn loop" (what the parser reads)."""
    diff = [{"diagnosis": h.diagnosis, "confidence": round(float(h.confidence), 3)} for h in differential]
    obj: dict[str, object]
    if final_diagnosis is not None:
        obj = {"final_diagnosis": final_diagnosis, "differential": diff}
    else:
        obj = {"differential": diff, "pivot": pivot, "tests": list(tests)}
    return f"{reasoning.strip()}\n\n```json\n{json.dumps(obj, ensure_ascii=False, indent=1)}\n```"


def approx_tokens(text: str) -> int:
    """Cheap token count for backends without a tokenizer (~ words and punctuation)."""
    return len(re.findall(r"\w+|[^\w\s]", text))
