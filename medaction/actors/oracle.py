"""OracleActor: hosts the environments of a shard of the active cases (one oracle object per case inside one
process, not one process per case). The driver adds a case when its trees start and drops it when they end.

kind "matcher" (default): the phrase matcher. kind "llm" / "matcher+llm": the LLM oracle (policies/llm_oracle.py)
with its backend built here; its answer cache is this actor's state, per case, and is appended to
`<cache_dir>/oracle-<index>.jsonl` so that a restarted actor (same constructor arguments) or a resumed run reloads
every answer already given (docs/design.md, "Oracle")."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

import msgspec
import ray

from medaction.engine.config import OracleKind
from medaction.envs.types import Environment, OracleReply

log = logging.getLogger(__name__)
KINDS: tuple[str, ...] = get_args(OracleKind)


class UnknownCase(KeyError):
    """The case is not hosted here (e.g. the actor restarted and lost its state): the driver re-adds it."""


class _CacheLine(msgspec.Struct, frozen=True):
    case: str
    key: str
    reply: OracleReply


@ray.remote(num_cpus=0)
class OracleActor:
    def __init__(self, encoder: Any = None, *, kind: str = "matcher", backend: str = "",
                 backend_config: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
                 cache_dir: str = "", index: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"oracle kind must be one of {KINDS}, got {kind!r}")
        self._oracles: dict[str, Any] = {}
        self._encoder = encoder
        self._kind = kind
        self.stats: Counter[str] = Counter()
        self._caches: dict[str, dict[str, OracleReply]] = {}
        self._policy: Any = None
        self._settings: Any = None
        self._file: Any = None
        if kind != "matcher":
            from medaction.policies.base import build
            from medaction.policies.llm_oracle import LLMOracleSettings

            self._policy = build(backend, backend_config or {})
            self._settings = msgspec.convert({**(settings or {}), "matcher_first": kind == "matcher+llm"},
                                             LLMOracleSettings)
            if cache_dir:
                self._open_cache(Path(cache_dir), index)

    def _open_cache(self, folder: Path, index: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        dec = msgspec.json.Decoder(_CacheLine)
        for f in sorted(folder.glob("oracle-*.jsonl")):  # every actor's file: the actor count may change on resume
            with f.open("rb") as fh:
                for line in fh:
                    try:
                        e = dec.decode(line)
                    except msgspec.DecodeError:  # a line cut by a crash mid-write: that answer is asked again
                        self.stats["cache_bad_lines"] += 1
                        continue
                    self._caches.setdefault(e.case, {})[e.key] = e.reply
                    self.stats["cache_loaded"] += 1
        self._file = (folder / f"oracle-{index}.jsonl").open("ab")

    def _store(self, case_id: str, key: str, reply: OracleReply) -> None:
        if self._file is not None:
            self._file.write(msgspec.json.encode(_CacheLine(case_id, key, reply)) + b"\n")
            self._file.flush()

    def add(self, *envs: Environment) -> int:
        """Host these cases (ObjectRef arguments are resolved by Ray, so the driver never holds the env)."""
        from medaction.envs.oracle import Oracle

        for env in envs:
            if self._kind == "matcher":
                self._oracles[env.case_id] = Oracle(env, encoder=self._encoder)
                continue
            from medaction.policies.llm_oracle import LLMOracle

            matcher = Oracle(env, encoder=self._encoder) if self._settings.matcher_first else None
            self._oracles[env.case_id] = LLMOracle(
                env, self._policy, settings=self._settings, matcher=matcher,
                cache=self._caches.setdefault(env.case_id, {}), stats=self.stats, store=self._store)
        return len(self._oracles)

    def drop(self, case_ids: Sequence[str]) -> int:
        for cid in case_ids:
            self._oracles.pop(cid, None)
            self._caches.pop(cid, None)  # its trees are done; the file keeps the answers for a restart or resume
        return len(self._oracles)

    async def answer(self, case_id: str, requests: Sequence[str]) -> list[OracleReply]:
        oracle = self._oracles.get(case_id)
        if oracle is None:
            raise UnknownCase(case_id)
        if self._kind == "matcher":
            return oracle.answer(list(requests))
        return await oracle.answer(list(requests))

    def size(self) -> int:
        return len(self._oracles)

    def counts(self) -> dict[str, int]:
        """What the LLM oracle did: requests, cache hits, matcher first-pass hits, model answers by outcome."""
        return dict(self.stats)
