"""The Judge protocol (test coverage + diagnosis equivalence) and a registry of judge factories by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from medaction.envs.types import TestItem


class Judge(Protocol):
    """`describe()` names the judge in every report (e.g. "offline(matcher, linker=hpo-lexical)", "llm(openai_http)")."""

    name: str

    def describe(self) -> str: ...

    async def match_tests(self, requests: Sequence[str], menu: Sequence[TestItem]) -> list[tuple[int, ...]]:
        """Per request: the indices of the menu items it covers (empty tuple: not covered)."""
        ...

    async def same_diagnosis(self, predicted: str, truth: str) -> bool:
        """MedR-Bench rule: correct when the prediction names the truth (aliases, extra complications accepted)."""
        ...


JudgeFactory = Callable[[Any], Judge]
_JUDGES: dict[str, JudgeFactory] = {}


def register_judge(name: str) -> Callable[[JudgeFactory], JudgeFactory]:
    def deco(factory: JudgeFactory) -> JudgeFactory:
        _JUDGES[name] = factory
        return factory

    return deco


def build_judge(name: str, config: Any = None) -> Judge:
    """Build a judge: "offline" (default, no model) or "llm" (config: {"policy": NAME, "policy_config": {...}})."""
    from medaction.eval.judges import llm, offline  # noqa: F401  (register on import)

    if name not in _JUDGES:
        raise KeyError(f"unknown judge {name!r}; known: {', '.join(sorted(_JUDGES))}")
    return _JUDGES[name](config)
