"""The Policy protocol and the registry that maps a backend name to a factory taking a msgspec config."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import msgspec

from medaction.policies.types import Completion, Message, SamplingParams


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

_REGISTRY: dict[str, tuple[type[msgspec.Struct], PolicyFactory]] = {}


def register(name: str, config_type: type[msgspec.Struct]) -> Callable[[PolicyFactory], PolicyFactory]:
    """Decorator: register a factory `config -> Policy` under `name` with its config type."""

    def deco(factory: PolicyFactory) -> PolicyFactory:
        _REGISTRY[name] = (config_type, factory)
        return factory

    return deco


def _ensure_builtins() -> None:
    # Backends register themselves on import; import lazily so heavy deps (torch, vllm) load only when used.
    from medaction.policies import registry_builtins  # noqa: F401


def available() -> list[str]:
    _ensure_builtins()
    return sorted(_REGISTRY)


def config_type(name: str) -> type[msgspec.Struct]:
    _ensure_builtins()
    if name not in _REGISTRY:
        raise KeyError(f"unknown policy backend {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name][0]


def build(name: str, config: Any = None) -> Policy:
    """Build a policy by registry name from a config Struct, a dict (converted) or None (defaults)."""
    ctype = config_type(name)
    if config is None:
        config = ctype()
    elif isinstance(config, dict):
        config = msgspec.convert(config, ctype)
    return _REGISTRY[name][1](config)
