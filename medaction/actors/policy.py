"""PolicyActor: one per policy replica. Wraps any registered backend behind an async method, so one replica
serves up to `max_concurrency` requests at once (the driver never sends more). GPU backends get `num_gpus`.

Live weight updates (docs/rl.md, "Weight updates"): `load_weights(update, on_inflight)` swaps a LoRA adapter or full
weights (policies/backends/weights.py) and bumps the replica's version; `complete_versioned` returns the version that
produced each completion. `on_inflight="finish"`: new requests wait at a gate while the requests already running
finish on the old weights, then the swap happens; `"retry"`: the swap happens at once (between two forward
batches, without waiting for the running requests) and a request whose completion returns after the swap is run
again on the new weights. Either way a completion is produced by exactly one version, and the version it reports is
that one (the version is bumped where the new weights go live: `apply_update(on_live=...)`)."""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import ray

from medaction.actors.placement import group_options
from medaction.policies.base import build
from medaction.policies.types import Completion, Message, SamplingParams
from medaction.policies.backends.weights import WeightUpdate, apply_update


@ray.remote
class PolicyActor:
    def __init__(self, backend: str, config: dict[str, Any], replica: int) -> None:
        self.backend = backend
        self.replica = replica
        self.policy = build(backend, config)  # built inside the actor: GPU/model state lives here
        self.calls = 0
        self._sessions: dict[str, int] = {}  # calls per session: lets tests and the summary see stickiness
        self.version = 0
        self.running = 0  # requests inside the backend now
        self.retried = 0  # requests run again because the weights changed under them (on_inflight="retry")
        self.updates: list[dict[str, Any]] = []  # one record per applied update (version, path, timing)
        self.served: deque[tuple[str, int, int, int]] = deque(maxlen=4096)  # (session, seed, version, call no.)
        self._open: asyncio.Event | None = None  # the gate: cleared while a swap waits for in-flight requests
        self._swap: asyncio.Lock | None = None
        self._idle: asyncio.Condition | None = None

    def _sync(self) -> tuple[asyncio.Event, asyncio.Lock, asyncio.Condition]:
        if self._open is None or self._swap is None or self._idle is None:  # created on the actor's event loop
            self._open, self._swap, self._idle = asyncio.Event(), asyncio.Lock(), asyncio.Condition()
            self._open.set()
        return self._open, self._swap, self._idle

    async def complete_versioned(
        self, messages: Sequence[Message], session: str, seed: int, params: SamplingParams
    ) -> tuple[Completion, int]:
        """A completion and the weights version that produced all of it."""
        gate, _, idle = self._sync()
        while True:
            await gate.wait()
            v = self.version
            self.running += 1
            try:
                out = await self.complete(messages, session, seed, params)
            finally:
                self.running -= 1
                async with idle:
                    idle.notify_all()
            if self.version == v:
                self.served.append((session, seed, v, self.calls))
                return out, v
            self.retried += 1  # the weights changed while it ran (on_inflight="retry"): run it again

    async def load_weights(self, update: WeightUpdate, on_inflight: str = "finish") -> dict[str, Any]:
        """Apply `update` without restarting; returns the update record (version, waited_s, load_s, retried)."""
        if on_inflight not in ("finish", "retry"):
            raise ValueError(f"on_inflight must be 'finish' or 'retry', got {on_inflight!r}")
        gate, swap, idle = self._sync()
        async with swap:  # one update at a time
            if update.version <= self.version:
                raise ValueError(f"weights version {update.version} is not newer than the live {self.version}")
            t0 = time.perf_counter()
            gate.clear()
            try:
                if on_inflight == "finish":
                    async with idle:
                        await idle.wait_for(lambda: self.running == 0)
                t1 = time.perf_counter()
                await apply_update(self.policy, update, on_live=lambda: setattr(self, "version", update.version))
                self.version = update.version
            finally:
                gate.set()
            rec = {"version": update.version, "path": update.path, "kind": update.kind, "on_inflight": on_inflight,
                   "waited_s": t1 - t0, "load_s": time.perf_counter() - t1, "at_call": self.calls,
                   "retried_total": self.retried}
            self.updates.append(rec)
            return rec

    async def served_log(self) -> list[tuple[str, int, int, int]]:
        """The last 4096 versioned completions: (session, seed, version, calls so far) in completion order."""
        return list(self.served)

    async def weights(self) -> dict[str, Any]:
        return {"replica": self.replica, "version": self.version, "retried": self.retried,
                "updates": list(self.updates)}

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
        return {"replica": self.replica, "pid": os.getpid(), "calls": self.calls, "version": self.version}


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
