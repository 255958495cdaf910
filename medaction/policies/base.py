"""The Policy protocol and the table of backends (name -> module exposing `BACKEND`), see medaction/registry.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import msgspec

from medaction.policies.types import Completion, Message, SamplingParams
from medaction.registry import Registry


@runtime_checkable
class Policy(Protocol):
    """An async chat policy. `session` is the case id: routers keep a session on one replica for prefix caching."""

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        session: str,
        seed: int,
        params: SamplingParams,
    ) -> Completion: ...


class PolicyError(RuntimeError):
    """A policy failed after its own retries; the trajectory is kept with stop = policy_error."""


PolicyFactory = Callable[[Any], Policy]


@dataclass(frozen=True)
class Backend:
    """What a backend module exposes as `BACKEND`: its config Struct and the factory `config -> Policy`."""

    config_type: type[msgspec.Struct]
    factory: PolicyFactory


# The policy backends (docs/design.md, "Policies"). Each module imports its heavy deps lazily inside methods.
BACKENDS: Registry[Backend] = Registry("policy backend", {
    "scripted": "medaction.policies.scripted:BACKEND",
    "heuristic": "medaction.policies.heuristic:BACKEND",
    "sim": "medaction.policies.sim:BACKEND",
    "openai_http": "medaction.policies.openai_http:BACKEND",
    "hf": "medaction.policies.hf:BACKEND",
    "vllm": "medaction.policies.vllm_backend:BACKEND",
    "sglang": "medaction.policies.sglang_backend:BACKEND",
})


def available() -> list[str]:
    return BACKENDS.names()


def config_type(name: str) -> type[msgspec.Struct]:
    return BACKENDS.get(name).config_type


def build(name: str, config: Any = None) -> Policy:
    """Build a policy by registry name from a config Struct, a dict (converted) or None (defaults)."""
    backend = BACKENDS.get(name)
    if config is None:
        config = backend.config_type()
    elif isinstance(config, dict):
        config = msgspec.convert(config, backend.config_type)
    return backend.factory(config)
