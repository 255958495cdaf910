"""Property tests: the MedR-Bench summary parser and the oracle never crash on arbitrary (markdown-ish) text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from medaction.envs.errors import RecordError
from medaction.envs.medrbench import leaked_results, parse_record
from medaction.envs.oracle import Oracle
from medaction.envs.types import Environment, TestItem

_WORDS = ["CT", "MRI", "showed", "normal", "Ancillary Tests", "**", ":", "-", "1.", "Patient Information",
          "revealed", "CBC", "mass", ";", ".", "(", ")", "#### Case 2", "---", "biopsy", "Labs", "elevated", "\n"]
_line = st.builds(lambda indent, parts: " " * indent + " ".join(parts),
                  st.integers(0, 6), st.lists(st.sampled_from(_WORDS) | st.text(max_size=8), max_size=10))
_summary = st.lists(_line, max_size=14).map("\n".join)


@settings(max_examples=100, deadline=None)
@given(_summary)
def test_summary_parser_total(summary):
    try:
        env = parse_record("K", {"generate_case": {"case_summary": summary, "diagnosis_results": "dx"}}, path="p")
    except RecordError as err:
        assert err.where == "key K"
        return
    # an empty menu is a case too (envs/load.py: every importer keeps it); o1 never is
    assert env.initial_observation
    assert not leaked_results(env.initial_observation, env.tests, min_words=1)


_env = Environment(case_id="c", source="t", initial_observation="o", diagnosis="d",
                   tests=(TestItem(name="Complete blood count", category="Blood tests", result="normal"),
                          TestItem(name="Chest X-ray", result="clear"), TestItem(name="TSH", result="2.1")))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=5))
def test_oracle_total_and_deterministic(requests):
    o = Oracle(_env)
    first = o.answer(requests)
    assert first == Oracle(_env).answer(requests)
    assert [r.request for r in first] == requests
    for r in first:
        assert r.available == bool(r.matched) and (r.result == "UNAVAILABLE") != r.available


def test_summary_whose_tests_section_is_empty_is_a_case_with_no_menu() -> None:
    # the example hypothesis found: "Ancillary Tests" is the last line
    env = parse_record("K", {"generate_case": {"case_summary": "CT :\nAncillary Tests", "diagnosis_results": "dx"}},
                       path="p")
    assert env.initial_observation == "CT :" and env.tests == ()
