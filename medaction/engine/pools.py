"""The driver's handles on its actors: a TeacherPool per teacher (replicas + router + in-flight accounting),
the remote Policy proxy used by the turn loop, and the oracle proxy. Failure handling lives here:
- a policy call whose replica died marks the proxy `lost` (the driver re-queues the node on a live replica);
- a policy call that times out is retried `call_retries` times, then raises TimeoutError (stop = "timeout");
- an oracle that lost its state (restart) gets the case re-added and the call retried."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import ray
from ray.exceptions import GetTimeoutError, RayActorError

from medaction.actors.oracle import OracleActor, UnknownCase
from medaction.actors.placement import group_options
from medaction.actors.policy import start_policy_actors
from medaction.actors.router import build_router
from medaction.engine.config import TeacherConfig
from medaction.envs.types import OracleReply
from medaction.policies.types import Completion, Message, SamplingParams


class ReplicaLost(RuntimeError):
    pass


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

    def free(self, replica: int) -> int:
        return self.cap - self.in_flight[replica] if replica in self.router.live else 0

    def ready(self) -> None:
        ray.get([a.ping.remote() for a in self.actors])


class RemotePolicy:
    """The Policy the turn loop sees for one node: calls one replica; remembers whether that replica died."""

    def __init__(self, actor: Any, *, timeout_s: float, retries: int) -> None:
        self.actor = actor
        self.timeout_s = timeout_s
        self.retries = retries
        self.lost = False
        self.timeouts = 0

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        for attempt in range(self.retries + 1):
            ref = self.actor.complete.remote(tuple(messages), session, seed, params)
            try:
                return await asyncio.wait_for(_awaitable(ref), self.timeout_s)
            except RayActorError as exc:
                self.lost = True
                raise ReplicaLost(f"policy replica died: {type(exc).__name__}") from exc
            except (asyncio.TimeoutError, TimeoutError, GetTimeoutError):
                self.timeouts += 1
                ray.cancel(ref)
                if attempt == self.retries:
                    raise TimeoutError(f"policy call timed out {attempt + 1}x after {self.timeout_s}s") from None
        raise AssertionError("unreachable")


async def _awaitable(ref: Any) -> Any:
    return await ref


class OraclePool:
    def __init__(self, n: int, *, max_restarts: int, timeout_s: float, retries: int,
                 resources: dict[str, float] | None = None, spread: bool = False) -> None:
        self.actors = [OracleActor.options(max_restarts=max_restarts, **opts).remote()  # type: ignore[attr-defined]
                       for opts in group_options(resources, spread, max(1, n))]
        self.timeout_s = timeout_s
        self.retries = retries

    def ready(self) -> None:
        ray.get([a.size.remote() for a in self.actors])

    def actor_for(self, case_id: str) -> Any:
        return self.actors[stable_index(case_id, len(self.actors))]

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
                    return await asyncio.wait_for(_awaitable(ref), self.timeout_s)
                except (UnknownCase, RayActorError):  # restarted (state lost) or restarting: re-add and retry
                    if attempt == self.retries:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
                    try:
                        await _awaitable(actor.add.remote(env_ref))
                    except RayActorError:
                        pass
            raise AssertionError("unreachable")

        return answer
