"""Shared types of the policy layer: chat messages, completions and parsed turns."""

from __future__ import annotations

from typing import Literal

import msgspec

ParseStatus = Literal["ok", "repaired", "failed"]
Mode = Literal["structured", "free"]


class Message(msgspec.Struct, frozen=True):
    role: str
    content: str


class SamplingParams(msgspec.Struct, frozen=True, kw_only=True):
    temperature: float = 0.6  # paper appendix C
    top_p: float = 1.0
    max_tokens: int = 5500  # paper appendix C
    stop: tuple[str, ...] = ()


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    latency_s: float = 0.0
    reasoning: str = ""  # the model's reasoning when the server/backend gives it apart from the answer (`text`)
    finish_reason: str = ""  # "stop" | "length" (cut at max_tokens) | "abort" | "" (backend does not say)


class Hypothesis(msgspec.Struct, frozen=True):
    diagnosis: str
    confidence: float = 0.0


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One parsed assistant turn: differential b_t, pivot p_t, tests a_t, or a final diagnosis."""

    differential: tuple[Hypothesis, ...] = ()
    pivot: str = ""
    tests: tuple[str, ...] = ()
    final_diagnosis: str | None = None
    reasoning: str = ""
    raw: str = ""  # the assistant text as written; with separate reasoning: "<think>\n...\n</think>\n\n" + answer
    parse: ParseStatus = "ok"
    truncated: bool = False  # the reply was cut at the token limit (finish_reason "length"); parse is then "failed"
