"""`medaction envs build|show|stats` through the real dispatcher."""

from __future__ import annotations

import json

import pytest

from medaction.cli import build_parser, main


def test_build_show_stats(agentclinic_path, medrbench_path, tmp_path, capsys):
    out = tmp_path / "envs.jsonl"
    assert main(["envs", "build", "--source", "agentclinic", str(agentclinic_path), "-o", str(out)]) == 0
    assert "wrote 214 environments" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == 214

    assert main(["envs", "show", str(out), "--case", "agentclinic-0001"]) == 0
    shown = capsys.readouterr().out
    assert "=== agentclinic-0001" in shown and "Myasthenia gravis" in shown and "Chest CT" in shown
    assert main(["envs", "show", str(out), "--case", "nope"]) == 2  # a bad id is bad input

    assert main(["envs", "stats", "--source", "medrbench", str(medrbench_path)]) == 0
    stats = capsys.readouterr().out
    assert "environments: 20" in stats and "empty menus: 0" in stats and "rare-disease cases: 10" in stats


def test_build_rejects_and_strict(agentclinic_path, tmp_path, capsys):
    src = tmp_path / "bad.jsonl"
    lines = agentclinic_path.read_bytes().splitlines()[:3]
    src.write_bytes(b"\n".join([lines[0], b'{"OSCE_Examination": 3}', lines[2]]) + b"\n")
    rej = tmp_path / "rej.jsonl"
    out = tmp_path / "o.jsonl"
    assert main(["envs", "build", "--source", "agentclinic", str(src), "-o", str(out), "--rejects", str(rej)]) == 0
    assert "wrote 2 environments" in capsys.readouterr().out
    row = json.loads(rej.read_text())
    assert row["where"] == "line 2" and row["field"] == "OSCE_Examination"
    assert main(["envs", "build", "--source", "agentclinic", str(src), "-o", str(out), "--strict"]) == 2
    assert "line 2" in capsys.readouterr().err
    assert main(["envs", "stats", "--source", "agentclinic", str(src)]) == 0
    assert "rejected records: 1" in capsys.readouterr().out


def test_help_texts(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["envs", "build", "--help"])
    text = capsys.readouterr().out
    assert "--strict" in text and "--rejects" in text and "agentclinic" in text
