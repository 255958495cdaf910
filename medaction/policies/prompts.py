"""Versioned prompt templates of the diagnostic turn loop; the texts live in data/prompts_<version>.toml.

Templates are data so they can be reviewed and versioned without touching code; shard rows carry PROMPT_VERSION.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Sequence
from importlib import resources

import msgspec

from medaction.policies.types import Message, Mode

PROMPT_VERSION = "v1"


class ModeTemplates(msgspec.Struct, frozen=True, kw_only=True):
    system: str
    initial: str
    followup: str
    last: str


class Sections(msgspec.Struct, frozen=True, kw_only=True):
    presentation: str
    record: str
    reasoning: str
    task: str
    record_turn: str
    record_item: str
    reasoning_turn: str


class Repair(msgspec.Struct, frozen=True, kw_only=True):
    no_json: str
    no_action: str
    must_commit: str
    truncated: str


class Templates(msgspec.Struct, frozen=True, kw_only=True):
    structured: ModeTemplates
    free: ModeTemplates
    sections: Sections
    repair: Repair

    def for_mode(self, mode: Mode) -> ModeTemplates:
        if mode == "structured":
            return self.structured
        if mode == "free":
            return self.free
        raise ValueError(f"unknown prompt mode {mode!r}; expected 'structured' or 'free'")


@functools.cache
def templates(version: str = PROMPT_VERSION) -> Templates:
    """Load and validate one template version (cached: files are read once per process)."""
    name = f"prompts_{version}.toml"
    path = resources.files("medaction.policies") / "data" / name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        tpl = msgspec.convert(raw, Templates)
    except (FileNotFoundError, tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"medaction/policies/data/{name}: bad prompt templates: {exc}") from exc
    return msgspec.structs.replace(
        tpl,
        structured=_strip(tpl.structured),
        free=_strip(tpl.free),
    )


def _strip(m: ModeTemplates) -> ModeTemplates:
    # TOML multi-line strings start with a newline for readability; the prompt must not.
    return ModeTemplates(
        system=m.system.strip(), initial=m.initial.strip(), followup=m.followup.strip(), last=m.last.strip()
    )


def system_prompt(mode: Mode) -> str:
    return templates().for_mode(mode).system


def turn_instruction(mode: Mode, turn: int, max_turns: int) -> str:
    """The instruction of 1-based turn `turn`: initial, follow-up, or the last turn that forces commitment."""
    tpl = templates().for_mode(mode)
    if turn >= max_turns:
        text = tpl.last
    elif turn == 1:
        text = tpl.initial
    else:
        text = tpl.followup
    return text.format(turn=turn, max_turns=max_turns)


FINAL_TURN_MARKER = "this is your last turn"  # in every last-turn instruction; offline backends look for it
_TURN_MARK = re.compile(r"Turn (\d+) of (\d+)")


def turn_number(messages: Sequence[Message]) -> int | None:
    """The 1-based turn number that our builder wrote into the last user message, or None if absent."""
    for msg in reversed(messages):
        if msg.role == "user":
            found = _TURN_MARK.findall(msg.content[-4000:])
            if found:
                return int(found[-1][0])
    return None
