"""Malformed input: named errors, skip + count + rejects file, --strict, and a seeded fuzz test."""

from __future__ import annotations

import json
import random

import pytest

from medaction.envs.errors import RecordError, RejectLog
from medaction.envs.load import iter_environments


def _ac_lines(path, n=12):
    return path.read_bytes().splitlines()[:n]


def test_each_malformation_is_named(agentclinic_path, tmp_path):
    good = _ac_lines(agentclinic_path, 3)
    obj = json.loads(good[0])
    no_dx = json.loads(good[0]); del no_dx["OSCE_Examination"]["Correct_Diagnosis"]
    empty_dx = json.loads(good[0]); empty_dx["OSCE_Examination"]["Correct_Diagnosis"] = "  "
    wrong = json.loads(good[0]); wrong["OSCE_Examination"]["Test_Results"] = ["x"]
    bad = [b"{not json", json.dumps(no_dx).encode(), json.dumps(empty_dx).encode(), json.dumps(wrong).encode(),
           b"\xff\xfe\x00garbage", good[1][: len(good[1]) // 2], b"[1, 2]"]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([good[0], *bad, good[2]]) + b"\n")
    rej_path = tmp_path / "rejects.jsonl"
    with RejectLog(rej_path) as log:
        envs = list(iter_environments("agentclinic", path, rejects=log))
    assert [e.case_id for e in envs] == ["agentclinic-0001", "agentclinic-0009"]
    assert envs[0].diagnosis == obj["OSCE_Examination"]["Correct_Diagnosis"]
    rows = [json.loads(x) for x in rej_path.read_text().splitlines()]
    assert [r["where"] for r in rows] == [f"line {i}" for i in range(2, 9)]
    fields = [r["field"] for r in rows]
    assert fields == ["<line>", "Correct_Diagnosis", "OSCE_Examination.Correct_Diagnosis", "Test_Results",
                      "<line>", "<line>", "<record>"]
    assert "not UTF-8" in rows[4]["reason"] and "bad JSON" in rows[5]["reason"]
    assert all(r["file"] == str(path) for r in rows)
    with pytest.raises(RecordError) as exc:
        list(iter_environments("agentclinic", path, strict=True))
    assert str(path) in str(exc.value) and "line 2" in str(exc.value)


def test_medrbench_bad_records(medrbench_path, tmp_path):
    data = json.loads(medrbench_path.read_text())
    keys = list(data)[:5]
    sub = {k: data[k] for k in keys}
    sub[keys[1]] = {"generate_case": {"case_summary": 3, "diagnosis_results": "x"}}
    sub[keys[2]] = {"generate_case": {"case_summary": data[keys[2]]["generate_case"]["case_summary"],
                                      "diagnosis_results": ""}}
    sub[keys[3]] = "oops"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(sub))
    log = RejectLog()
    envs = list(iter_environments("medrbench", path, rejects=log))
    assert [e.case_id for e in envs] == [keys[0], keys[4]]
    assert [(r.where, r.field) for r in log.rejects] == [
        (f"key {keys[1]}", "generate_case.case_summary"), (f"key {keys[2]}", "generate_case.diagnosis_results"),
        (f"key {keys[3]}", "<record>")]
    # truncated file: everything before the cut is kept, the cut is reported
    text = json.dumps({k: data[k] for k in keys})
    cut = text.index(f'"{keys[3]}"') + 50
    path.write_text(text[:cut])
    log = RejectLog()
    assert [e.case_id for e in iter_environments("medrbench", path, rejects=log)] == keys[:3]
    assert log.count == 1 and "bad JSON" in log.rejects[0].reason


def test_canonical_jsonl_wrong_type(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"case_id": 5, "source": "x", "initial_observation": "o"}\n'
                    '{"case_id": "a", "source": "x", "initial_observation": "o", "diagnosis": ""}\n'
                    '{"case_id": "b", "source": "x", "initial_observation": "o", "diagnosis": "flu"}\n')
    log = RejectLog()
    envs = list(iter_environments("jsonl", path, rejects=log))
    assert [e.case_id for e in envs] == ["b"]
    assert [(r.where, r.field) for r in log.rejects] == [("line 1", "case_id"), ("line 2", "diagnosis")]


def _mutate(rng: random.Random, line: bytes) -> bytes:
    op = rng.randrange(5)
    if op == 0:
        return line[: rng.randrange(len(line))]  # truncated
    if op == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))).replace(b"\n", b" ")  # garbage
    obj = json.loads(line)
    osce = obj["OSCE_Examination"]
    key = rng.choice(list(osce))
    if op == 2:
        del osce[key]
    elif op == 3:
        osce[key] = rng.choice([None, 7, [1], "", {"a": {"b": None}}, True])
    else:
        obj = rng.choice([[obj], "text", 3.5, None])
    return json.dumps(obj).encode()


def test_fuzz_loader_never_crashes_and_keeps_valid(agentclinic_path, tmp_path):
    rng = random.Random(1234)
    lines = agentclinic_path.read_bytes().splitlines()
    for trial in range(6):
        out, valid = [], 0
        for line in lines[trial * 30 : trial * 30 + 30]:
            if rng.random() < 0.5:
                out.append(_mutate(rng, line))
            else:
                out.append(line)
                valid += 1
        path = tmp_path / f"fuzz{trial}.jsonl"
        path.write_bytes(b"\n".join(out) + b"\n")
        log = RejectLog()
        envs = list(iter_environments("agentclinic", path, rejects=log))
        # every untouched line loads; a mutated one may still be valid (e.g. an optional field removed)
        assert len(envs) >= valid
        assert len(envs) + log.count == sum(1 for x in out if x.strip())
        for r in log.rejects:
            assert r.file == str(path) and r.where.startswith("line ") and r.field
