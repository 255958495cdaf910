"""Judges: untrusted-output parsing, the offline diagnosis rules, kappa arithmetic, agreement with hand labels."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from medaction.envs.types import TestItem
from medaction.eval.agreement import DiagnosisLabel, TestsLabel, binary, load_labels, measure
from medaction.eval.judges.base import build_judge
from medaction.envs.diagnosis import same_diagnosis as text_equivalent
from medaction.eval.judges.offline import OfflineJudge
from medaction.eval.judges.verdicts import parse_covered, parse_verdict

LABELS = Path(__file__).parent / "data" / "eval_judge_labels.jsonl"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Correct", True),
        ("Wrong", False),
        ("The prediction is not correct.\nWrong", False),
        ("It names an alias, so it is correct.\n\n**Correct**", True),
        ("incorrect", False),
        ("<think>maybe wrong... actually correct</think>\nWrong", False),
        ("I cannot decide.", None),
        ("", None),
        ("not correct", False),
    ],
)
def test_parse_verdict(text: str, want: bool | None) -> None:
    assert parse_verdict(text) is want if want is None else parse_verdict(text) == want


def test_parse_covered_untrusted() -> None:
    assert parse_covered('Reasoning...\n{"covered": [2, 3]}', 4) == (1, 2)
    assert parse_covered('{"covered": [9, 0, "1", true]}', 4) == (0,)  # out of range / bool dropped
    assert parse_covered('{"covered": []}', 4) == ()
    assert parse_covered("Items 1 and 4", 4) == (0, 3)
    assert parse_covered("None of them.", 4) == ()
    assert parse_covered("{not json", 4) is None
    assert parse_covered("", 3) is None


def test_text_equivalence_rules() -> None:
    assert text_equivalent("SLE with lupus nephritis", "Systemic Lupus Erythematosus (SLE)")  # alias + extras
    assert text_equivalent("Acute myeloid leukemia (AML)", "Acute myelogenous leukemia")
    assert text_equivalent("Waldenström macroglobulinemia", "Waldenstrom macroglobulinemia")
    assert not text_equivalent("Leukemia", "Acute myelogenous leukemia")  # broader class
    assert not text_equivalent("Renal cell carcinoma", "Adult nephroblastoma (Wilms' tumor)")
    assert not text_equivalent("", "Myasthenia gravis")


def test_kappa_hand_computed() -> None:
    # 10 items: TP 4, FP 1, FN 2, TN 3 -> po = .7; pe = (5*6 + 5*4)/100 = .5; kappa = .4
    pairs = [(True, True)] * 4 + [(True, False)] + [(False, True)] * 2 + [(False, False)] * 3
    b = binary(pairs)
    assert (b.tp, b.fp, b.fn, b.tn, b.agree) == (4, 1, 2, 3, 7)
    assert b.accuracy == pytest.approx(0.7) and b.kappa == pytest.approx(0.4)


def test_labels_file_has_at_least_60_valid_items() -> None:
    labels = load_labels(LABELS)
    dx = [x for x in labels if isinstance(x, DiagnosisLabel)]
    tc = [x for x in labels if isinstance(x, TestsLabel)]
    assert len(labels) >= 60 and len(dx) >= 30 and len(tc) >= 30
    assert {x.label for x in dx} == {"Correct", "Wrong"}
    assert sum(1 for x in dx if x.split == "heldout") >= 20
    assert len({x.id for x in labels}) == len(labels)


def test_bad_label_record_names_file_line_field(tmp_path: Path) -> None:
    f = tmp_path / "l.jsonl"
    f.write_text('{"id": "a", "kind": "tests", "request": "x", "menu": [{"name": "CBC"}], "covered": [3]}\n')
    with pytest.raises(ValueError, match=r"l.jsonl:1: record 'a' field 'covered'"):
        load_labels(f)


def test_offline_judge_agreement_with_hand_labels() -> None:
    judge = build_judge("offline")
    a = asyncio.run(measure(judge, load_labels(LABELS)))
    assert "offline" in a.judge
    assert a.diagnosis.n >= 90 and a.tests_covered.n >= 50
    # measured floors (docs/notes/judge.md: 0.777, kappa 0.55, 11 false-correct). These hand labels are stricter
    # than the LLM judges the offline judge is fitted to agree with (e.g. naming only the cause counts as Wrong here)
    assert a.diagnosis.accuracy >= 0.75
    assert a.diagnosis_heldout.accuracy >= 0.7
    assert a.diagnosis.fp <= 12
    assert a.tests_covered.accuracy >= 0.7


def test_offline_judge_matches_tests_through_the_oracle_matcher() -> None:
    judge = OfflineJudge()
    menu = (TestItem(name="Complete Blood Count"), TestItem(name="Chest X-ray"), TestItem(name="Echocardiogram"))
    got = asyncio.run(judge.match_tests(["CBC", "echocardiography", "Lumbar puncture"], menu))
    assert got[0] == (0,) and got[2] == ()
    assert all(0 <= i < 3 for g in got for i in g)


def test_agreement_cli_reads_judged_answer_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medaction.cli import main as cli_main

    rows = [
        {"case_id": "c1", "model": "m", "answer": "Myasthenia gravis", "truth": "The patient was diagnosed with "
         "myasthenia gravis based on AChR antibodies.", "judge": "x", "correct": True},
        {"case_id": "c2", "model": "m", "answer": "Multiple sclerosis", "truth": "Myasthenia gravis", "correct": False},
        {"case_id": "c3", "model": "m", "answer": "Leukemia", "truth": "Acute myeloid leukemia", "correct": True},
        {"case_id": "c4", "model": "m", "answer": "Sarcoidosis", "truth": "Tuberculosis", "correct": True},
    ]
    f = tmp_path / "judged.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli_main(["eval", "agreement", "--judge", "offline", "--labels", str(f)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    # judge: correct, wrong, wrong (broader class), wrong -> agrees on 2 of 4; 0 false-correct, 2 false-wrong
    assert out[-1] == "agreement: 0.500"
    assert out[-2].startswith("diagnosis: n 4,") and "false-correct 0" in out[-2] and "false-wrong 2" in out[-2]

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n" + '{"answer": "x", "truth": "y"}\n')
    assert cli_main(["eval", "agreement", "--labels", str(bad)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
