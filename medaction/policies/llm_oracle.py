"""The LLM oracle: any Policy, prompted with the case's hidden test record, answers a test order from the documented
results or says UNAVAILABLE (paper 3.3 Stage 1 and appendix A "Oracle prompt"; docs/design.md, "Oracle").

It lives in the policies layer because it calls a Policy; `envs.oracle.Oracle` (the phrase matcher) stays the
default and can run first (`matcher_first`): a request the matcher resolves never reaches the model.

The model's reply is untrusted input. It is used only when it is a bounded, complete, non-empty text whose words
come from the documented record (grounding); anything else becomes UNAVAILABLE and is counted under its reason.
Answers are cached per (case, normalised request), with concurrent identical requests sharing one call, so every
branch of a tree sees the same result for the same order; `store` (the OracleActor's) persists them across
restarts of the actor and resumed runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence

import msgspec

from medaction.envs.oracle import MAX_REQUEST_CHARS, Oracle
from medaction.envs.types import UNAVAILABLE, Environment, OracleReply, TestItem
from medaction.policies.base import Policy
from medaction.policies.types import Message, SamplingParams

SYSTEM = (
    "You are the test-result oracle of a clinical case. You hold the case report's documented test results. "
    "A physician orders one test. Answer only from the documented results:\n"
    "- If a documented result answers the order (the same test, a synonym of it, or a panel or study that contains "
    "it), reply with that result, copied from the record, keeping only the part that answers the order.\n"
    f"- Otherwise reply with exactly: {UNAVAILABLE}\n"
    "Never guess, infer, interpret or add a result, and never state a diagnosis the results do not state. "
    "Reply with the result text only: no preamble, no explanation."
)
RESULT_ITEM_CHARS = 4000  # per documented result shown in the prompt


class LLMOracleSettings(msgspec.Struct, frozen=True, kw_only=True):
    matcher_first: bool = False  # ask the phrase matcher first; the model answers only what it cannot match
    max_tokens: int = 512  # reply budget; a reply cut at it is unusable
    max_result_chars: int = 2000  # a longer reply is unusable (a dump of the record is not an answer)
    max_record_chars: int = 60000  # the prompt's record is cut here (documented order kept)
    min_grounding: float = 0.6  # share of the reply's words that must occur in the documented record


def normalise_request(request: str) -> str:
    """The cache key of an order: case-folded, whitespace collapsed, edge punctuation dropped, length bounded."""
    text = " ".join(str(request)[:MAX_REQUEST_CHARS].split()).casefold()
    return text.strip(" .,;:!?\"'`()[]{}")


def _label(t: TestItem) -> str:
    return f"{t.category} > {t.name}" if t.category else t.name


def record_text(tests: Sequence[TestItem], limit: int) -> str:
    lines, used = [], 0
    for i, t in enumerate(tests, 1):
        result = " ".join(t.result.split())[:RESULT_ITEM_CHARS]
        line = f"{i}. {_label(t)}: {result or '(no result text)'}"
        if used + len(line) > limit:
            lines.append(f"[{len(tests) - i + 1} more documented tests cut for length]")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines) if lines else "(no documented tests)"


def oracle_messages(env: Environment, request: str, settings: LLMOracleSettings) -> tuple[Message, ...]:
    """The exact prompt: system rules, then the record (a stable per-case prefix for KV reuse), then the order."""
    user = (f"Documented test results:\n{record_text(env.tests, settings.max_record_chars)}\n\n"
            f"Ordered test: {' '.join(str(request)[:MAX_REQUEST_CHARS].split())}")
    return (Message("system", SYSTEM), Message("user", user))


_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_UNAVAILABLE = re.compile(r"\A\W*unavailable\W*\Z", re.I)
_FENCE = re.compile(r"\A```[a-z]*\s*|\s*```\Z", re.I)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.casefold()) if len(w) > 1 or w.isdigit()}


def check_reply(text: str, finish_reason: str, tests: Sequence[TestItem],
                settings: LLMOracleSettings) -> tuple[str | None, str]:
    """(result or None for UNAVAILABLE, outcome). Outcomes: available, unavailable, and the unusable ones:
    truncated, empty, too_long, ungrounded."""
    if finish_reason == "length":
        return None, "truncated"
    reply = _FENCE.sub("", str(text).strip()).strip().strip('"').strip()
    if not reply:
        return None, "empty"
    if _UNAVAILABLE.match(reply):
        return None, "unavailable"
    if len(reply) > settings.max_result_chars:
        return None, "too_long"
    words = _words(reply)
    known = set().union(*(_words(f"{_label(t)} {t.result}") for t in tests)) if tests else set()
    if not words or len(words & known) / len(words) < settings.min_grounding:
        return None, "ungrounded"
    return reply, "available"


def matched_items(reply: str, tests: Sequence[TestItem]) -> tuple[str, ...]:
    """Labels of the documented items the reply was taken from: the best-covering item, and any other item that
    holds at least half of the reply's words."""
    words = _words(reply)
    if not words:
        return ()
    cover = [len(words & _words(t.result)) / len(words) for t in tests]
    best = max(cover, default=0.0)
    if best == 0.0:
        return ()
    return tuple(_label(t) for t, c in zip(tests, cover, strict=True) if c == best or c >= 0.5)


