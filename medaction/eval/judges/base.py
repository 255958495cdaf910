"""The Judge protocol (test coverage + diagnosis equivalence) and a registry of judge factories by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from medaction.envs.types import TestItem
from medaction.registry import Registry


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
# name -> factory `config -> Judge` (medaction/registry.py). "offline" needs no model; "llm" takes
# {"policy": NAME, "policy_config": {...}}.
JUDGES: Registry[JudgeFactory] = Registry("judge", {
    "offline": "medaction.eval.judges.offline:build_offline_judge",
    "llm": "medaction.eval.judges.llm:build_llm_judge",
})


def build_judge(name: str, config: Any = None) -> Judge:
    return JUDGES.get(name)(config)
