"""The driver's handles on its actors: a TeacherPool per teacher (replicas + router + in-flight accounting),
and the oracle proxy. Policy calls go through actors/replicas.py (RemotePolicy: timeouts, retries, a dead replica
marks the call `lost` and the driver re-queues the node). Oracle failure handling lives here:
- an oracle that lost its state (restart) gets the case re-added and the call retried."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import ray
from ray.exceptions import RayActorError

from medaction.actors.oracle import OracleActor, UnknownCase
from medaction.actors.placement import group_options
from medaction.actors.policy import start_policy_actors
from medaction.actors.replicas import awaitable
from medaction.actors.router import build_router
from medaction.engine.config import TeacherConfig
from medaction.envs.types import OracleReply
from medaction.policies.types import SamplingParams


def stable_index(key: str, n: int) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") % n


class TeacherPool:
    def __init__(self, tc: TeacherConfig, *, max_restarts: int, queued: Callable[[tuple[str, int]], int]) -> None:
        self.id = tc.id
        self.cfg = tc
        self.cap = tc.max_concurrency
        self.params = msgspec.convert(tc.params, SamplingParams)
        self.actors = start_policy_actors(
            teacher=tc.id, backend=tc.backend, config=tc.config, replicas=tc.replicas,
            max_concurrency=tc.max_concurrency, num_cpus=tc.num_cpus, num_gpus=tc.num_gpus,
            max_restarts=max_restarts, resources=tc.resources, spread=tc.spread,
        )
        self.in_flight = [0] * tc.replicas
        self.router = build_router(tc.routing, tc.replicas, lambda r: self.in_flight[r] + queued((self.id, r)))
        self.nodes = [0] * tc.replicas
        self.deaths = 0

    def lane(self, case_id: str) -> tuple[str, int]:
        return (self.id, self.router.assign(case_id))

    def ready(self) -> None:
        ray.get([a.ping.remote() for a in self.actors])


class OraclePool:
    def __init__(self, n: int, *, max_restarts: int, timeout_s: float, retries: int, oracle: Any = None,
                 cache_dir: str = "") -> None:
        """`oracle`: the run's OracleConfig (None: the phrase matcher; its resources/spread place the actors);
        `cache_dir`: where LLM answers persist."""
        kw: dict[str, Any] = {}
        if oracle is not None and oracle.kind != "matcher":
            kw = {"kind": oracle.kind, "backend": oracle.backend, "backend_config": dict(oracle.config),
                  "settings": {"max_tokens": oracle.max_tokens, "max_result_chars": oracle.max_result_chars},
                  "cache_dir": cache_dir}
        placement = group_options(getattr(oracle, "resources", None), getattr(oracle, "spread", False), max(1, n))
        self.actors = [OracleActor.options(max_restarts=max_restarts, **placement[i])  # type: ignore[attr-defined]
                       .remote(index=i, **kw) for i in range(max(1, n))]
        self.timeout_s = timeout_s
        self.retries = retries

    def ready(self) -> None:
        ray.get([a.size.remote() for a in self.actors])

    def actor_for(self, case_id: str) -> Any:
        return self.actors[stable_index(case_id, len(self.actors))]

    def counts(self) -> dict[str, int]:
        """The LLM oracle's counts summed over the actors (empty for the matcher; a dead actor is left out)."""
        total: Counter[str] = Counter()
        for a in self.actors:
            try:
                total.update(ray.get(a.counts.remote(), timeout=10))
            except Exception:  # noqa: BLE001 - a dead actor cannot answer
                continue
        return dict(sorted(total.items()))

    def add(self, case_id: str, env_ref: Any) -> None:
        self.actor_for(case_id).add.remote(env_ref)

    def drop(self, case_id: str) -> None:
        self.actor_for(case_id).drop.remote([case_id])

    def answer_fn(self, case_id: str, env_ref: Any):  # -> AnswerFn
        actor = self.actor_for(case_id)

        async def answer(requests: Sequence[str]) -> list[OracleReply]:
            for attempt in range(self.retries + 1):
                try:
                    ref = actor.answer.remote(case_id, tuple(requests))
                    return await asyncio.wait_for(awaitable(ref), self.timeout_s)
                except (UnknownCase, RayActorError):  # restarted (state lost) or restarting: re-add and retry
                    if attempt == self.retries:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
                    try:
                        await awaitable(actor.add.remote(env_ref))
                    except RayActorError:
                        pass
            raise AssertionError("unreachable")

        return answer
