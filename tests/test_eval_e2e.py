"""End to end: `medaction eval` on a few shared cases through the real engine (local Ray), judged offline,
producing the report, JSON and PNGs; a second call resumes (the engine skips finished cases).

The engine starts its actors per run (tens of seconds on a loaded 2-core machine), so this test keeps to 5 cases
and three engine calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medaction.eval.engine_backend import EngineBackend
from medaction.eval.judges.base import build_judge
from medaction.eval.runner import EvalSpec, evaluate
from medaction.eval.summary import read_cases

PNG = b"\x89PNG\r\n\x1a\n"
POLICY = "heuristic"


def _spec(cases: Path, source: str, out: Path, *, limit: int, runs: int) -> EvalSpec:
    return EvalSpec(policy=POLICY, cases=str(cases), source=source, out=str(out), runs=runs, limit=limit)


def test_eval_end_to_end_medrbench(ray_session, medrbench_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    judge = build_judge("offline")
    first = evaluate(_spec(medrbench_path, "medrbench", out, limit=5, runs=1), backend=EngineBackend(), judge=judge)
    # a second call with more runs resumes run 0 (the engine finds its trees done) and adds run 1
    res = evaluate(_spec(medrbench_path, "medrbench", out, limit=5, runs=2), backend=EngineBackend(), judge=judge)
    assert json.loads((out / "run_0" / "summary.json").read_text())["trees_skipped"] == 5
    assert res.summary.runs[0] == first.summary.runs[0]
    s = res.summary
    assert s.n_cases == 5 and len(s.runs) == 2 and [m.seed for m in s.runs] == [0, 1009]
    assert "offline" in s.judge and "HPO" in s.graph and res.scorer == "kg"
    cases = read_cases(out)
    assert len(cases) == 10 and {c.run for c in cases} == {0, 1}
    for c in cases:  # the per-case numbers are consistent with the protocol
        assert len(c.pred_matched) == len(c.predicted_tests) and len(c.menu_matched) == len(c.menu) > 0
        assert c.precision == (sum(c.pred_matched) / len(c.pred_matched) if c.predicted_tests else 0.0)
        assert 1 <= c.n_turns <= 8 and c.stop in {"final", "max_turns", "parse_failed", "policy_error", "timeout"}
        assert len(c.dtc) == c.n_turns
    run0 = [c for c in cases if c.run == 0]
    assert s.runs[0].precision == pytest.approx(sum(c.precision for c in run0) / 5)
    assert sum(c.rare for c in run0) >= 1  # MedR-Bench's rare-disease flag reaches the hard-subset rule
    md = (out / "report.md").read_text()
    assert "**judge**: offline" in md and "**graph** (DTC/RAC): HPO" in md and "P = R = 0" in md
    for name in ("dtc_per_turn", "rac_pass_rate", "tests_per_turn", "turns_per_case"):
        assert (out / "plots" / f"{name}.png").read_bytes()[:8] == PNG
    data = json.loads((out / "eval.json").read_text())
    assert data["summary"]["n_cases"] == 5 and len(data["analyses"]["dtc_per_turn"]) >= 1



@pytest.mark.slow
def test_eval_end_to_end_smollm2(ray_session, agentclinic_path: Path, tmp_path: Path) -> None:
    """A real small LLM (packaged SmolLM2-135M, CPU) through the same path: few cases, turns and tokens."""
    out = tmp_path / "smol"
    spec = EvalSpec(policy="hf", policy_config={"threads": 1, "sampling": {"max_tokens": 8, "temperature": 0.6}},
                    cases=str(agentclinic_path), source="agentclinic", out=str(out), runs=1, limit=1, max_turns=2,
                    scorer="identity", label="smollm2-135m")
    res = evaluate(spec, backend=EngineBackend(), judge=build_judge("offline"))
    assert res.summary.n_cases == 1 and res.summary.graph == "none" and res.scorer == "identity"
    for c in read_cases(out):
        assert 1 <= c.n_turns <= 2 and c.stop in {"final", "max_turns", "parse_failed", "truncated", "policy_error",
                                                  "timeout"}  # max_tokens 8: SmolLM2 turns are cut
        assert 0.0 <= c.precision <= 1.0 and 0.0 <= c.recall <= 1.0
    md = (out / "report.md").read_text()
    assert "| smollm2-135m |" in md and (out / "plots" / "dtc_per_turn.png").read_bytes()[:8] == PNG
