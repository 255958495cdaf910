"""Agreement of a judge with labels: accuracy, Cohen's kappa, confusion (false-correct = FP, false-wrong = FN).

Label records (JSON lines), hand labels (tests/data/eval_judge_labels.jsonl):
{"id", "kind": "diagnosis", "predicted", "truth", "label": "Correct"|"Wrong"} or
{"id", "kind": "tests", "request", "menu": [{"name", "category"}], "covered": [menu indices]};
or labelled answers as an LLM judge's verdicts come (the MedR-Bench dev file's format):
{"answer", "truth", "correct": true|false, optional "case_id", "model", ...}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from medaction.envs.types import TestItem
from medaction.eval.judges.base import Judge


class MenuEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    category: str = ""


class DiagnosisLabel(msgspec.Struct, frozen=True, kw_only=True, tag="diagnosis", tag_field="kind"):
    id: str
    predicted: str
    truth: str
    label: Literal["Correct", "Wrong"]
    source: str = ""
    split: str = "dev"  # "dev": seen while writing the offline rules; "heldout": written before running them


class TestsLabel(msgspec.Struct, frozen=True, kw_only=True, tag="tests", tag_field="kind"):
    __test__ = False

    id: str
    request: str
    menu: tuple[MenuEntry, ...]
    covered: tuple[int, ...]
    source: str = ""


Label = DiagnosisLabel | TestsLabel


class Binary(msgspec.Struct, frozen=True, kw_only=True):
    n: int
    agree: int
    accuracy: float
    kappa: float
    tp: int  # judge positive, label positive
    fp: int
    fn: int
    tn: int


class Agreement(msgspec.Struct, frozen=True, kw_only=True):
    judge: str
    diagnosis: Binary  # positive = Correct (all diagnosis items)
    diagnosis_heldout: Binary  # only items written before the offline rules were run on them
    tests_covered: Binary  # positive = the request is covered by some menu item (drives precision)
    tests_exact: float  # share of test items where the judge's covered set equals the label's set
    disagreements: tuple[str, ...]  # label ids, for inspection


class JudgedAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """One labelled answer in the dev file's format (other fields are ignored)."""

    answer: str
    truth: str
    correct: bool
    case_id: str = ""
    model: str = ""


def load_labels(path: Path) -> list[Label]:
    dec = msgspec.json.Decoder(Label)
    judged = msgspec.json.Decoder(JudgedAnswer)
    out: list[Label] = []
    for i, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            if b'"kind"' in line:
                lab = dec.decode(line)
            else:
                j = judged.decode(line)
                lab = DiagnosisLabel(id=f"{j.case_id or 'line'}:{j.model or i}:{i}", predicted=j.answer, truth=j.truth,
                                     label="Correct" if j.correct else "Wrong", source=j.model)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ValueError(f"{path}:{i}: bad label record: {exc}") from None
        if isinstance(lab, TestsLabel) and any(not 0 <= k < len(lab.menu) for k in lab.covered):
            raise ValueError(f"{path}:{i}: record {lab.id!r} field 'covered': index outside the menu")
        out.append(lab)
    return out


def binary(pairs: list[tuple[bool, bool]]) -> Binary:
    """(judge, label) pairs -> agreement and Cohen's kappa (kappa = 1 when chance agreement is already 1)."""
    n = len(pairs)
    tp = sum(1 for j, lab in pairs if j and lab)
    fp = sum(1 for j, lab in pairs if j and not lab)
    fn = sum(1 for j, lab in pairs if not j and lab)
    tn = n - tp - fp - fn
    if n == 0:
        return Binary(n=0, agree=0, accuracy=0.0, kappa=0.0, tp=0, fp=0, fn=0, tn=0)
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    kappa = 1.0 if pe == 1 else (po - pe) / (1 - pe)
    return Binary(n=n, agree=tp + tn, accuracy=po, kappa=kappa, tp=tp, fp=fp, fn=fn, tn=tn)


async def measure(judge: Judge, labels: list[Label]) -> Agreement:
    dx: list[tuple[bool, bool]] = []
    dx_held: list[tuple[bool, bool]] = []
    cov: list[tuple[bool, bool]] = []
    exact = 0
    n_tests = 0
    wrong: list[str] = []
    for lab in labels:
        if isinstance(lab, DiagnosisLabel):
            got = bool(lab.predicted.strip()) and await judge.same_diagnosis(lab.predicted, lab.truth)
            want = lab.label == "Correct"
            dx.append((got, want))
            if lab.split == "heldout":
                dx_held.append((got, want))
            if got != want:
                wrong.append(lab.id)
        else:
            menu = tuple(TestItem(name=m.name, category=m.category) for m in lab.menu)
            (got_set,) = await judge.match_tests([lab.request], menu)
            n_tests += 1
            cov.append((bool(got_set), bool(lab.covered)))
            if set(got_set) == set(lab.covered):
                exact += 1
            else:
                wrong.append(lab.id)
    return Agreement(
        judge=judge.describe(),
        diagnosis=binary(dx),
        diagnosis_heldout=binary(dx_held),
        tests_covered=binary(cov),
        tests_exact=exact / n_tests if n_tests else 0.0,
        disagreements=tuple(wrong),
    )


def render(a: Agreement) -> str:
    def row(name: str, b: Binary) -> str:
        return (f"| {name} | {b.n} | {b.accuracy:.3f} | {b.kappa:.3f} | {b.tp} | {b.fp} | {b.fn} | {b.tn} |")

    return "\n".join([
        f"Judge: {a.judge}",
        "",
        "| item kind | n | agreement | Cohen's kappa | TP | FP | FN | TN |",
        "|---|---|---|---|---|---|---|---|",
        row("diagnosis (Correct), all", a.diagnosis),
        row("diagnosis (Correct), held-out", a.diagnosis_heldout),
        row("test covered", a.tests_covered),
        "",
        f"Test items with the exact covered set: {a.tests_exact:.3f}",
        f"Disagreements: {', '.join(a.disagreements[:50]) or 'none'}"
        + (f" ... ({len(a.disagreements)} in all)" if len(a.disagreements) > 50 else ""),
        "",
        f"diagnosis: n {a.diagnosis.n}, kappa {a.diagnosis.kappa:.3f}, false-correct {a.diagnosis.fp}, "
        f"false-wrong {a.diagnosis.fn}",
        f"agreement: {a.diagnosis.accuracy:.3f}",
    ]) + "\n"
