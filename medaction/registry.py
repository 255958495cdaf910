"""The one registry mechanism for every pluggable kind (policy backends, scorers, judges, routers, branch strategies,
encoders, filters, student loaders, oracles).

Each kind has one table, written where the kind is defined: name -> "package.module:attribute". An entry is
imported on first use, so listing names costs nothing and heavy dependencies (torch, vllm) load only for the
backend that is built. Nothing registers by import side effect, so no module has to import its plug-ins and no
import cycle can come from it. Users add their own entries with `Registry.add` (or a config field naming
"module:attribute" where a kind takes one).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from medaction.outputs import UsageError

T = TypeVar("T")


class UnknownName(UsageError, KeyError):
    """An unknown registry name: a user mistake (exit 2), also a KeyError for lookups."""

    def __str__(self) -> str:  # KeyError quotes its message; a one-line error must not
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """name -> "module:attribute", resolved (and cached) on first `get`."""

    def __init__(self, kind: str, entries: Mapping[str, str]) -> None:
        self.kind = kind
        self._entries: dict[str, str] = dict(entries)
        self._loaded: dict[str, T] = {}
        for name, target in self._entries.items():
            _split(target, f"{kind} {name!r}")

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def check(self, name: str) -> None:
        """Raise UnknownName (listing the known names) without importing anything."""
        if name not in self._entries:
            raise UnknownName(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")

    def add(self, name: str, target: str) -> None:
        """Register `name` as "module:attribute" (a plug-in of the user's)."""
        _split(target, f"{self.kind} {name!r}")
        self._entries[name] = target
        self._loaded.pop(name, None)

    def get(self, name: str) -> T:
        self.check(name)
        if name not in self._loaded:
            self._loaded[name] = resolve(self._entries[name])
        return self._loaded[name]


def resolve(target: str) -> T:  # type: ignore[type-var]
    """Import "package.module:attribute" (dots allowed in the attribute path)."""
    module, attr = _split(target, "entry")
    obj: object = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]


def _split(target: str, what: str) -> tuple[str, str]:
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{what}: {target!r} must look like 'package.module:attribute'")
    return module, attr


def exports(table: Registry[object]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's public names as a lazy table: `__getattr__, __dir__ = exports(Registry(...))` in its
    `__init__.py`, with `__all__ = table.names()`. Importing the package imports none of its modules, so a layer
    stays cheap to import (no Ray or torch until a name that needs it is used) and no cycle comes from it."""

    def __getattr__(name: str) -> object:
        if name not in table:
            raise AttributeError(f"module has no attribute {name!r}")
        return table.get(name)

    def __dir__() -> list[str]:
        return table.names()

    return __getattr__, __dir__
