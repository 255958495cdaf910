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
    "scripted": "medaction.policies.backends.scripted:BACKEND",
    "heuristic": "medaction.policies.backends.heuristic:BACKEND",
    "sim": "medaction.policies.backends.sim:BACKEND",
    "openai_http": "medaction.policies.backends.openai_http:BACKEND",
    "hf": "medaction.policies.backends.hf:BACKEND",
    "vllm": "medaction.policies.backends.vllm_backend:BACKEND",
    "sglang": "medaction.policies.backends.sglang_backend:BACKEND",
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


def check_config(name: str, config: dict[str, Any], *, where: str = "--policy-config") -> None:
    """A backend name and its config table, checked before anything starts (a typo used to fail inside a replica,
    minutes later). Backend config Structs ignore unknown keys, so they are refused here. Raises UsageError."""
    from medaction.outputs import UsageError

    if name not in BACKENDS:
        raise UsageError(f"{where}: unknown policy backend {name!r}; known: {', '.join(available())}")
    ctype = config_type(name)
    unknown = sorted(set(config) - set(ctype.__struct_fields__))
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)} for backend {name!r}; "
                         f"known: {', '.join(ctype.__struct_fields__)}")
    try:
        msgspec.convert(config, ctype)
    except msgspec.ValidationError as exc:
        raise UsageError(f"{where}: {exc}") from None
