"""Measured agreement of each judge with an LLM judge's labels, recorded with the command that measured it, so that
an eval report can say how far its Diag Acc can be trusted (docs/eval.md). Update a row whenever the judge changes
and the command is rerun."""

from __future__ import annotations

import msgspec


class Measured(msgspec.Struct, frozen=True, kw_only=True):
    judge: str
    labels: str  # what it was measured against
    n: int
    agreement: float
    kappa: float
    false_correct: int
    false_wrong: int
    command: str


MEASURED: dict[str, Measured] = {
    "offline": Measured(
        judge="offline",
        labels="MedR-Bench judged answers (LLM-judge labels), held-out half by case id",
        n=650, agreement=0.845, kappa=0.454, false_correct=59, false_wrong=42,
        command="python bench/judge_agreement.py",
    ),
}


def judge_agreement_line(judge_description: str) -> str:
    """One sentence for a report: which judge produced Diag Acc and its measured agreement (or that none is)."""
    name = judge_description.split("(", 1)[0].strip()
    m = MEASURED.get(name)
    if m is None:
        return (f"Diag Acc judged by `{name}`; its agreement with LLM-judge labels is not measured in this package "
                "(measure it with `medaction eval agreement --judge NAME --labels FILE`)")
    return (f"Diag Acc judged by `{name}`; measured agreement with {m.labels}: {m.agreement:.3f} (Cohen's kappa "
            f"{m.kappa:.3f}, n {m.n}, false-correct {m.false_correct}, false-wrong {m.false_wrong}; `{m.command}`)")
