"""Gold trajectories: documented test order through the one turn loop, every result returned, converging to the
ground truth; written to parquet shards with origin="gold" and read back with the shard row schema."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from medaction.stage1.gold import GoldPolicy, group_tests, meta_alternatives, plan
from medaction.envs.types import Environment, TestItem
from medaction.policies.types import Completion, Message, SamplingParams

ENV = Environment(
    case_id="g1",
    source="extracted",
    initial_observation="Chief complaint: Severe left eye pain\nExamination: Febrile, left eyelid edema",
    tests=(
        TestItem(name="C-reactive protein", category="Laboratory", result="306.9 mg/L"),
        TestItem(name="Complete blood count", category="Laboratory", result="WBC 15.3 x 10^3/uL, neutrophilia"),
        TestItem(name="CT head", category="Imaging", result="Opacified left maxillary sinus, frontal epidural collection"),
        TestItem(name="MRI head", category="Imaging", result="Frontal epidural empyema"),
        TestItem(name="Blood culture", category="Microbiology", result="No growth"),
    ),
    diagnosis="Orbital cellulitis with frontal epidural empyema",
    meta={"differential": ["Preseptal cellulitis", {"diagnosis": "Cavernous sinus thrombosis"}, "Orbital cellulitis"]},
)


def test_plan_groups_in_documented_order_and_narrows() -> None:
    alts = meta_alternatives(ENV)
    assert alts == ["Preseptal cellulitis", "Cavernous sinus thrombosis"]  # the GT-like "Orbital cellulitis" dropped
    steps = plan(ENV, alternatives=alts)
    assert [s.tests for s in steps] == [
        ("C-reactive protein", "Complete blood count"), ("CT head", "MRI head"), ("Blood culture",), ()]
    assert steps[-1].final_diagnosis == ENV.diagnosis
    gt_conf = [s.differential[0].confidence for s in steps]
    assert gt_conf == sorted(gt_conf) and gt_conf[-1] == 1.0 and gt_conf[0] < 0.5
    sizes = [len(s.differential) for s in steps]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == 3 and sizes[-1] == 1
    # more groups than turns allow: adjacent groups merge, order kept
    many = [TestItem(name=f"t{i}", category=str(i), result="r") for i in range(12)]
    groups = group_tests(many, 7)
    assert len(groups) == 7 and [t.name for g in groups for t in g] == [f"t{i}" for i in range(12)]


def test_gold_trajectory_runs_through_the_turn_loop() -> None:
    from medaction.stage1.gold import gold_trajectory

    traj = asyncio.run(gold_trajectory(ENV))
    assert traj.stop == "final" and traj.policy_id == "gold" and traj.tree_id == "gold::g1"
    assert [n.node_id for n in traj.nodes][:2] == ["r0", "r0.1"]
    assert all(n.turn.parse == "ok" and not n.usage.repaired for n in traj.nodes)
    assert [n.turn.tests for n in traj.nodes[:-1]] == [s.tests for s in plan(ENV, alternatives=meta_alternatives(ENV))[:-1]]
    replies = [r for n in traj.nodes for r in n.replies]
    assert len(replies) == 5 and all(r.available for r in replies)
    by_request = {r.request: r.result for r in replies}
    for t in ENV.tests:  # every ordered test returns its documented result
        assert t.result in by_request[t.name]
    assert traj.nodes[-1].turn.final_diagnosis == ENV.diagnosis
    assert "Severe left eye pain" in traj.nodes[0].messages[-1].content or any(
        "Severe left eye pain" in m.content for m in traj.nodes[0].messages)
    # the second prompt carries the first turn's documented results (the record)
    assert any("306.9 mg/L" in m.content for m in traj.nodes[1].messages)


class _Narrator:
    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, messages: Sequence[Message], *, session: str, seed: int,
                       params: SamplingParams) -> Completion:
        self.calls += 1
        return Completion(text=f"Narrated step {self.calls}.")


def test_narrator_rewrites_reasoning_only() -> None:
    from medaction.stage1.gold import gold_trajectory

    narrator = _Narrator()
    traj = asyncio.run(gold_trajectory(ENV, narrator=narrator))
    assert narrator.calls == len(traj.nodes) == 4
    assert traj.nodes[0].turn.reasoning.startswith("Narrated step 1")
    assert traj.nodes[-1].turn.final_diagnosis == ENV.diagnosis


def test_gold_policy_replays_last_step_when_over_asked() -> None:
    steps = plan(ENV)
    pol = GoldPolicy(steps)
    texts = [asyncio.run(pol.complete((), session="g1", seed=0, params=SamplingParams())).text for _ in range(6)]
    assert '"final_diagnosis"' in texts[-1] and texts[-1] == texts[-2]


def test_gold_shards_rows_and_resume(tmp_path: Path, medrbench_path: Path) -> None:
    from medaction.engine.gold_job import write_gold_shards
    from medaction.envs.load import iter_environments
    from medaction.scoring.base import IdentityScorer
    from medaction.scoring.rows import from_row

    envs = [ENV, *itertools.islice(iter_environments("medrbench", medrbench_path), 3)]
    s = write_gold_shards(envs[:2], tmp_path, IdentityScorer(), rows_per_shard=1)
    assert s["written"] == 2 and s["rows"] == 2 and s["shards"] == 2
    s = write_gold_shards(envs, tmp_path, IdentityScorer(), resume=True)
    assert s["written"] == 2 and s["rows"] == 4 and s["trees_done"] == 4
    table = pq.read_table(tmp_path / "shards")
    rows = table.to_pylist()
    assert {r["origin"] for r in rows} == {"gold"} and {r["stop"] for r in rows} == {"final"}
    assert sorted(r["case_id"] for r in rows) == sorted(e.case_id for e in envs)
    for r in rows:
        st = from_row(r)
        env = next(e for e in envs if e.case_id == r["case_id"])
        assert r["final_diagnosis"] == env.diagnosis and st.kept_turns == tuple(range(1, r["n_turns"] + 1))
        ordered = [t for n in st.trajectory.nodes for t in n.turn.tests]
        assert ordered == [t.name for t in env.tests]  # the documented order, every menu item once
