"""A reply's reasoning kept apart from its answer, and the assistant text a turn stores (docs/design.md,
"Reasoning and truncation").

Servers with a reasoning parser return the thoughts in `message.reasoning_content` (or `reasoning`); a local model
writes them inline as `<think>...</think>`, often without the opening tag because the chat template already put it
in the prompt. Backends call `split_think` so every `Completion` carries `reasoning` and `text` (the answer) apart;
the turn loop calls `completion_turn`, which parses the answer and stores the reasoning on the Turn, and writes
`raw` (the SFT target) as `<think>\\n{reasoning}\\n</think>\\n\\n{answer}`: the format reasoning chat templates train on.
"""

from __future__ import annotations

import re

import msgspec

from medaction.policies.parsing.parser import MAX_RAW, parse_turn
from medaction.policies.types import Completion, Mode, Turn

_OPEN = re.compile(r"\A\s*<think>", re.I)
_CLOSE = re.compile(r"</think>", re.I)


def split_think(text: str) -> tuple[str, str]:
    """(reasoning, answer) of a text that may hold one leading think block; ("", text) when it holds none.

    An opening tag with no closing one means the reply stopped while thinking: all of it is reasoning.
    """
    if not isinstance(text, str):
        return "", ""
    close = _CLOSE.search(text)
    opened = _OPEN.match(text)
    if close is None:
        return (text[opened.end():].strip(), "") if opened else ("", text)
    start = opened.end() if opened else 0
    if not opened and "<think>" in text[: close.start()].lower():  # a block that does not lead: not ours to split
        return "", text
    return text[start: close.start()].strip(), text[close.end():].lstrip()


def _cap(text: str, limit: int = MAX_RAW) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n[...]\n" + text[-half:]


def completion_turn(comp: Completion, *, mode: Mode = "structured") -> Turn:
    """The Turn of one completion: its answer parsed, its separate reasoning kept, a token-limit cut marked.

    A reply cut at the token limit is never taken as complete: `truncated=True`, `parse="failed"` (a repaired JSON
    of a cut reply could hold half a diagnosis), whatever the parser made of it.
    """
    turn = parse_turn(comp.text, mode=mode)
    thinking = _cap(comp.reasoning.strip()) if isinstance(comp.reasoning, str) else ""
    if thinking:
        prose = turn.reasoning.strip()
        turn = msgspec.structs.replace(
            turn,
            reasoning=f"{thinking}\n\n{prose}" if prose and prose != turn.raw.strip() else thinking,
            raw=f"<think>\n{thinking}\n</think>\n\n{turn.raw}",
        )
    if comp.finish_reason == "length":
        turn = msgspec.structs.replace(turn, truncated=True, parse="failed")
    return turn
