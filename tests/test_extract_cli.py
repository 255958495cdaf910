"""`medaction envs extract | gold | agreement` end to end through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from medaction.cli import main
from medaction.stage1.extract_run import read_envs
from tests.support.stdout_json import last_json_object

DATA = Path(__file__).parent / "data"
ANSWER = (DATA / "extract_answer.json").read_text()


def test_gold_command_writes_shards(tmp_path: Path, medrbench_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "gold"
    argv = ["envs", "gold", "--source", "medrbench", "--cases", str(medrbench_path), "-o", str(out), "--limit", "3"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 3 and summary["rows"] == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["trees_done"]) == 3
    rows = pq.read_table(out / "shards").to_pylist()
    assert [r["origin"] for r in rows] == ["gold"] * 3
    # a second run without --resume refuses to overwrite; with --resume it writes nothing new
    assert main(argv) == 2 and "already holds a run" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0 and json.loads(capsys.readouterr().out)["written"] == 0


def test_agreement_command(tmp_path: Path, medrbench_path: Path, capsys: pytest.CaptureFixture) -> None:
    from medaction.envs.load import iter_environments

    envs = list(iter_environments("medrbench", medrbench_path))[:4]
    path = tmp_path / "ex.jsonl"
    path.write_bytes(b"".join(msgspec.json.encode(msgspec.structs.replace(e, source="extracted")) + b"\n"
                              for e in envs))
    assert main(["envs", "agreement", str(path), "--reference", str(medrbench_path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n_both"] == 4 and rep["n_reference"] == 20 and rep["menu_f1"] == 1.0 and rep["o1_f1"] == 1.0


def test_extract_command_local_then_ray_resume(ray_session, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("case-a", "case-b", "case-c"):
        (reports / f"{name}.txt").write_text((DATA / "extract_report.txt").read_text())
    (reports / "notes.pdf").write_bytes(b"%PDF-1.4")  # not a report format: rejected, the others go through
    out, fails = tmp_path / "envs.jsonl", tmp_path / "fails.jsonl"
    base = ["envs", "extract", "--policy", "scripted", "--policy-config", json.dumps({"turns": [ANSWER]}),
            "-o", str(out), "--failures", str(fails)]
    assert main([*base, "--input", str(reports / "case-a.txt"), str(reports / "case-b.txt")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["ok"], summary["failed"]) == (2, 0)
    # resume over the whole folder as a Ray job: only case-c is new
    assert main([*base, "--input", str(reports), "--resume", "--ray", "--replicas", "1"]) == 0
    captured = capsys.readouterr()
    summary = last_json_object(captured.out)
    assert (summary["ok"], summary["failed"], summary["replicas"], summary["rejected_inputs"]) == (1, 0, 1, 1)
    assert "notes.pdf" in captured.err and "unsupported file type" in captured.err
    envs = sorted(read_envs(out), key=lambda e: e.case_id)  # written in completion order
    assert [e.case_id for e in envs] == ["case-a", "case-b", "case-c"]
    assert all(e.source == "extracted" and len(e.tests) == 4 for e in envs)
    assert envs[0].meta["path"].endswith("case-a.txt") and envs[0].meta["extract"]["attempts"] == 1
    assert fails.read_text() == ""
