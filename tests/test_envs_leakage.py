"""Leakage validation: lexical and encoder checks with spans, structure checks, duplicate merging."""

from __future__ import annotations

from encoder_fixtures import TrigramEncoder

from medaction.envs.leakage import check_environment, merge_duplicate_tests
from medaction.envs.load import iter_environments
from medaction.envs.types import Environment, TestItem

O1 = "A 40-year-old man with chest pain. An outside CT showed a large anterior mediastinal mass with calcification."


def _env(**kw) -> Environment:
    base = dict(case_id="c1", source="t", initial_observation=O1, diagnosis="Thymoma",
                tests=(TestItem(name="CT chest", result="Large anterior mediastinal mass with calcification."),
                       TestItem(name="Biopsy", result="Type B2 thymoma on histology.")))
    base.update(kw)
    return Environment(**base)


def test_lexical_result_leak_reports_span():
    found = check_environment(_env())
    leaks = [f for f in found if f.kind == "result_in_o1"]
    assert len(leaks) == 1 and leaks[0].item == "CT chest"
    a, b = leaks[0].span
    assert O1[a:b] == "large anterior mediastinal mass with calcification" == leaks[0].text
    assert not [f for f in found if f.kind == "diagnosis_in_o1"]


def test_diagnosis_leak_and_structure():
    env = _env(initial_observation="Known thymoma, now chest pain.", diagnosis="thymoma",
               tests=(TestItem(name="CT", result=""), TestItem(name="ct ", result="mass"),
                      TestItem(name="CBC", result="normal")))
    kinds = sorted((f.kind, f.item) for f in check_environment(env, linker=lambda d: False))
    assert kinds == [("diagnosis_in_o1", "diagnosis"), ("duplicate_test", "ct "), ("empty_result", "CT"),
                     ("unlinkable_diagnosis", "diagnosis")]
    assert [f.kind for f in check_environment(_env(diagnosis=" "))].count("empty_diagnosis") == 1


def test_encoder_check_catches_paraphrase():
    env = _env(initial_observation="Chest pain. Imaging: big anterior mediastinal masses, calcified.",
               tests=(TestItem(name="CT chest", result="Large anterior mediastinal mass with calcification."),))
    assert not [f for f in check_environment(env) if f.kind == "result_in_o1"]
    sem = [f for f in check_environment(env, encoder=TrigramEncoder(1024), threshold=0.5) if f.method == "encoder"]
    assert len(sem) == 1 and sem[0].item == "CT chest" and "mediastinal" in sem[0].text and sem[0].score >= 0.5


def test_merge_duplicates():
    merged = merge_duplicate_tests([TestItem(name="CT", result="a"), TestItem(name="ct", result="b", aliases=("x",)),
                                    TestItem(name="CT", category="Follow-up", result="c")])
    assert merged == (TestItem(name="CT", result="a\nb", aliases=("x",)),
                      TestItem(name="CT", category="Follow-up", result="c"))


def test_shared_importers_are_mostly_clean(medrbench_path):
    flagged = {f.case_id for e in iter_environments("medrbench", medrbench_path) for f in check_environment(e)}
    assert len(flagged) <= 5  # the importer hides results already in o1; what remains is reported for review


def test_extract_check_adapter():
    from medaction.stage1.extract import leakage_check as check

    problems = check(_env())
    assert [(p.field, p.reason, p.severity) for p in problems] == [
        ("initial_observation", "result_in_o1: CT chest", "error")]
    assert problems[0].span == "large anterior mediastinal mass with calcification"
