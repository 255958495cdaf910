"""OracleActor: hosts the environments of a shard of the active cases (one Oracle object per case inside one
process, not one process per case). The driver adds a case when its trees start and drops it when they end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ray

from medaction.envs.types import Environment, OracleReply


class UnknownCase(KeyError):
    """The case is not hosted here (e.g. the actor restarted and lost its state): the driver re-adds it."""


@ray.remote(num_cpus=0)
class OracleActor:
    def __init__(self, encoder: Any = None) -> None:
        self._oracles: dict[str, Any] = {}
        self._encoder = encoder

    def add(self, *envs: Environment) -> int:
        """Host these cases (ObjectRef arguments are resolved by Ray, so the driver never holds the env)."""
        from medaction.envs.oracle import Oracle

        for env in envs:
            self._oracles[env.case_id] = Oracle(env, encoder=self._encoder)
        return len(self._oracles)

    def drop(self, case_ids: Sequence[str]) -> int:
        for cid in case_ids:
            self._oracles.pop(cid, None)
        return len(self._oracles)

    def answer(self, case_id: str, requests: Sequence[str]) -> list[OracleReply]:
        oracle = self._oracles.get(case_id)
        if oracle is None:
            raise UnknownCase(case_id)
        return oracle.answer(list(requests))

    def size(self) -> int:
        return len(self._oracles)
