"""Oracle: quality on the labelled set, determinism, UNAVAILABLE, several matches, encoder hook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from encoder_fixtures import TrigramEncoder

from medaction.envs.load import default_cases_path, iter_environments
from medaction.envs.oracle import Oracle, TestMatcher
from tests.support.oracle_eval import evaluate
from medaction.envs.types import UNAVAILABLE, Environment, TestItem

LABELS = Path(__file__).parent / "data" / "oracle_labels.jsonl"
HELDOUT = LABELS.with_name("oracle_labels_heldout.jsonl")


def _bundled_rows(labels: Path, medrbench: Path, out: Path) -> Path:
    """The labelled rows whose case is in the given MedR-Bench file (the 20 bundled cases on a fresh clone)."""
    have = set(json.loads(medrbench.read_text(encoding="utf-8")))
    rows = [r for r in labels.read_text(encoding="utf-8").splitlines()
            if json.loads(r)["source"] != "medrbench" or json.loads(r)["case_id"] in have]
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


@pytest.mark.parametrize("labels,min_pairs,min_decoys", [(LABELS, 150, 30), (HELDOUT, 70, 20)])
def test_labelled_set_precision_recall(medrbench_path, tmp_path, labels, min_pairs, min_decoys):
    rows = _bundled_rows(labels, medrbench_path, tmp_path / labels.name)
    q = evaluate(rows, {"agentclinic": default_cases_path(), "medrbench": medrbench_path})
    assert q.pairs >= min_pairs and q.decoys >= min_decoys
    assert q.precision >= 0.9, q.errors
    assert q.recall >= 0.9, q.errors


def test_heldout_labels_on_all_cases(medrbench_full_path):
    q = evaluate(HELDOUT, {"agentclinic": default_cases_path(), "medrbench": medrbench_full_path})
    assert q.pairs >= 100 and q.decoys >= 30
    assert q.precision >= 0.9, q.errors
    assert q.recall >= 0.9, q.errors


def _env() -> Environment:
    return next(e for e in iter_environments("agentclinic", default_cases_path()) if e.case_id == "agentclinic-0041")


def test_answers_several_and_unavailable():
    o = Oracle(_env())
    a, b, c = o.answer(["urinalysis", "MRI of the brain", "serum creatinine"])
    assert a.available and len(a.matched) == 5 and "Urinalysis > Nitrites: Negative" in a.result
    assert not b.available and b.result == UNAVAILABLE and b.matched == ()
    assert c.matched == ("Blood work > Creatinine",) and c.result == "1.1 mg/dL"
    assert [r.available for r in o.answer(["", "   ", "!!!"])] == [False] * 3
    assert not o.answer_one("").available
    empty = Oracle(Environment(case_id="x", source="t", initial_observation="o", diagnosis="d"))
    assert empty.answer(["CBC"])[0].result == UNAVAILABLE


def test_deterministic():
    env = _env()
    reqs = ["CBC", "blood work", "IVP", "urine RBC", "renal ultrasound"]
    assert Oracle(env).answer(reqs) == Oracle(env).answer(reqs)
    assert TestMatcher(env.tests).match("kidney function") == (5, 6)


def test_encoder_hook_only_when_lexical_fails():
    tests = (TestItem(name="Sweat electrolyte quantification", result="60 mmol/L"), TestItem(name="CBC", result="ok"))
    plain = TestMatcher(tests)
    assert plain.match("sweat electrolyte quantitation") == (0,)  # lexical (token overlap)
    assert plain.match("sweet electrolite quantificashun") == ()
    enc = TestMatcher(tests, encoder=TrigramEncoder(512), encoder_threshold=0.6)
    assert enc.match("sweet electrolite quantificashun") == (0,)
    assert enc.match("full blood count") == (1,)  # lexical still first


def test_untrusted_requests():
    o = Oracle(_env())
    weird = ["CBC" + " x" * 50_000, "\x00\ud800?", "ＣＢＣ", "cbc" * 1000, "<script>CBC</script>"]
    replies = o.answer(weird)
    assert [r.available for r in replies] == [True, False, True, False, True]
    assert replies[2].matched == ("Blood work > Complete blood count",)  # full-width letters normalised


def test_rival_test_of_same_kind_refuses_its_category():
    # An item whose own name is a different imaging test is not pulled in by its imaging category; an item whose
    # name names no test ("Liver") and an analyte filed under a panel of another kind still are.
    tests = [
        TestItem(name="CT angiography", category="Imaging > Abdominal ultrasound", result="no dissection"),
        TestItem(name="Liver", category="Imaging > Abdominal ultrasound", result="hepatomegaly"),
        TestItem(name="WBC", category="Urinalysis", result="5/hpf"),
    ]
    m = TestMatcher(tests)
    assert m.match("abdominal ultrasound") == (1,)
    assert m.match("ultrasound") == (1,)
    assert m.match("CT angiography") == (0,)
    assert m.match("urinalysis") == (2,)
