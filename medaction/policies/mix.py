"""Multi-teacher mixes: a run names several policies with shares; each (case, root) is assigned one teacher.

The assignment is a pure function of (run seed, case id, root index) so a resumed or re-sharded run assigns the same
teacher to the same root, on any worker, without coordination. Shares are honoured in expectation: each root draws
u ~ U[0, 1) from a hash and picks the teacher whose cumulative share interval holds u.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import Any

import msgspec


class TeacherSpec(msgspec.Struct, frozen=True, kw_only=True):
    policy_id: str  # written on every row (e.g. "gpt-mini", "baichuan-m3")
    backend: str  # registry name (openai_http, vllm, heuristic, ...)
    config: dict[str, Any] = {}
    share: float = 1.0


class Mix(msgspec.Struct, frozen=True, kw_only=True):
    teachers: tuple[TeacherSpec, ...]

    def __post_init__(self) -> None:
        if not self.teachers:
            raise ValueError("mix: at least one teacher is required")
        ids = [t.policy_id for t in self.teachers]
        if len(set(ids)) != len(ids):
            raise ValueError(f"mix: duplicate policy_id in {ids}")
        bad = [t.policy_id for t in self.teachers if not t.share > 0]
        if bad:
            raise ValueError(f"mix: share must be > 0 for {bad}")

    def bounds(self) -> list[float]:
        """Upper cumulative bounds of the normalised shares (last one is exactly 1)."""
        total = sum(t.share for t in self.teachers)
        acc, out = 0.0, []
        for t in self.teachers:
            acc += t.share / total
            out.append(acc)
        out[-1] = 1.0
        return out


def unit_hash(*parts: object) -> float:
    """A stable uniform draw in [0, 1) from the parts (blake2b; Python's hash() is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign_teacher(run_seed: int, case_id: str, root_index: int, mix: Mix) -> str:
    u = unit_hash("teacher", run_seed, case_id, root_index)
    return mix.teachers[bisect.bisect_right(mix.bounds(), u)].policy_id
