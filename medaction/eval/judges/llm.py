"""The LLM judge: any configured policy backend answers MedR-Bench-style coverage and equivalence questions.

Model output is untrusted: verdicts are parsed by `verdicts.py`; an unparseable answer counts as not covered /
Wrong and is counted in `unparsed` (named in the report), never raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import msgspec

from medaction.envs.types import TestItem
from medaction.eval.judges.verdicts import parse_covered, parse_verdict
from medaction.policies.base import Policy, PolicyError
from medaction.policies.types import Message, SamplingParams

JUDGE_PROMPT_VERSION = "eval-judge-v2"

SYSTEM = "You are a meticulous clinical evaluator. Follow the output format exactly."

# MedR-Bench's judging rule, as stated, with no leniency of our own (docs/eval.md).
DIAGNOSIS_PROMPT = """Decide whether a predicted final diagnosis is correct against the ground-truth diagnosis.
Rule (MedR-Bench): the prediction is Correct when it names the true disease or an accepted alias of it, even if it
adds extra detail or complications. It is Wrong when it names only a broader class of the disease or a different
disease.

Ground truth: {truth}
Prediction: {predicted}

Answer with one word on the last line: Correct or Wrong."""

TESTS_PROMPT = """A doctor requested a test. Decide which of the documented tests below cover the request (the
request would return that documented result). A broad request (e.g. "blood work") may cover several items.

Documented tests:
{menu}

Requested test: {request}

Answer on the last line with a JSON object, e.g. {{"covered": [2, 5]}}, or {{"covered": []}} if none."""

# MedR-Bench checks each side's items against the other side's text: the reverse question, per documented test.
TESTS_REVERSE_PROMPT = """A case documents the test below. Decide which of the doctor's requested tests cover it (the
request would return this documented result).

Requested tests:
{requests}

Documented test: {item}

Answer on the last line with a JSON object, e.g. {{"covered": [1, 3]}}, or {{"covered": []}} if none."""


class LLMJudgeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    policy: str = "openai_http"
    policy_config: dict[str, Any] = {}
    max_tokens: int = 512
    concurrency: int = 8


class LLMJudge:
    name = "llm"

    def __init__(self, policy: Policy, *, policy_name: str, max_tokens: int = 512, concurrency: int = 8) -> None:
        self._policy = policy
        self._policy_name = policy_name
        self._params = SamplingParams(temperature=0.0, max_tokens=max_tokens)
        self._concurrency = concurrency
        self._sems: dict[int, asyncio.Semaphore] = {}  # one per event loop: each eval run has its own loop
        self.calls = 0
        self.unparsed = 0

    def describe(self) -> str:
        return f"llm(backend={self._policy_name}, prompts={JUDGE_PROMPT_VERSION}, unparsed={self.unparsed}/{self.calls})"

    async def _ask(self, prompt: str, session: str) -> str:
        sem = self._sems.setdefault(id(asyncio.get_running_loop()), asyncio.Semaphore(self._concurrency))
        async with sem:
            self.calls += 1
            try:
                out = await self._policy.complete(
                    (Message("system", SYSTEM), Message("user", prompt)), session=session, seed=0, params=self._params
                )
            except PolicyError:
                return ""
            return out.text

    async def _one_test(self, request: str, menu: Sequence[TestItem]) -> tuple[int, ...]:
        listing = "\n".join(f"{i + 1}. {_test_label(t)}" for i, t in enumerate(menu))
        return await self._covered(TESTS_PROMPT.format(menu=listing, request=request), len(menu))

    async def _one_item(self, item: TestItem, requests: Sequence[str]) -> tuple[int, ...]:
        listing = "\n".join(f"{i + 1}. {r}" for i, r in enumerate(requests))
        return await self._covered(TESTS_REVERSE_PROMPT.format(requests=listing, item=_test_label(item)),
                                   len(requests))

    async def _covered(self, prompt: str, n: int) -> tuple[int, ...]:
        """The numbered entries (of n) the judge says are covered; () and counted when its reply is unreadable."""
        got = parse_covered(await self._ask(prompt, session="judge-tests"), n)
        if got is None:
            self.unparsed += 1
            return ()
        return got

    async def match_tests(self, requests: Sequence[str], menu: Sequence[TestItem]) -> list[tuple[int, ...]]:
        """MedR-Bench's procedure: each request is checked against the documented tests (precision side) and each
        documented test against the requests (recall side); request i covers item j when either check says so."""
        if not menu or not requests:
            return [() for _ in requests]
        forward = await asyncio.gather(*(self._one_test(r, menu) for r in requests))
        reverse = await asyncio.gather(*(self._one_item(t, requests) for t in menu))
        out = [set(f) for f in forward]
        for j, covered_by in enumerate(reverse):
            for i in covered_by:
                out[i].add(j)
        return [tuple(sorted(s)) for s in out]

    async def same_diagnosis(self, predicted: str, truth: str) -> bool:
        if not predicted.strip():
            return False
        text = await self._ask(DIAGNOSIS_PROMPT.format(truth=truth, predicted=predicted), session="judge-dx")
        v = parse_verdict(text)
        if v is None:
            self.unparsed += 1
            return False
        return v


def build_llm_judge(config: object) -> LLMJudge:
    from medaction.policies.base import build

    cfg = config if isinstance(config, LLMJudgeConfig) else msgspec.convert(config or {}, LLMJudgeConfig)
    policy = build(cfg.policy, cfg.policy_config or None)
    return LLMJudge(policy, policy_name=cfg.policy, max_tokens=cfg.max_tokens, concurrency=cfg.concurrency)


def _test_label(t: TestItem) -> str:
    return t.name + (f" ({t.category})" if t.category else "")
