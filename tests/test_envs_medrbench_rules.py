"""MedR-Bench summary rules on formats not in the demo set (the importer must generalise)."""

from __future__ import annotations

import pytest

from medaction.envs.errors import RecordError
from medaction.envs.medrbench import leaked_results, parse_record


def _env(summary: str, dx: str = "Disease X"):
    return parse_record("PMCX", {"generate_case": {"case_summary": summary, "diagnosis_results": dx},
                                 "body_category": ["Heart"], "checked_rare_disease": ["X"]}, path="mem.json")


def test_numbered_list_with_star_bullets_and_trailing_sections():
    env = _env(
        "Sure, here is the summary.\n\n### Summary\n* **Patient Information:** 40-year-old man.\n"
        "* **Chief Complaint:** Chest pain.\n* **Ancillary Tests**\n"
        "    1. Troponin I: 2.3 ng/mL, elevated.\n    2. **Coronary angiography:** 90% LAD stenosis.\n"
        "    3. Echocardiogram showed anterior wall hypokinesis with EF 40%.\n"
        "* **Treatment:** PCI with stent.\n* **Diagnosis:** Anterior STEMI.\n"
    )
    assert env.initial_observation == "* Patient Information: 40-year-old man.\n* Chief Complaint: Chest pain."
    assert [t.name for t in env.tests] == ["Troponin I", "Coronary angiography", "Echocardiogram"]
    assert env.tests[1].result == "Coronary angiography: 90% LAD stenosis."  # short results carry their name
    assert all("PCI" not in t.result and "STEMI" not in t.result for t in env.tests)
    assert env.meta["rare_disease"] is True and env.meta["body_category"] == ["Heart"]


def test_inline_paragraph_split_by_sentence_and_semicolon():
    env = _env(
        "- Patient Information: 7-year-old girl.\n- Chief Complaint: Fever.\n"
        "- Ancillary Tests: Blood cultures grew Staphylococcus aureus; CRP 180 mg/L. "
        "Transthoracic echocardiography revealed a mitral vegetation. No emboli were seen. "
        "Brain MRI was normal.\n"
    )
    assert [t.name for t in env.tests] == ["Blood cultures", "CRP", "Transthoracic echocardiography", "Brain MRI"]
    assert env.tests[2].result.endswith("No emboli were seen.")  # a sentence with no test joins the previous one


def test_result_repeated_in_history_is_not_served_as_hidden():
    env = _env(
        "- Patient Information: 50-year-old.\n- History of Present Illness: Prior CT showed a 2 cm renal mass.\n"
        "- Ancillary Tests:\n  - CT: Showed a 2 cm renal mass.\n  - Biopsy: Clear cell renal carcinoma.\n"
    )
    assert [t.name for t in env.tests] == ["Biopsy"]
    assert not leaked_results(env.initial_observation, env.tests, min_words=1)


@pytest.mark.parametrize("summary,reason", [
    ("- Patient Information: 5-year-old.\n- Chief Complaint: Rash.", "no 'Ancillary Tests'"),
    ("- Ancillary Tests: CBC normal.", "nothing before"),
])
def test_unusable_summaries_are_named_errors(summary, reason):
    with pytest.raises(RecordError, match=reason) as exc:
        _env(summary)
    assert exc.value.where == "key PMCX" and exc.value.field == "generate_case.case_summary"
