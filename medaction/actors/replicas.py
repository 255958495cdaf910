"""The one client for a set of policy replicas (PolicyActors), used by the engine's driver, Stage-1 jobs and eval.

- `RemotePolicy`: the Policy for one call on one replica. A backend error surfaces as its own cause (not Ray's
  traceback); a call that times out is cancelled and retried `retries` times, then raises TimeoutError; a replica
  that died raises `ReplicaLost` and sets `lost`, so the caller can re-queue the work on a live replica.
- `ReplicaSet`: the Policy over all replicas of one teacher: case-sticky routing (prefix caches), and on a dead
  replica it marks it dead and re-sends to a live one; when none is left the call fails with PolicyError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, GetTimeoutError, RayActorError, RayTaskError

from medaction.engine.errors import root_cause
from medaction.actors.router import NoLiveReplica, Router
from medaction.policies.base import PolicyError
from medaction.policies.types import Completion, Message, SamplingParams

# A replica that raised one of these is gone (or restarting): the request never reached a model.
REPLICA_DEAD = (ActorDiedError, ActorUnavailableError, RayActorError)


class ReplicaLost(RuntimeError):
    pass


async def awaitable(ref: Any) -> Any:
    return await ref


class RemotePolicy:
    """The Policy for one call on one replica; remembers whether that replica died."""

    def __init__(self, actor: Any, *, timeout_s: float, retries: int) -> None:
        self.actor = actor
        self.timeout_s = timeout_s
        self.retries = retries
        self.lost = False
        self.timeouts = 0
        self.version = 0  # weights version of the last completion (the one that produced the turn)

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        for attempt in range(self.retries + 1):
            ref = self.actor.complete_versioned.remote(tuple(messages), session, seed, params)
            try:
                comp, self.version = await asyncio.wait_for(awaitable(ref), self.timeout_s)
                return comp
            except REPLICA_DEAD as exc:
                self.lost = True
                raise ReplicaLost(f"policy replica died: {type(exc).__name__}") from exc
            except RayTaskError as exc:  # the backend raised: its cause, not Ray's traceback, is the error text
                cause = getattr(exc, "cause", None)
                if isinstance(cause, Exception) and not isinstance(cause, RayTaskError):
                    raise cause from None
                raise PolicyError(root_cause(exc)) from None
            except (asyncio.TimeoutError, TimeoutError, GetTimeoutError):
                self.timeouts += 1
                ray.cancel(ref)
                if attempt == self.retries:
                    raise TimeoutError(f"policy call timed out {attempt + 1}x after {self.timeout_s}s") from None
        raise AssertionError("unreachable")


class ReplicaSet:
    """The Policy protocol over a teacher's replicas; sessions (case ids) stick to one replica."""

    def __init__(self, actors: Sequence[Any], *, timeout_s: float = 600.0, retries: int = 1) -> None:
        self.actors = list(actors)
        self.router = Router(len(self.actors))
        self.timeout_s = timeout_s
        self.retries = retries

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        for _ in range(len(self.actors)):
            try:
                r = self.router.assign(session)
            except NoLiveReplica as exc:
                raise PolicyError(str(exc)) from None
            call = RemotePolicy(self.actors[r], timeout_s=self.timeout_s, retries=self.retries)
            try:
                return await call.complete(messages, session=session, seed=seed, params=params)
            except ReplicaLost:
                self.router.mark_dead(r)  # its other sessions move on their next call
        raise PolicyError("every policy replica died during this request")

    def release(self, session: str) -> None:
        self.router.release(session)
