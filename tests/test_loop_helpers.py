"""Shared helpers of the loop tests (no tests here): a small case, a table oracle and canned reply builders."""

from __future__ import annotations

import json
from collections.abc import Sequence

from medaction.envs.types import Environment, OracleReply, TestItem

CASE = Environment(
    case_id="case-mg",
    source="test",
    initial_observation="35-year-old woman, one month of diplopia and proximal weakness that worsens with exertion.",
    tests=(
        TestItem(name="Acetylcholine receptor antibodies", result="Present (elevated)"),
        TestItem(name="Electromyography", result="Decrement on repetitive stimulation"),
        TestItem(name="Chest CT", result="No thymoma"),
        TestItem(name="TSH", result="2.1 mIU/L"),
    ),
    diagnosis="Myasthenia gravis",
)


class TableOracle:
    """Exact (case-insensitive) name lookup in the case's menu; records every call so tests can assert on them."""

    def __init__(self, env: Environment) -> None:
        self.menu = {t.name.casefold(): t for t in env.tests}
        self.calls: list[list[str]] = []

    def answer(self, requests: Sequence[str]) -> list[OracleReply]:
        self.calls.append(list(requests))
        out = []
        for r in requests:
            item = self.menu.get(r.casefold())
            out.append(OracleReply(request=r, matched=(item.name,), result=item.result, available=True) if item
                       else OracleReply(request=r))
        return out


def order(
    tests: Sequence[str],
    *,
    reasoning: str = "Thinking.",
    ddx: Sequence[tuple[str, float]] = (("Myasthenia gravis", 0.6),),
    pivot: str = "NMJ disorder or not",
) -> str:
    obj = {"differential": [{"diagnosis": d, "confidence": c} for d, c in ddx], "pivot": pivot, "tests": list(tests)}
    return f"{reasoning}\n```json\n{json.dumps(obj)}\n```"


def commit(dx: str, *, reasoning: str = "Enough evidence.") -> str:
    obj = {"final_diagnosis": dx, "differential": [{"diagnosis": dx, "confidence": 0.9}]}
    return f"{reasoning}\n```json\n{json.dumps(obj)}\n```"


def user_text(messages: Sequence) -> str:
    return "\n".join(m.content for m in messages if m.role == "user")
