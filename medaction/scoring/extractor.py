"""Hypothesis extractors: b_t for a turn that wrote no structured differential (free-form reasoning), so DTC and
RAC score free-form trajectories like structured ones (docs/design.md "What cannot be measured").

- "rules" (default): the parser's free-text path (`policies.parser_hypotheses.extract_hypotheses`).
- "policy": any registered Policy, asked at temperature 0 to list the diagnoses the reasoning considers, leading one
  first, as {"differential": [...]}; its reply is read by the turn parser. Replies are cached per text, so a
  prefix shared by branches is asked once. A failing policy falls back to the rules for that text.
- "none": no extraction (a free-form turn then has no top-1 and is not measured).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, Protocol, get_args

from medaction.policies.parsing.parser import parse_turn
from medaction.policies.parsing.hypotheses import extract_hypotheses
from medaction.policies.types import Message, SamplingParams

ExtractorKind = Literal["rules", "policy", "none"]
EXTRACTORS: tuple[str, ...] = get_args(ExtractorKind)
MAX_TEXT = 12_000  # chars of reasoning sent to a policy extractor (the tail: the current thinking)

_SYSTEM = ("You read a physician's free-form diagnostic reasoning and list the diagnoses it is considering. "
           "Put the one the physician currently favours first. Use only diagnoses named in the text; do not add "
           'your own. Reply with one JSON object: {"differential": [{"diagnosis": "...", "confidence": 0.0}]}; '
           'if the text names no diagnosis, reply {"differential": []}.')


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine from sync scoring code, also when the caller is itself inside an event loop (the gold job)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Extractor(Protocol):
    name: str

    def extract(self, text: str) -> tuple[str, ...]: ...


class RuleExtractor:
    name = "rules"

    def extract(self, text: str) -> tuple[str, ...]:
        return tuple(h.diagnosis for h in extract_hypotheses(text))


class NoExtractor:
    name = "none"

    def extract(self, text: str) -> tuple[str, ...]:
        return ()


class PolicyExtractor:
    """A Policy as extractor. `policy` is anything with the Policy protocol's async `complete`."""

    name = "policy"

    def __init__(self, policy: Any, *, max_tokens: int = 512, cache_size: int = 4096) -> None:
        self.policy = policy
        self.params = SamplingParams(temperature=0.0, max_tokens=max_tokens)
        self.rules = RuleExtractor()
        self.cache: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self.cache_size = cache_size
        self.failures = 0  # texts the policy could not answer (the rules answered instead)

    def extract(self, text: str) -> tuple[str, ...]:
        text = text[-MAX_TEXT:]
        key = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        hit = self.cache.get(key)
        if hit is not None:
            self.cache.move_to_end(key)
            return hit
        msgs = (Message("system", _SYSTEM), Message("user", f"Reasoning:\n{text}"))
        try:
            comp = _run(self.policy.complete(msgs, session=f"extract-{key}", seed=0, params=self.params))
            turn = parse_turn(comp.text)
            out = tuple(h.diagnosis for h in turn.differential if h.diagnosis.strip())
            if turn.final_diagnosis and turn.final_diagnosis.strip():
                out = (turn.final_diagnosis.strip(), *(d for d in out if d != turn.final_diagnosis.strip()))
            if turn.parse == "failed":
                raise ValueError("unreadable extractor reply")
        except Exception:  # noqa: BLE001 - a model reply or a dead server must not stop scoring
            self.failures += 1
            out = self.rules.extract(text)
        self.cache[key] = out
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return out


def build_extractor(kind: str, policy: str = "", policy_config: dict[str, Any] | None = None) -> Extractor:
    if kind == "rules":
        return RuleExtractor()
    if kind == "none":
        return NoExtractor()
    if kind == "policy":
        if not policy:
            raise ValueError("extractor = 'policy' needs extractor_policy (a registered policy backend)")
        from medaction.policies.base import build

        return PolicyExtractor(build(policy, dict(policy_config or {})))
    raise ValueError(f"extractor: {kind!r} not one of {', '.join(EXTRACTORS)}")
