"""sim backend: valid turns, seeded determinism, real prefix caching by block hashing, queueing per replica."""

from __future__ import annotations

import asyncio
import time

from medaction.policies.base import build
from medaction.policies.context import build_context
from medaction.policies.parsing.parser import parse_turn
from medaction.policies.backends.sim import PrefixCache, SimConfig, SimPolicy
from medaction.policies.types import Message, SamplingParams

O1 = "A 62-year-old woman presents with three days of fever, productive cough and pleuritic chest pain."
PARAMS = SamplingParams(max_tokens=400)


def _msgs(turn: int, max_turns: int = 8) -> tuple[Message, ...]:
    return build_context(o1=O1, record=[], reasoning=[], turn=turn, max_turns=max_turns, mode="structured")


async def test_turns_parse_and_last_turn_commits() -> None:
    pol = build("sim", {"time_scale": 0.0})
    for seed in range(20):
        out = await pol.complete(_msgs(1), session="c", seed=seed, params=PARAMS)
        turn = parse_turn(out.text)
        assert turn.parse == "ok" and turn.differential
        assert turn.final_diagnosis or turn.tests
        last = parse_turn((await pol.complete(_msgs(8), session="c", seed=seed, params=PARAMS)).text)
        assert last.final_diagnosis  # the last-turn instruction forces a commit


async def test_commit_probability_rises_with_turn() -> None:
    pol = SimPolicy(SimConfig(time_scale=0.0, prefix_cache=False))

    async def rate(turn: int) -> float:
        outs = [await pol.complete(_msgs(turn, 20), session="c", seed=s, params=PARAMS) for s in range(150)]
        return sum(parse_turn(o.text).final_diagnosis is not None for o in outs) / 150

    early, late = await rate(1), await rate(6)
    assert early < 0.25 and late > 0.55 and late > early


async def test_deterministic_for_seed() -> None:
    pol = build("sim", {"time_scale": 0.0, "prefix_cache": False})
    a = await pol.complete(_msgs(2), session="x", seed=9, params=PARAMS)
    b = await pol.complete(_msgs(2), session="y", seed=9, params=PARAMS)
    c = await pol.complete(_msgs(2), session="x", seed=10, params=PARAMS)
    assert (a.text, a.completion_tokens) == (b.text, b.completion_tokens)
    assert a.text != c.text


def test_prefix_cache_counts_shared_blocks_only() -> None:
    cache = PrefixCache(block_size=4, capacity=100)
    base = [f"t{i}" for i in range(20)]
    assert cache.lookup_and_insert(base) == 0
    assert cache.lookup_and_insert(base) == 20
    branch = base[:10] + ["other"] * 10  # shares the first 2 full blocks (8 tokens)
    assert cache.lookup_and_insert(branch) == 8
    changed_first = ["x"] + base[1:]
    assert cache.lookup_and_insert(changed_first) == 0  # chained hashes: later blocks do not hit
    small = PrefixCache(block_size=4, capacity=2)
    small.lookup_and_insert(base)
    assert small.lookup_and_insert(base) == 0  # evicted: only the 2 most recent blocks are kept


async def test_cached_tokens_real_and_queueing_by_concurrency() -> None:
    pol = SimPolicy(SimConfig(time_scale=1.0, prefill_s_per_token=0.0, decode_s_per_token=0.0005,
                              completion_tokens_mean=100, concurrency=2))
    first = await pol.complete(_msgs(1), session="c", seed=1, params=SamplingParams(max_tokens=100))
    again = await pol.complete(_msgs(1), session="c", seed=2, params=SamplingParams(max_tokens=100))
    assert first.cached_tokens == 0 and again.cached_tokens > 0.8 * again.prompt_tokens
    fixed = SamplingParams(max_tokens=40)
    pol = SimPolicy(SimConfig(time_scale=1.0, prefill_s_per_token=0.0, decode_s_per_token=0.001,
                              completion_tokens_mean=10**7, concurrency=2))  # every draw is capped at 40

    async def timed(n: int) -> float:
        t0 = time.perf_counter()
        outs = await asyncio.gather(*(pol.complete(_msgs(1), session="c", seed=s, params=fixed) for s in range(n)))
        assert all(o.completion_tokens == 40 for o in outs)
        return time.perf_counter() - t0

    two, eight = await timed(2), await timed(8)
    assert eight > 2.0 * two  # 8 requests on 2 slots queue: ~4 rounds vs 1


def test_final_turn_detection_only_on_the_last_turn() -> None:
    from medaction.policies.parsing.turn_text import is_final_turn, turn_index

    assert [is_final_turn(_msgs(t, 4)) for t in (1, 2, 3, 4)] == [False, False, False, True]
    assert [turn_index(_msgs(t, 4)) for t in (1, 2, 3, 4)] == [0, 1, 2, 3]
    foreign = (Message("user", "Findings above. This is your last turn: give your final diagnosis now."),)
    assert is_final_turn(foreign) and not is_final_turn((Message("user", "Order tests or commit."),))
