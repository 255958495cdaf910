"""One conformance suite for every backend available here: Completion shape, token counts, seeded determinism
(where the backend promises it) and the final-turn prompt. openai_http runs against the real `medaction serve`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from medaction.policies.base import Policy, available, build
from medaction.policies.context import build_context
from medaction.policies.parsing.parser import parse_turn
from medaction.policies.types import Completion, SamplingParams
from policies_fixtures import serve_apps, shared_smol  # noqa: F401 - session fixture

O1 = "A 34-year-old man with two weeks of fatigue, jaundice, dark urine and right upper quadrant pain."
FINAL = ('Done.\n{"final_diagnosis": "Acute hepatitis", "differential": [{"diagnosis": "Acute hepatitis", '
         '"confidence": 0.8}]}')
ORDER = '{"differential": [{"diagnosis": "Hepatitis", "confidence": 0.5}], "pivot": "viral?", "tests": ["LFT"]}'

# backend -> (commits on the last turn as a parsed final diagnosis, deterministic for a seed)
PROMISES = {"heuristic": (True, True), "sim": (True, True), "openai_http": (True, True), "hf": (False, True),
            "scripted": (True, True)}
BACKENDS = [b for b in PROMISES if b in available()]
_cache: dict[str, Policy] = {}


@pytest.fixture(params=BACKENDS)
def backend(request) -> Iterator[tuple[str, Policy, SamplingParams]]:
    name = request.param
    params = SamplingParams(temperature=0.7, max_tokens=6 if name == "hf" else 600)
    if name not in _cache:
        cfg: dict[str, Any] = {}
        if name == "sim":
            cfg = {"time_scale": 0.0}
        elif name == "openai_http":
            cfg = {"base_url": request.getfixturevalue("serve_apps")["clean"], "timeout_s": 30}
        elif name == "scripted":
            cfg = {"turns": [ORDER] * 7 + [FINAL]}
        _cache[name] = shared_smol() if name == "hf" else build(name, cfg)
    yield name, _cache[name], params


def _msgs(turn: int, max_turns: int = 8):
    return build_context(o1=O1, record=[], reasoning=[], turn=turn, max_turns=max_turns, mode="structured")


async def test_completion_shape(backend) -> None:
    name, pol, params = backend
    assert isinstance(pol, Policy)
    out = await pol.complete(_msgs(1), session="conf-1", seed=7, params=params)
    assert isinstance(out, Completion) and isinstance(out.text, str) and out.text.strip()
    for v in (out.prompt_tokens, out.completion_tokens, out.cached_tokens):
        assert isinstance(v, int) and v >= 0
    assert out.prompt_tokens > 0 and out.completion_tokens > 0
    assert out.cached_tokens <= out.prompt_tokens
    assert out.completion_tokens <= params.max_tokens or name in ("heuristic", "scripted")
    assert out.latency_s >= 0


async def test_determinism_for_seed(backend) -> None:
    name, pol, params = backend
    if not PROMISES[name][1]:
        pytest.skip(f"{name} does not promise determinism")
    a = await pol.complete(_msgs(2), session="conf-2", seed=123, params=params)
    b = await pol.complete(_msgs(2), session="conf-2", seed=123, params=params)
    assert a.text == b.text


async def test_final_turn_prompt(backend) -> None:
    name, pol, params = backend
    out = await pol.complete(_msgs(8), session="conf-3", seed=5, params=params)
    turn = parse_turn(out.text)  # never raises, whatever the backend wrote
    if PROMISES[name][0]:
        assert turn.parse == "ok" and turn.final_diagnosis, out.text
    else:
        assert turn.raw == out.text or turn.parse in ("ok", "repaired", "failed")
