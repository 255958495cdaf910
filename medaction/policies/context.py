"""The context builder: the turn-t prompt from o1, the cumulative test record and the last two reasoning blocks.

Layout (paper 3.3 Stage 2; DESIGN "The turn loop"): [system, user]. The user message is
  presentation (o1) | record of every test ordered so far, grouped by turn, append-only | last two reasoning blocks
  | the turn instruction.
Everything up to the end of the record is append-only across turns, so turn t+1's prompt starts with turn t's
prompt up to the end of turn t's record: branches and later turns share that prefix in the server's KV cache.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from medaction.envs.types import UNAVAILABLE, OracleReply
from medaction.policies.prompts import system_prompt, templates, turn_instruction
from medaction.policies.types import Message, Mode, Turn

REASONING_TURNS = 2  # the paper keeps the model's reasoning from the last two turns only
REASONING_CHARS = 4000  # per block; the end of a reasoning text holds its conclusions, so the tail is kept
RESULT_CHARS = 4000  # per test result in the record

# Why a reply cannot be used as it is (the loop decides; the repair prompt names it)
Problem = Literal["no_json", "no_action", "must_commit", "truncated"]


def _clip_tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "[...] " + text[-limit:]


def _clip_head(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"


def _one_line(text: str) -> str:
    return " ".join(text.split())


_THINK_TAG = re.compile(r"</?think>", re.I)


def reasoning_block(turn: Turn) -> str:
    """What of a turn later prompts carry: its prose reasoning, differential and pivot (tests are in the record).

    Reasoning models wrap thoughts in <think> tags; inside a user message the tags would read as a live thinking
    block, so they are dropped (the text is kept).
    """
    parts: list[str] = []
    prose = _THINK_TAG.sub("", turn.reasoning).strip()
    if prose:
        parts.append(_clip_tail(prose, REASONING_CHARS))
    if turn.differential:
        ddx = "; ".join(f"{h.diagnosis} ({h.confidence:.2f})" for h in turn.differential)
        parts.append(f"Differential: {ddx}")
    if turn.pivot:
        parts.append(f"Pivot: {_one_line(turn.pivot)}")
    if turn.final_diagnosis:
        parts.append(f"Final diagnosis: {turn.final_diagnosis}")
    return "\n".join(parts) if parts else "(no reasoning given)"


def record_text(record: Sequence[tuple[int, OracleReply]]) -> str:
    """The cumulative record: every (turn, reply) in order, grouped under 'Turn k:' headers; UNAVAILABLE kept."""
    sec = templates().sections
    lines: list[str] = []
    current = None
    for turn, reply in record:
        if turn != current:
            lines.append(sec.record_turn.format(turn=turn))
            current = turn
        result = _one_line(reply.result) if reply.available else UNAVAILABLE
        lines.append(sec.record_item.format(request=_one_line(reply.request), result=_clip_head(result, RESULT_CHARS)))
    return "\n".join(lines)


def build_context(
    *,
    o1: str,
    record: Sequence[tuple[int, OracleReply]],
    reasoning: Sequence[str],
    turn: int,
    max_turns: int,
    mode: Mode,
) -> tuple[Message, ...]:
    """Messages for 1-based `turn`. `reasoning` holds one block per completed turn; only the last two are shown."""
    sec = templates().sections
    parts = [f"{sec.presentation}\n{o1.strip()}"]
    if record:
        parts.append(f"{sec.record}\n{record_text(record)}")
    first_shown = max(0, len(reasoning) - REASONING_TURNS)
    if len(reasoning) > first_shown:
        blocks = [
            f"{sec.reasoning_turn.format(turn=i + 1)}\n{reasoning[i]}" for i in range(first_shown, len(reasoning))
        ]
        parts.append(f"{sec.reasoning}\n" + "\n\n".join(blocks))
    parts.append(f"{sec.task}\n{turn_instruction(mode, turn, max_turns)}")
    return (Message("system", system_prompt(mode)), Message("user", "\n\n".join(parts)))


def repair_messages(messages: Sequence[Message], bad_text: str, problem: Problem) -> tuple[Message, ...]:
    """The one repair retry: the original prompt, the unusable reply, and a short corrective message."""
    rep = templates().repair
    text = {"no_json": rep.no_json, "no_action": rep.no_action, "must_commit": rep.must_commit,
            "truncated": rep.truncated}[problem]
    return (*messages, Message("assistant", _clip_head(bad_text, 20000)), Message("user", text))
