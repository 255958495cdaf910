"""What cannot be measured (docs/design.md): the fallback rule in every branch, free-form trajectories scored through
the extractor, decision counts in rows, `medaction score` and the run summary. Hops are those of the fixture
graphs (tests/data/kg_make_fixtures.py): from T2DM, type 1 diabetes 2, hypothyroidism 5, pneumonia 6."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from http_fixtures import ChatHandler, serve

from medaction.cli import main as cli_main
from medaction.envs.types import Environment
from medaction.policies.base import build
from medaction.policies.types import Turn
from medaction.scoring.base import build_scorer
from medaction.scoring.counts import counts_from_rows, summary_lines
from medaction.scoring.extractor import PolicyExtractor, build_extractor
from medaction.scoring.filters import decide, fallback
from medaction.scoring.kg_scorer import KGScorer, KGScorerConfig
from medaction.scoring.loaders.clingraph import load_clingraph
from medaction.scoring.loaders.primekg import load_primekg
from medaction.scoring.rows import to_row, to_table
from medaction.tree.types import Node, Trajectory

DATA = Path(__file__).parent / "data"
ENV = Environment(case_id="c1", source="test", initial_observation="polyuria", diagnosis="type 2 diabetes mellitus")


@pytest.fixture(scope="module")
def graphs():  # type: ignore[no-untyped-def]
    return load_primekg(DATA / "kg_primekg_small.csv"), load_clingraph(DATA / "kg_clingraph")


def scorer(graphs, **kw) -> KGScorer:  # type: ignore[no-untyped-def]
    return KGScorer(KGScorerConfig(**kw), dtc_graph=graphs[0], rac_graph=graphs[1])


def free(reasoning: str, tests: tuple[str, ...] = (), final: str | None = None) -> Turn:
    """A free-form turn as the parser leaves it: prose reasoning, a bare {"tests": [...]} or final, no differential."""
    tail = json.dumps({"final_diagnosis": final} if final else {"tests": list(tests)})
    return Turn(tests=tests, final_diagnosis=final, reasoning=reasoning, raw=f"{reasoning}\n{tail}")


def traj(turns: list[Turn], mode: str = "free", case_id: str = "c1") -> Trajectory:
    nodes, parent = [], None
    for i, t in enumerate(turns):
        nid = "r0" + "".join(f".{k}" for k in range(1, i + 1))
        nodes.append(Node(tree_id=f"p::{case_id}", node_id=nid, parent_id=parent, depth=i + 1, policy_id="p",
                          seed=i, turn=t))
        parent = nid
    return Trajectory(case_id=case_id, policy_id="p", nodes=tuple(nodes), stop="final", tree_id=f"p::{case_id}",
                      mode=mode)


# -- the rule, branch by branch (hand-computed) ----------------------------------------------------------------
def test_decide_every_branch() -> None:
    rac0 = [None, 0.0, 0.0, 0.0]
    # measured (>= 2 linked turns): DTC/RAC decide, whatever `correct` says
    assert decide("dtc+rac", [3, 2, 4, 5], rac0, True, 3.0) == ((1, 2), "truncated", "dtc+rac")
    assert decide("dtc+rac", [2, 3, 4, 5], rac0, True, 3.0) == ((), "discarded", "dtc+rac")
    assert decide("dtc+rac", [None, 3, None, 2], rac0, False, 3.0) == ((1, 2, 3, 4), "kept", "dtc+rac")
    # silent (< 2 linked turns): the fallback decides
    one_linked = [None, None, 4]
    assert decide("dtc+rac", one_linked, [None, 0.0, 0.0], True, 3.0) == ((1, 2, 3), "kept", "fallback")
    assert decide("dtc+rac", one_linked, [None, 0.0, 0.0], False, 3.0) == ((), "discarded", "fallback")
    assert decide("dtc+rac", one_linked, [None, 0.0, 0.0], None, 3.0) == ((), "discarded", "fallback")
    assert decide("dtc+rac", [None] * 3, [None] * 3, False, 3.0, "keep") == ((1, 2, 3), "kept", "fallback")
    assert decide("dtc+rac", [None] * 3, [None] * 3, True, 3.0, "discard") == ((), "discarded", "fallback")
    assert decide("dtc+rac", [0], [None], True, 3.0) == ((1,), "kept", "fallback")  # one correct turn
    # the other filters say they decided
    assert decide("none", [None, None], [None, None], False, 3.0) == ((1, 2), "kept", "none")
    assert decide("correctness", [1, 0], [None, 0.0], False, 3.0) == ((), "discarded", "correctness")
    assert fallback(0, True) == ((), "discarded")
    with pytest.raises(ValueError, match="unmeasured"):
        fallback(2, True, "maybe")


# -- done-when: free-form trajectories -------------------------------------------------------------------------
WANDERS = [
    free("Polyuria in a young patient: the most likely diagnosis is type 1 diabetes mellitus.", ("HbA1c",)),
    free("The HbA1c is high. Leading diagnosis: type 2 diabetes mellitus, given the age of onset.", ("TSH",)),
    free("The TSH changes things; I suspect hypothyroidism now.", ("Chest X-ray",)),
    free("Cough and fever on the film.", final="Pneumonia"),
]


def test_free_form_wrong_final_moving_away_is_truncated(graphs) -> None:  # type: ignore[no-untyped-def]
    st = scorer(graphs).score(traj(WANDERS), ENV)
    assert st.top1_source == ("extracted", "extracted", "extracted", "parsed")
    assert st.dtc == (2, 0, 5, 6)  # t* = 2 (0 <= 2); turns 3-4 moved away
    assert st.correct is False and st.decided_by == "dtc+rac"
    assert st.verdict == "truncated" and st.kept_turns[-1] <= 2
    # the same trajectory without extraction: only the final turn has a top-1 -> silent -> fallback -> discarded
    silent = scorer(graphs, extractor="none").score(traj(WANDERS), ENV)
    assert silent.dtc == (None, None, None, 6) and silent.decided_by == "fallback" and silent.verdict == "discarded"


def test_free_form_wrong_final_moving_away_from_the_start_is_discarded(graphs) -> None:  # type: ignore[no-untyped-def]
    t = traj([WANDERS[0], WANDERS[2], WANDERS[3]])
    st = scorer(graphs).score(t, ENV)
    assert st.dtc == (2, 5, 6) and st.verdict == "discarded" and st.decided_by == "dtc+rac"


def test_unlinked_truth_goes_through_the_fallback(graphs) -> None:  # type: ignore[no-untyped-def]
    env = Environment(case_id="c1", source="test", initial_observation="", diagnosis="Qqqq zzzz syndrome")
    right = traj([WANDERS[0], free("So it is this.", final="qqqq zzzz syndrome")])
    st = scorer(graphs).score(right, env)
    assert st.truth_linked is False and st.dtc == (None, None)
    assert st.decided_by == "fallback" and st.correct is True and st.verdict == "kept" and st.kept_turns == (1, 2)
    wrong = scorer(graphs).score(traj(WANDERS), env)
    assert wrong.decided_by == "fallback" and wrong.correct is False and wrong.verdict == "discarded"


# -- extractors -------------------------------------------------------------------------------------------------
def test_policy_extractor_uses_a_registered_policy_and_falls_back_to_rules() -> None:
    reply = 'Sure.\n{"differential": [{"diagnosis": "Hypothyroidism", "confidence": 0.7}, ' \
            '{"diagnosis": "Depression", "confidence": 0.2}]}'
    ex = PolicyExtractor(build("scripted", {"turns": [reply]}))
    text = "Fatigue and weight gain; thyroid disease seems to fit best, though mood could explain it."
    assert ex.extract(text) == ("Hypothyroidism", "Depression")
    assert ex.extract(text) == ("Hypothyroidism", "Depression") and len(ex.cache) == 1 and ex.failures == 0
    import asyncio

    async def inside_a_loop() -> tuple[str, ...]:  # the gold job scores from async code
        return PolicyExtractor(build("scripted", {"turns": [reply]})).extract(text)

    assert asyncio.run(inside_a_loop()) == ("Hypothyroidism", "Depression")
    broken = PolicyExtractor(build("scripted", {"turns": []}))  # raises PolicyError on every call
    assert broken.extract("The most likely diagnosis is hypothyroidism.") == ("hypothyroidism",)
    assert broken.failures == 1
    with pytest.raises(ValueError, match="extractor_policy"):
        build_extractor("policy")
    with pytest.raises(ValueError, match="extractor"):
        build_extractor("magic")


def test_policy_extractor_configured_in_the_scorer(graphs) -> None:  # type: ignore[no-untyped-def]
    reply = '{"differential": [{"diagnosis": "type 1 diabetes mellitus", "confidence": 0.9}]}'
    s = scorer(graphs, extractor="policy", extractor_policy="scripted", extractor_policy_config={"turns": [reply]})
    st = s.score(traj([free("Some thoughts without a named disease.", ("HbA1c",)),
                       free("", final="Type 2 diabetes mellitus")]), ENV)
    assert st.top1_source == ("extracted", "parsed") and st.dtc == (2, 0) and st.verdict == "kept"


# -- counts -----------------------------------------------------------------------------------------------------
def test_counts_rows_score_cli_and_summary(graphs, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    s = scorer(graphs)
    env_bad = Environment(case_id="c2", source="test", initial_observation="", diagnosis="Qqqq zzzz syndrome")
    structured = traj([free("x", ("HbA1c",)), free("y", final="Type 2 diabetes mellitus")], mode="structured")
    scored = [s.score(traj(WANDERS), ENV),  # free, 4 turns, all top-1 linked; dtc+rac truncated
              s.score(traj(WANDERS, case_id="c2"), env_bad),  # free, truth unlinked: fallback discarded
              s.score(structured, ENV)]  # structured; turn 1 "x" has no top-1; 1 linked turn: fallback kept
    rows = [to_row(st) for st in scored]
    rep = counts_from_rows(to_table(rows).to_pylist()).report()
    assert rep["trajectories"] == 3 and rep["decided_by_dtc_rac"] == 1 and rep["decided_by_fallback"] == 2
    assert rep["dtc_rac"] == {"kept": 0, "truncated": 1, "discarded": 0}
    assert rep["fallback"] == {"kept": 1, "discarded": 1}
    assert (rep["kept_whole"], rep["truncated"], rep["discarded"]) == (1, 1, 1)
    assert rep["truth_link_rate"] == pytest.approx(2 / 3, abs=1e-4)
    # top-1: 4 + 4 + 1 of 10 turns; linked 4 + 4 + 1 (links do not depend on s*)
    assert rep["top1_share"] == pytest.approx(0.9) and rep["top1_link_rate"] == 1.0
    assert rep["top1_link_rate_by_turn"] == [1.0, 1.0, 1.0, 1.0]
    assert rep["free_turn_share"] == pytest.approx(0.8) and rep["free_top1_share"] == 1.0
    assert rep["free_extracted_share"] == pytest.approx(0.75)
    labels = dict(summary_lines(rep))
    assert labels["decided by DTC/RAC"].startswith("1 (kept 0, truncated 1")
    assert labels["free-form turns with a top-1"].startswith("100.0%")

    from medaction.engine.summary import RunSummary, table

    text = table(RunSummary(out_dir="o", config_hash="h", scorer="kg", wall_s=1.0, scoring=rep))
    assert "decided by fallback" in text and "truth link rate" in text and "66.7%" in text

    # `medaction score` re-scores identity rows and prints/writes the same counts
    from medaction.envs.load import write_jsonl

    cases = tmp_path / "cases.jsonl"
    write_jsonl([ENV, env_bad], cases)
    (tmp_path / "run" / "shards").mkdir(parents=True)
    ident = build_scorer("identity")
    pq.write_table(to_table([to_row(ident.score(traj(WANDERS), ENV)),
                             to_row(ident.score(traj(WANDERS, case_id="c2"), env_bad))]),
                   tmp_path / "run" / "shards" / "part-0.parquet")
    pk_dir, cg_dir = tmp_path / "pk", tmp_path / "cg"
    graphs[0].save(pk_dir)
    graphs[1].save(cg_dir)
    capsys.readouterr()
    rc = cli_main(["score", str(tmp_path / "run"), "-o", str(tmp_path / "out"), "--cases", str(cases),
                   "--source", "jsonl", "--graph", str(pk_dir), "--rac-graph", str(cg_dir)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "decided by DTC/RAC" in printed and "decided by fallback" in printed
    stats = json.loads((tmp_path / "out" / "retention.json").read_text())
    assert stats["decisions"]["decided_by_dtc_rac"] == 1 and stats["decisions"]["decided_by_fallback"] == 1
    assert stats["unmeasured"] == "correctness"
    # a bad option is a usage error (exit 2, one line), and nothing is written
    assert cli_main(["score", str(tmp_path / "run"), "-o", str(tmp_path / "out2"), "--unmeasured", "maybe"]) == 2
    assert "--unmeasured: 'maybe'" in capsys.readouterr().err and not (tmp_path / "out2").exists()


def test_policy_extractor_over_a_real_local_http_server(graphs) -> None:  # type: ignore[no-untyped-def]
    seen: list[dict] = []

    class Model(ChatHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.read_json()
            seen.append(body)
            text = body["messages"][-1]["content"]
            dx = "type 1 diabetes mellitus" if "young" in text else "hypothyroidism"
            content = json.dumps({"differential": [{"diagnosis": dx, "confidence": 0.8}]})
            self.send_json({"choices": [{"message": {"role": "assistant", "content": content},
                                         "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 5}})

    with serve(Model) as url:
        s = scorer(graphs, extractor="policy", extractor_policy="openai_http",
                   extractor_policy_config={"base_url": url, "max_attempts": 1})
        turns = [free("A young patient with polyuria; several things could fit.", ("HbA1c",)),
                 free("Weight gain and fatigue now dominate.", ("TSH",)),
                 free("", final="Pneumonia")]
        st = s.score(traj(turns), ENV)
        again = s.score(traj(turns, case_id="c1"), ENV)  # the same texts: answered from the cache
    assert st.top1_source == ("extracted", "extracted", "parsed") and st.dtc == (2, 5, 6)
    assert st.verdict == "discarded" and st.decided_by == "dtc+rac" and again.dtc == st.dtc
    assert len(seen) == 2 and all(b["temperature"] == 0.0 for b in seen)
    assert "polyuria" in seen[0]["messages"][-1]["content"]