def _seed(case_id: str, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{case_id}\x00{key}".encode()).digest()[:4], "big")


class LLMOracle:
    """Answers one case's orders with a Policy at temperature 0; one cached answer per normalised order."""

    def __init__(
        self,
        env: Environment,
        policy: Policy,
        *,
        settings: LLMOracleSettings = LLMOracleSettings(),
        matcher: Oracle | None = None,
        cache: dict[str, OracleReply] | None = None,
        stats: Counter[str] | None = None,
        store: Callable[[str, str, OracleReply], None] | None = None,
    ) -> None:
        self.env = env
        self.policy = policy
        self.settings = settings
        self.matcher = matcher if matcher is not None else (Oracle(env) if settings.matcher_first else None)
        self.cache: dict[str, OracleReply] = {} if cache is None else cache
        self.stats: Counter[str] = Counter() if stats is None else stats
        self._store = store
        self._inflight: dict[str, asyncio.Future[OracleReply]] = {}

    async def answer(self, requests: Sequence[str]) -> list[OracleReply]:
        return list(await asyncio.gather(*(self.answer_one(r) for r in requests)))

    async def answer_one(self, request: str) -> OracleReply:
        request = request if isinstance(request, str) else str(request)
        self.stats["requests"] += 1
        key = normalise_request(request)
        if not key:
            return OracleReply(request=request)
        hit = self.cache.get(key)
        if hit is None and key in self._inflight:  # a sibling branch is asking the same right now
            hit = await asyncio.shield(self._inflight[key])
        if hit is not None:
            self.stats["cache_hits"] += 1
            return msgspec.structs.replace(hit, request=request)
        fut: asyncio.Future[OracleReply] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            reply = await self._resolve(request, key)
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiting siblings re-raise it, nobody logs "never retrieved"
            raise
        finally:
            self._inflight.pop(key, None)
        fut.set_result(reply)
        self.cache[key] = reply
        if self._store is not None:
            self._store(self.env.case_id, key, reply)
        return reply

    async def _resolve(self, request: str, key: str) -> OracleReply:
        if self.matcher is not None:
            first = self.matcher.answer_one(request)
            if first.available:
                self.stats["matcher"] += 1
                return first
        s = self.settings
        self.stats["llm_calls"] += 1
        # Transport failures after the backend's own retries raise: the line ends with an error rather than being
        # told that a documented test is UNAVAILABLE.
        comp = await self.policy.complete(
            oracle_messages(self.env, request, s), session=self.env.case_id, seed=_seed(self.env.case_id, key),
            params=SamplingParams(temperature=0.0, top_p=1.0, max_tokens=s.max_tokens))
        result, outcome = check_reply(comp.text, comp.finish_reason, self.env.tests, s)
        self.stats[f"llm_{outcome}" if outcome in ("available", "unavailable") else f"unusable_{outcome}"] += 1
        if result is None:
            return OracleReply(request=request)
        return OracleReply(request=request, matched=matched_items(result, self.env.tests), result=result,
                           available=True)
