"""`sim`: a latency model of an LLM server for benchmarks, answering valid turns drawn from a seeded distribution.

Time = queueing on a per-replica semaphore + prefill (uncached prompt tokens) + decode (completion tokens), spent
with asyncio.sleep scaled by `time_scale` (0 = instant). The optional prefix cache hashes the prompt in chained
blocks, like vLLM's automatic prefix caching, so `cached_tokens` reflects real prefix sharing between branches.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
from collections import OrderedDict
from collections.abc import Sequence

import msgspec

from medaction.policies.base import Backend
from medaction.policies.parsing.turn_text import is_final_turn, render_turn, turn_index
from medaction.policies.types import Completion, Hypothesis, Message, SamplingParams

_DIAGNOSES = (
    "Community-acquired pneumonia", "Acute myocardial infarction", "Pulmonary embolism", "Acute appendicitis",
    "Systemic lupus erythematosus", "Hyperthyroidism", "Iron deficiency anemia", "Acute pancreatitis",
    "Diabetic ketoacidosis", "Infective endocarditis", "Sarcoidosis", "Multiple sclerosis", "Tuberculosis",
    "Cholecystitis", "Nephrolithiasis", "Meningitis", "Celiac disease", "Addison disease",
)
_TESTS = (
    "Complete blood count", "Basic metabolic panel", "Chest X-ray", "Electrocardiogram", "Troponin",
    "CT abdomen", "Lipase", "Urinalysis", "Blood cultures", "Echocardiogram", "TSH", "Antinuclear antibodies",
    "Liver function tests", "D-dimer", "MRI brain", "Lumbar puncture", "Arterial blood gas", "Ferritin",
)
_WORD_RE = re.compile(r"\w+|[^\w\s]")


class SimConfig(msgspec.Struct, frozen=True, kw_only=True):
    prefill_s_per_token: float = 0.0002
    decode_s_per_token: float = 0.02
    concurrency: int = 32  # sequences decoded at once by one replica; more wait in its queue
    prefix_cache: bool = True
    block_size: int = 16
    cache_blocks: int = 20000  # LRU capacity in blocks
    completion_tokens_mean: int = 250
    commit_base: float = 0.1  # P(commit at turn t) = commit_base + commit_slope * t (capped), forced at last turn
    commit_slope: float = 0.12
    time_scale: float = 1.0


def commit_probability(config: SimConfig, turn: int) -> float:
    """P(the sim commits to a final diagnosis at 0-based `turn`); the last turn always commits (not here)."""
    return min(0.95, config.commit_base + config.commit_slope * turn)


class PrefixCache:
    """Chained block hashes over the token stream; a hit on block i implies blocks < i are identical."""

    def __init__(self, block_size: int, capacity: int) -> None:
        self.block_size = block_size
        self.capacity = capacity
        self._blocks: OrderedDict[bytes, None] = OrderedDict()

    def lookup_and_insert(self, tokens: Sequence[str]) -> int:
        """Returns the number of prompt tokens served from cache, then caches every full block of `tokens`."""
        cached, prev, missed = 0, b"", False
        for start in range(0, len(tokens) - self.block_size + 1, self.block_size):
            h = hashlib.blake2b(prev + "\x1f".join(tokens[start : start + self.block_size]).encode(), digest_size=16)
            prev = h.digest()
            if not missed and prev in self._blocks:
                cached += self.block_size
                self._blocks.move_to_end(prev)
            else:
                missed = True
                self._blocks[prev] = None
        while len(self._blocks) > self.capacity:
            self._blocks.popitem(last=False)
        return cached


class SimPolicy:
    def __init__(self, config: SimConfig) -> None:
        if config.concurrency < 1 or config.block_size < 1:
            raise ValueError("sim: concurrency and block_size must be >= 1")
        self.config = config
        self.cache = PrefixCache(config.block_size, config.cache_blocks) if config.prefix_cache else None
        self._sems: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = {}

    def _sem(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        hit = self._sems.get(id(loop))
        if hit is None or hit[0] is not loop:  # ids of closed loops get reused
            hit = self._sems[id(loop)] = (loop, asyncio.Semaphore(self.config.concurrency))
        return hit[1]

    def _text(self, rng: random.Random, messages: Sequence[Message]) -> str:
        c = self.config
        k = rng.randint(2, 4)
        diag = rng.sample(_DIAGNOSES, k)
        weights = sorted((rng.random() for _ in range(k)), reverse=True)
        total = sum(weights) or 1.0
        differential = [Hypothesis(d, round(w / total, 2)) for d, w in zip(diag, weights, strict=True)]
        t = turn_index(messages)
        commit = is_final_turn(messages) or rng.random() < commit_probability(c, t)
        reasoning = (
            f"Considering the findings so far, {diag[0].lower()} is most likely, "
            f"while {diag[1].lower()} remains possible."
        )
        if commit:
            return render_turn(reasoning + " The evidence is sufficient to commit.", differential,
                               final_diagnosis=diag[0])
        tests = rng.sample(_TESTS, rng.randint(1, 3))
        pivot = f"{tests[0]} separates {diag[0]} from {diag[1]}."
        return render_turn(reasoning, differential, pivot=pivot, tests=tests)

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        c = self.config
        prompt = "\n".join(f"<{m.role}>{m.content}" for m in messages)
        tokens = _WORD_RE.findall(prompt)
        digest = hashlib.blake2b(prompt.encode(), digest_size=8).hexdigest()
        rng = random.Random(f"{seed}:{digest}")  # deterministic for (seed, prompt); session only routes
        text = self._text(rng, messages)
        n_out = min(params.max_tokens, max(1, int(rng.expovariate(1.0 / c.completion_tokens_mean))))
        t0 = time.perf_counter()
        async with self._sem():
            cached = self.cache.lookup_and_insert(tokens) if self.cache else 0
            delay = (len(tokens) - cached) * c.prefill_s_per_token + n_out * c.decode_s_per_token
            if c.time_scale > 0:
                await asyncio.sleep(delay * c.time_scale)
            else:
                await asyncio.sleep(0)
        return Completion(
            text=text,
            prompt_tokens=len(tokens),
            completion_tokens=n_out,
            cached_tokens=cached,
            latency_s=time.perf_counter() - t0,
        )


BACKEND = Backend(config_type=SimConfig, factory=SimPolicy)
