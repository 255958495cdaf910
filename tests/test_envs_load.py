"""Importers on the real shared cases: counts, menus, leakage, round trip."""

from __future__ import annotations

import re

import pytest

from medaction.envs.load import default_cases_path, iter_environments, write_jsonl
from medaction.envs.medrbench import leaked_results


@pytest.fixture(scope="module")
def agentclinic():
    return list(iter_environments("agentclinic", default_cases_path(), strict=True))


@pytest.fixture(scope="module")
def medrbench(medrbench_path):
    return list(iter_environments("medrbench", medrbench_path, strict=True))


def test_bundled_agentclinic_all_load(agentclinic):
    assert (default_cases_path().parent / "LICENSE-agentclinic.txt").is_file()
    assert len(agentclinic) == 214
    assert sum(1 for e in agentclinic if not e.tests) == 4
    assert len({e.case_id for e in agentclinic}) == 214
    first = agentclinic[0]
    assert first.diagnosis == "Myasthenia gravis"
    assert "double vision" in first.initial_observation
    names = [(t.category, t.name) for t in first.tests]
    assert names == [("Blood tests", "Acetylcholine receptor antibodies"), ("", "Electromyography"),
                     ("Imaging", "Chest CT")]
    assert first.tests[2].result == "Normal, no thymoma or other masses detected."
    for e in agentclinic:  # the menu is hidden evidence: never in o1
        assert "Test_Results" not in e.initial_observation and e.diagnosis


def test_medrbench_every_case_has_menu_and_no_leak(medrbench):
    assert len(medrbench) == 20
    for e in medrbench:
        assert e.tests, e.case_id
        assert e.initial_observation.strip()
        assert not leaked_results(e.initial_observation, e.tests, min_words=1), e.case_id
        for t in e.tests:
            assert t.name.strip() and t.result.strip()
            assert t.result not in e.initial_observation
        assert "ancillary test" not in e.initial_observation.lower()
        assert not re.match(r"(please provide|#|the provided)", e.initial_observation.strip().lower())
    assert sum(1 for e in medrbench if e.meta["rare_disease"]) == 10
    assert sum(1 for e in medrbench if e.meta["body_category"]) >= 18


def test_full_medrbench_demo_loads(medrbench_full_path):
    full = list(iter_environments("medrbench", medrbench_full_path, strict=True))
    assert len(full) == 100 and all(e.tests for e in full)
    assert sum(1 for e in full if e.meta["rare_disease"]) == 65
    assert sum(1 for e in full if e.meta["body_category"]) >= 90


def test_medrbench_inline_paragraph_split(medrbench):
    env = {e.case_id: e for e in medrbench}["PMC11595896"]  # one inline paragraph of six tests
    names = [t.name for t in env.tests]
    assert names[:3] == ["Brain MRI", "Skin biopsy", "Genetic testing"]
    assert len(names) == 6
    multi = {e.case_id: e for e in medrbench}["PMC11453286"]  # "#### Case 1" noise; block ends at Case 2
    assert multi.initial_observation.startswith("- Patient Information: 9-year-old")
    assert len(multi.tests) == 8


def test_canonical_round_trip_exact(agentclinic, medrbench, tmp_path):
    out = tmp_path / "envs.jsonl"
    assert write_jsonl(agentclinic + medrbench, out) == 234
    back = list(iter_environments("jsonl", out, strict=True))
    assert back == agentclinic + medrbench
    out2 = tmp_path / "again.jsonl"
    write_jsonl(back, out2)
    assert out2.read_bytes() == out.read_bytes()


def test_unknown_source_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown source"):
        list(iter_environments("csv", tmp_path / "x"))
    with pytest.raises(FileNotFoundError):
        list(iter_environments("jsonl", tmp_path / "nope.jsonl"))
