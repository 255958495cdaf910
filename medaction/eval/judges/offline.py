"""The offline judge: the oracle's deterministic TestMatcher for tests; the one diagnosis equivalence
(medaction.envs.diagnosis.same_diagnosis, shared with the scorer and the RL rewards) for diagnoses, optionally
widened by linked-node equality. No model call, deterministic, so it is the default; its agreement with an LLM
judge's labels is measured by bench/judge_agreement.py (docs/eval.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from medaction.envs.diagnosis import same_diagnosis
from medaction.envs.types import TestItem

# free text -> graph node id, or None when unlinked (injected; the scoring layer's linker when available)
LinkFn = Callable[[str], str | None]


class OfflineJudgeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # Linked-node equality on top of the text equivalence. Off by default: a wrong link turns a wrong answer into
    # a "correct" one, and false-correct is the costly error for training data.
    linker: bool = False


class OfflineJudge:
    name = "offline"

    def __init__(self, *, link: LinkFn | None = None, link_name: str = "none") -> None:
        self._link = link
        self._link_name = link_name
        self._cache: dict[str, str | None] = {}

    def describe(self) -> str:
        return f"offline(tests=envs.oracle.TestMatcher; diagnosis=envs.diagnosis.same_diagnosis, linker={self._link_name})"

    async def match_tests(self, requests: Sequence[str], menu: Sequence[TestItem]) -> list[tuple[int, ...]]:
        from medaction.envs.oracle import TestMatcher  # the ONE matcher, shared with the oracle

        matcher = TestMatcher(tuple(menu))
        n = len(menu)
        return [tuple(sorted({i for i in matcher.match(r) if 0 <= i < n})) for r in requests]

    def _linked(self, text: str) -> str | None:
        if self._link is None:
            return None
        if text not in self._cache:
            self._cache[text] = self._link(text)
        return self._cache[text]

    def same_diagnosis_sync(self, predicted: str, truth: str) -> bool:
        if same_diagnosis(predicted, truth):
            return True
        a, b = self._linked(predicted), self._linked(truth)
        return a is not None and a == b

    async def same_diagnosis(self, predicted: str, truth: str) -> bool:
        return self.same_diagnosis_sync(predicted, truth)


def _scoring_linker() -> tuple[LinkFn | None, str]:
    """The scoring layer's linker on the default offline graph, if that layer is installed (see linker_adapter)."""
    from medaction.eval.judges.linker_adapter import default_link_fn

    return default_link_fn()


def build_offline_judge(config: object) -> OfflineJudge:
    cfg = msgspec.convert(config or {}, OfflineJudgeConfig) if not isinstance(config, OfflineJudgeConfig) else config
    link, name = _scoring_linker() if cfg.linker else (None, "off")
    return OfflineJudge(link=link, link_name=name)
