"""PolicyActor: one per policy replica. Wraps any registered backend behind an async method, so one replica
serves up to `max_concurrency` requests at once (the driver never sends more). GPU backends get `num_gpus`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import ray

from medaction.actors.placement import group_options
from medaction.policies.base import build
from medaction.policies.types import Completion, Message, SamplingParams


@ray.remote
class PolicyActor:
    def __init__(self, backend: str, config: dict[str, Any], replica: int) -> None:
        self.backend = backend
        self.replica = replica
        self.policy = build(backend, config)  # built inside the actor: GPU/model state lives here
        self.calls = 0
        self._sessions: dict[str, int] = {}  # calls per session: lets tests and the summary see stickiness

    async def complete(
        self, messages: Sequence[Message], session: str, seed: int, params: SamplingParams
    ) -> Completion:
        self.calls += 1
        self._sessions[session] = self._sessions.get(session, 0) + 1
        return await self.policy.complete(messages, session=session, seed=seed, params=params)

    async def sessions(self) -> dict[str, int]:
        return dict(self._sessions)

    async def batch_sizes(self) -> list[int]:
        """Micro-batch sizes the backend ran, for backends that batch (hf); empty otherwise."""
        return list(getattr(self.policy, "batches", ()))

    async def ping(self) -> dict[str, Any]:
        return {"replica": self.replica, "pid": os.getpid(), "calls": self.calls}


def start_policy_actors(
    *, teacher: str, backend: str, config: dict[str, Any], replicas: int, max_concurrency: int,
    num_cpus: float, num_gpus: float, max_restarts: int, resources: dict[str, float] | None = None,
    spread: bool = False,
) -> list[Any]:
    placement = group_options(resources, spread, replicas, num_cpus=num_cpus, num_gpus=num_gpus)
    return [
        PolicyActor.options(  # type: ignore[attr-defined]
            name=None,
            max_concurrency=max_concurrency,
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            max_restarts=max_restarts,
            max_task_retries=0,  # the driver re-queues lost nodes itself, on a live replica
            **placement[i],
        ).remote(backend, config, i)
        for i in range(replicas)
    ]
