"""The one diagnosis equivalence: the offline judge, the scorer's `correct` field and the RL reward decide every pair
alike (they all call medaction.envs.diagnosis.same_diagnosis), and the MedR-Bench rule's clear cases hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from medaction.envs.diagnosis import diagnosis_score, load_model, rule_verdict, same_diagnosis
from medaction.envs.types import Environment
from medaction.eval.judges.base import build_judge
from medaction.policies.types import Turn
from medaction.scoring.kg_scorer import KGScorer, KGScorerConfig
from medaction.scoring.loaders.clingraph import load_clingraph
from medaction.scoring.loaders.primekg import load_primekg
from medaction.tree.loop import initial_state
from medaction.tree.rl_env import TerminalCorrectness

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEDACTION_SHARED") or REPO.parent / "shared")
DEV = SHARED / "data" / "judge" / "medrbench_judged_answers_dev.jsonl"

# (answer, truth, MedR-Bench verdict) written from the rule, not from any labelled file
PAIRS = [
    ("Myasthenia gravis", "Myasthenia Gravis", True),
    ("Systemic lupus erythematosus with lupus nephritis", "SLE", True),  # alias + a complication
    ("SCID", "Severe combined immunodeficiency due to a JAK3 mutation", True),  # abbreviation = initials
    ("**Final diagnosis:** Kikuchi disease", "The patient was diagnosed with Kikuchi disease based on biopsy.", True),
    ("Haemophagocytic lymphohistiocytosis", "Hemophagocytic lymphohistiocytosis (HLH)", True),
    ("Leukemia", "Acute myeloid leukemia", False),  # a broader class
    ("Multiple sclerosis", "Myasthenia gravis", False),  # another disease
    ("", "Myasthenia gravis", False),
]


@pytest.mark.parametrize(("answer", "truth", "expected"), PAIRS)
def test_rule_cases(answer: str, truth: str, expected: bool) -> None:
    assert same_diagnosis(answer, truth) is expected


def test_rule_verdicts_are_decisive() -> None:
    assert rule_verdict("Leukemia", "Acute myeloid leukemia") is False
    assert rule_verdict("CLL", "Chronic lymphocytic leukemia") is True
    assert diagnosis_score("CLL", "Chronic lymphocytic leukemia") == 1.0
    assert rule_verdict("Gaucher disease", "Niemann-Pick disease") is False  # only "disease" in common
    assert rule_verdict("Acute disease", "Chronic disease") is False
    assert rule_verdict("Viral myocarditis", "Fulminant myocarditis") is None  # left to the model


@pytest.fixture(scope="module")
def scorer() -> KGScorer:
    return KGScorer(KGScorerConfig(), dtc_graph=load_primekg(DATA / "kg_primekg_small.csv"),
                    rac_graph=load_clingraph(DATA / "kg_clingraph"))


def test_judge_scorer_and_reward_agree(scorer: KGScorer) -> None:
    judge = build_judge("offline")
    reward = TerminalCorrectness()
    pairs = [(a, t) for a, t, _ in PAIRS] + [(a, t) for a, t, _ in PAIRS[::-1] if a][:4]
    pairs += [("Tubal ectopic pregnancy", "Interstitial ectopic pregnancy"), ("Gaucher disease type 3", "Gaucher disease")]
    for answer, truth in pairs:
        env = Environment(case_id="c", source="test", initial_observation="x", diagnosis=truth)
        state = msgspec.structs.replace(initial_state(env), done=True, stop="final", final_diagnosis=answer or None)
        verdicts = {
            "equivalence": same_diagnosis(answer, truth),
            "judge": judge.same_diagnosis_sync(answer, truth),  # type: ignore[attr-defined]
            "scorer": scorer.is_correct(answer, truth, None),
            "reward": reward(env, state, Turn()) == 1.0,
        }
        assert len(set(verdicts.values())) == 1, (answer, truth, verdicts)


def test_packaged_model_matches_this_code() -> None:
    m = load_model()
    assert 0.0 < m.threshold < 1.0 and len(m.weights) == len(m.features)
    assert "fit half" in m.fitted_on


@pytest.mark.skipif(not DEV.is_file(), reason=f"LLM-judged dev answers not found: {DEV}")
def test_agreement_on_llm_judged_answers_held_out_half() -> None:
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    from judge_agreement import figures, split_by_case

    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    _, held = split_by_case(rows)
    f = figures([same_diagnosis(r["answer"], r["truth"]) for r in held], [bool(r["correct"]) for r in held])
    # measured floor (docs/notes/judge.md): well above the 'always correct' baseline (kappa 0)
    assert f["kappa"] >= 0.40 and f["agreement"] >= 0.78
    # the figures the eval report quotes are the ones this judge measures now
    from medaction.eval.judges.measured import MEASURED

    m = MEASURED["offline"]
    assert (m.n, m.false_correct, m.false_wrong) == (f["n"], f["false_correct"], f["false_wrong"])
    assert round(f["agreement"], 3) == m.agreement and round(f["kappa"], 3) == m.kappa
