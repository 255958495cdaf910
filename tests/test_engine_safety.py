"""`medaction run` with the mistakes users make (docs/design.md, "Outputs and resume"): each test runs the exact
mistake through the CLI and asserts the one-line error, the exit code and that no file was lost.

Tests without `ray_session` fail before Ray starts (that is part of what they check: nothing is created); the
others share the session's Ray; one runs `medaction run` in a subprocess to send it Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from medaction.actors.writer import ShardWriterImpl
from medaction.cli import main
from medaction.engine import manifest as mf
from medaction.envs.errors import RejectLog
from medaction.envs.load import default_cases_path, iter_environments, write_jsonl
from medaction.outputs import UsageError
from tests.http_fixtures import ChatHandler
from tests.policies_fixtures import free_port
from tests.support.run_rows import trajectory_content

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / "configs" / "demo.toml")
FINAL = 'Done.\n{"final_diagnosis": "pneumonia", "differential": [{"diagnosis": "pneumonia", "confidence": 0.9}]}'
# A fast real run: scripted teacher (one final turn), K=2, no branches, identity scoring.
QUICK = ["tree.k=2", "tree.b=0", "tree.free_share=0.0", "policies.0.id=scripted", "policies.0.backend=scripted",
         f"policies.0.config.turns={json.dumps([FINAL])}", "engine.progress_bar=false", "engine.flush_every_s=0.2"]


def _sets(*kv: str) -> list[str]:
    return [x for s in kv for x in ("--set", s)]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main(["run", "--no-progress", *argv])
    return rc, capsys.readouterr().err


def error_line(err: str) -> str:
    """The one line the user gets: the last stderr line, `medaction run: ...`, and no traceback anywhere."""
    assert "Traceback" not in err and "\x1b[" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("medaction run: "), err[-2000:]
    return last


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}



def rows_of(out: Path) -> list[dict]:
    m = msgspec.json.decode((out / "manifest.json").read_bytes())
    return [r for s in m["shards"] for r in pq.read_table(out / s["file"]).to_pylist()]


# ---- output directory: refused before anything is written -------------------------------------------------------
def test_foreign_out_is_refused_and_its_files_kept(tmp_path, capsys) -> None:
    out = tmp_path / "X"
    (out / "shards").mkdir(parents=True)
    (out / "shards" / "notes.csv").write_text("precious\n")
    before = snapshot(out)
    rc, err = run_cli(capsys, DEMO, "--out", str(out), *_sets("cases.limit=5"))
    assert rc == 2 and "not empty" in error_line(err) and "--force-out" in error_line(err)
    assert snapshot(out) == before
    # lost manifest + --resume: nothing to resume, and the shards there are kept
    (out / "shards" / "part-00000-1.parquet").write_bytes(b"a shard of a run whose manifest was lost")
    before = snapshot(out)
    rc, err = run_cli(capsys, DEMO, "--out", str(out), "--resume", *_sets("cases.limit=5"))
    assert rc == 2 and "nothing to resume" in error_line(err)
    assert snapshot(out) == before


def test_out_under_a_file(tmp_path, capsys) -> None:
    (tmp_path / "afile").write_text("mine\n")
    rc, err = run_cli(capsys, DEMO, "--out", str(tmp_path / "afile" / "run"), *_sets("cases.limit=3"))
    assert rc == 2 and "is a file, not a directory" in error_line(err)
    assert (tmp_path / "afile").read_text() == "mine\n"


@pytest.mark.parametrize("sets, message", [
    (["policies.0.backend=nope"], "unknown policy backend 'nope'"),
    (["scoring.name=kgg"], "scoring.name 'kgg' is not a scorer"),
    (["scoring.fallback=identiy"], "scoring.fallback 'identiy' is not a scorer"),
    (["cases.path=/no/such/cases.jsonl", "cases.source=jsonl"], "cases.path '/no/such/cases.jsonl': no such file"),
    (["cases.source=jsonll"], "Invalid enum value 'jsonll' - at `$.cases.source`"),
    (["policies.0.backend=openai_http", "policies.0.config.api_key_env=MEDACTION_TEST_UNSET_KEY"],
     "environment variable MEDACTION_TEST_UNSET_KEY is not set"),
    (["tree.k=0"], "tree.k = 0 is out of range"),
    (["engine.call_timeout_s=-1"], "engine.call_timeout_s = -1.0 is out of range"),
    (["policies.0.routing=stiky"], "routing must be 'sticky' or 'shared'"),
    (["policies.0.config.no_such_field=1"], "no_such_field"),
    (["policies.0.params.temprature=0.5"], "params: unknown key(s) temprature"),
    (["oracle.kind=llm", "oracle.backend=openai_http", "oracle.config.base_ur=http://127.0.0.1:1/v1"],
     "oracle.config: unknown key(s) base_ur"),
    (["oracle.kind=llm", "oracle.backend=openai_http", "oracle.config.api_key_env=MEDACTION_TEST_UNSET_KEY"],
     "oracle.config.api_key_env: environment variable MEDACTION_TEST_UNSET_KEY is not set"),
])
def test_bad_config_fails_before_ray_and_creates_nothing(tmp_path, capsys, sets, message) -> None:
    os.environ.pop("MEDACTION_TEST_UNSET_KEY", None)
    out = tmp_path / "run"
    rc, err = run_cli(capsys, DEMO, "--out", str(out), *_sets("cases.limit=3", *sets))
    assert rc == 2 and message in error_line(err)
    assert list(tmp_path.iterdir()) == []  # no output dir left behind (so a corrected rerun is not blocked)


def test_file_with_no_usable_case_exits_1_before_ray(tmp_path, capsys) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"case_id": "a"}\nnot json\n')
    rc, err = run_cli(capsys, "--out", str(tmp_path / "run"), *_sets("cases.source=jsonl", f"cases.path={cases}"))
    line = error_line(err)
    assert rc == 1 and "no case read" in line and "2 records rejected" in line and "line 1" in line
    assert not (tmp_path / "run").exists()
    cases.write_text("")
    rc, err = run_cli(capsys, "--out", str(tmp_path / "run"), *_sets("cases.source=jsonl", f"cases.path={cases}"))
    assert rc == 1 and "the file is empty" in error_line(err)


def test_a_run_that_stopped_before_any_tree_does_not_block_a_rerun(tmp_path) -> None:
    out = tmp_path / "run"
    (out / "shards").mkdir(parents=True)
    mf.save(out, mf.Manifest(config_hash="old"))  # what a run that died while starting its actors leaves
    assert mf.prepare_output(out, "new", resume=False) is None
    mf.save(out, mf.Manifest(config_hash="old", trees_done=["t"]))
    with pytest.raises(UsageError, match="--resume"):
        mf.prepare_output(out, "new", resume=False)


# ---- case files: unique ids, byte-order mark ---------------------------------------------------------------------
def test_duplicate_case_ids_are_rejected_with_their_line_and_bom_is_accepted(tmp_path) -> None:
    envs = list(iter_environments("agentclinic", default_cases_path()))[:3]
    path = tmp_path / "cases.jsonl"
    write_jsonl([envs[0], envs[0], envs[1], envs[2], envs[1]], path)  # adjacent and distant duplicates
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    rejects = RejectLog()
    got = list(iter_environments("jsonl", path, rejects=rejects))
    assert [e.case_id for e in got] == [e.case_id for e in envs]
    assert [(r.where, r.field) for r in rejects.rejects] == [("line 2", "case_id"), ("line 5", "case_id")]
    assert "first at line 1" in rejects.rejects[0].reason
    with pytest.raises(ValueError, match="line 2.*duplicate case id"):
        list(iter_environments("jsonl", path, strict=True))
    bom = tmp_path / "ac.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + default_cases_path().read_bytes())
    assert len(list(iter_environments("agentclinic", bom, strict=True))) == 214


def test_empty_menus_are_kept_by_every_importer(tmp_path) -> None:
    """One rule (envs/load.py docstring): an empty test menu is a valid case with tests=(), whatever the source."""
    ac = json.loads(default_cases_path().read_text().splitlines()[0])
    ac["OSCE_Examination"]["Test_Results"] = {}
    (tmp_path / "ac.jsonl").write_text(json.dumps(ac) + "\n")
    summary = "- Patient Information: 5-year-old.\n- Chief Complaint: Rash.\n- Ancillary Tests:\n- Treatment: steroids."
    (tmp_path / "mr.json").write_text(json.dumps({"PMC1": {"generate_case": {
        "case_summary": summary, "diagnosis_results": "Measles"}}}))
    env = next(iter_environments("agentclinic", default_cases_path()))
    write_jsonl([msgspec.structs.replace(env, tests=())], tmp_path / "c.jsonl")
    for source, name in (("agentclinic", "ac.jsonl"), ("medrbench", "mr.json"), ("jsonl", "c.jsonl")):
        got = list(iter_environments(source, tmp_path / name, strict=True))
        assert len(got) == 1 and got[0].tests == (), source


# ---- writer: verification and retry of failed trees, without Ray -------------------------------------------------
def _row(tree: str, path: str, stop: str = "final") -> dict:
    from medaction.envs.types import Environment
    from medaction.policies.types import Turn
    from medaction.scoring.base import IdentityScorer
    from medaction.scoring.rows import to_row
    from medaction.tree.types import Node, Trajectory

    node = Node(tree_id=tree, node_id=path, parent_id=None, depth=1, policy_id="p", seed=7,
                turn=Turn(final_diagnosis="x"))
    traj = Trajectory(case_id="c", policy_id="p", nodes=(node,) if stop == "final" else (), stop=stop,
                      tree_id=tree, error="PolicyError: down" if stop != "final" else "")
    return to_row(IdentityScorer().score(traj, Environment(case_id="c", source="t", initial_observation="o")))


def test_resume_drops_missing_and_corrupt_shards_and_reopens_failed_trees(tmp_path) -> None:
    w = ShardWriterImpl(str(tmp_path), "h", rows_per_shard=1)
    for t in ("t1", "t2", "t3", "t4"):
        w.write_tree(t, _row(t, "r0"))
    w.write_tree("t5", _row("t5", "r0"), _row("t5", "r1", stop="policy_error"), failed="policy_error: down")
    w.close(complete=True)
    m = mf.load(tmp_path)
    assert m is not None and m.trees_failed == {"t5": "policy_error: down"} and len(m.shards) == 5
    (tmp_path / m.shards[0].file).unlink()  # t1: deleted by hand
    corrupt = tmp_path / m.shards[1].file  # t2: truncated copy
    corrupt.write_bytes(corrupt.read_bytes()[:100])
    w2 = ShardWriterImpl(str(tmp_path), "h", rows_per_shard=1, resume=True)
    assert sorted(w2.done_trees()) == ["t3", "t4"]  # t1, t2 re-run; t5 failed: re-run (default)
    assert [x.split(":")[1].strip() for x in w2.invalid] == ["missing", f"size 100 != {m.shards[1].bytes}"]
    assert (tmp_path / "orphans" / (Path(m.shards[1].file).name + ".orphan")).stat().st_size == 100  # kept
    assert w2.retried == ["t5"] and not any(f.name == Path(m.shards[4].file).name
                                            for f in (tmp_path / "shards").iterdir())
    # --no-retry-failed keeps failed trees done
    w3 = ShardWriterImpl(str(tmp_path / "b"), "h", rows_per_shard=1)
    w3.write_tree("t5", _row("t5", "r1", stop="policy_error"), failed="policy_error: down")
    w3.close(complete=True)
    assert ShardWriterImpl(str(tmp_path / "b"), "h", resume=True, retry_failed=False).done_trees() == ["t5"]


def test_root_cause_unwraps_ray_errors_and_strips_colour() -> None:
    from ray.exceptions import RayTaskError

    from medaction.engine.errors import root_cause
    from medaction.policies.base import PolicyError

    cause = PolicyError("openai_http: connection error (All connection attempts failed)")
    tb = ("\x1b[36mray::PolicyActor.complete()\x1b[39m (pid=1)\nTraceback (most recent call last):\n  File \"x.py\"\n"
          "medaction.policies.base.PolicyError: openai_http: connection error (All connection attempts failed)")
    wrapped = RayTaskError("PolicyActor.complete", tb, cause)
    assert root_cause(wrapped) == "PolicyError: openai_http: connection error (All connection attempts failed)"


# ---- real runs on the session's Ray ------------------------------------------------------------------------------
def test_force_out_takes_over_and_keeps_foreign_files(ray_session, tmp_path, capsys) -> None:
    out = tmp_path / "X"
    (out / "shards").mkdir(parents=True)
    (out / "shards" / "notes.csv").write_text("precious\n")
    (out / "shards" / "mine.parquet").write_bytes(b"not ours")
    (out / "README").write_text("keep me\n")
    rc, err = run_cli(capsys, "--out", str(out), "--force-out", *_sets("cases.limit=3", *QUICK))
    assert rc == 0, err[-2000:]
    assert (out / "orphans" / "notes.csv").read_text() == "precious\n"
    assert (out / "orphans" / "mine.parquet.orphan").read_bytes() == b"not ours"
    assert (out / "README").read_text() == "keep me\n"
    assert "unlisted file set aside: shards/notes.csv -> orphans/notes.csv" in err
    assert len(rows_of(out)) == 6


def test_duplicates_rejects_and_scorer_fallback_are_reported(ray_session, tmp_path, capsys) -> None:
    envs = list(iter_environments("agentclinic", default_cases_path()))[:3]
    path = tmp_path / "cases.jsonl"
    write_jsonl([envs[0], envs[0], envs[1], envs[2]], path)
    path.write_bytes(path.read_bytes() + b"{broken\n")
    out = tmp_path / "run"
    rc, err = run_cli(capsys, "--out", str(out), *_sets(
        *QUICK, "cases.source=jsonl", f"cases.path={path}", "scoring.name=kg", "scoring.fallback=identity",
        f"scoring.config.dtc_graph={tmp_path / 'no-graph'}"))
    assert rc == 0, err[-2000:]
    s = msgspec.json.decode((out / "summary.json").read_bytes())
    m = msgspec.json.decode((out / "manifest.json").read_bytes())
    assert s["records_rejected"] == 2 and "line 2" in s["first_reject"] and "duplicate case id" in s["first_reject"]
    assert s["cases_seen"] == 3 and s["trees_done"] == 3 and len(m["trees_done"]) == len(set(m["trees_done"])) == 3
    assert "2 case records rejected" in err
    assert s["scorer"] == "identity" and "using fallback 'identity'" in s["scorer_fallback"]
    assert "medaction run: scorer 'kg' unavailable" in err


class _Model(ChatHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.read_json()
        self.send_json({"choices": [{"message": {"role": "assistant", "content": FINAL}}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5}})


def test_unreachable_endpoint_exits_1_with_the_cause_and_resume_retries(ray_session, tmp_path, capsys) -> None:
    port = free_port()
    sets = [*QUICK[:3], "cases.limit=3", "policies.0.id=remote", "policies.0.backend=openai_http",
            f"policies.0.config.base_url=http://127.0.0.1:{port}/v1", "policies.0.config.max_attempts=1",
            "policies.0.config.connect_timeout_s=2", "engine.progress_bar=false"]
    out = tmp_path / "run"
    rc, err = run_cli(capsys, "--out", str(out), *_sets(*sets))
    line = error_line(err)
    assert rc == 1 and "every trajectory failed (6)" in line and "connect" in line.lower(), err[-3000:]
    rows = rows_of(out)
    assert len(rows) == 6 and all(r["stop"] == "policy_error" for r in rows)
    for r in rows:  # the root cause in plain text, not a Ray traceback cut at 500 characters
        assert r["error"].startswith("PolicyError: openai_http:") and "Traceback" not in r["error"]
        assert "\x1b[" not in r["error"] and "\n" not in r["error"]
    s = msgspec.json.decode((out / "summary.json").read_bytes())
    assert s["trees_failed"] == 3 and sum(s["failure_causes"].values()) == 6
    assert len(msgspec.json.decode((out / "manifest.json").read_bytes())["trees_failed"]) == 3
    # the endpoint comes up: --resume re-runs the failed trees (and only those), each exactly once
    srv = ThreadingHTTPServer(("127.0.0.1", port), _Model)
    import threading

    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        rc, err = run_cli(capsys, "--out", str(out), "--resume", *_sets(*sets))
    finally:
        srv.shutdown()
        srv.server_close()
    assert rc == 0, err[-3000:]
    rows = rows_of(out)
    keys = [(r["tree_id"], r["path"]) for r in rows]
    assert len(rows) == 6 and len(set(keys)) == 6 and all(r["stop"] == "final" for r in rows)
    s = msgspec.json.decode((out / "summary.json").read_bytes())
    assert s["trees_retried"] == 3 and s["trees_done"] == 3


def test_replica_that_cannot_start_exits_1_with_its_cause(ray_session, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    rc, err = run_cli(capsys, "--out", str(out), *_sets(
        "cases.limit=2", "policies.0.backend=openai_http", "policies.0.config.concurrency=0"))
    assert rc == 1
    assert error_line(err).endswith("a replica could not start: ValueError: openai_http: concurrency must be >= 1")
    assert mf.prepare_output(out, "another-config", resume=False) is None  # nothing done: a fixed rerun may go


def test_resume_reruns_missing_and_corrupt_shards_and_checks_case_data(ray_session, tmp_path, capsys) -> None:
    cases = tmp_path / "cases.jsonl"
    write_jsonl(list(iter_environments("agentclinic", default_cases_path()))[:4], cases)
    out = tmp_path / "run"
    sets = [*QUICK, "cases.source=jsonl", f"cases.path={cases}", "output.rows_per_shard=1"]
    rc, err = run_cli(capsys, "--out", str(out), *_sets(*sets))
    assert rc == 0, err[-2000:]
    first = trajectory_content(rows_of(out))
    m = mf.load(out)
    assert m is not None and len(m.shards) == 4
    (out / m.shards[0].file).unlink()
    bad = out / m.shards[1].file
    bad.write_bytes(bad.read_bytes()[:-20] + b"\0" * 20)  # same size, other bytes
    rc, err = run_cli(capsys, "--out", str(out), "--resume", *_sets(*sets))
    assert rc == 0, err[-2000:]
    assert "missing" in err and "checksum differs" in err
    s = msgspec.json.decode((out / "summary.json").read_bytes())
    assert s["trees_done"] == 2 and s["trees_skipped"] == 2 and len(s["shards_invalid"]) == 2
    rows = rows_of(out)
    assert trajectory_content(rows) == first and len(rows) == len(first)
    # the case file changed between runs: resume refuses (the config hash covers the data)
    data = cases.read_bytes()
    cases.write_bytes(data.replace(b'"diagnosis":"', b'"diagnosis":"Not ', 1))  # one gold label edited
    assert cases.read_bytes() != data and cases.stat().st_size == len(data) + 4
    before = snapshot(out)
    rc, err = run_cli(capsys, "--out", str(out), "--resume", *_sets(*sets))
    assert rc == 2 and "config hash" in error_line(err) and snapshot(out) == before


def test_ctrl_c_flushes_writes_manifest_and_resume_finishes(ray_session, tmp_path) -> None:
    n = 8
    out = tmp_path / "run"
    # slow enough (sim latency x0.1, 2 in flight) that Ctrl-C lands mid-run; nothing flushes before it on its own
    sets = _sets(f"cases.limit={n}", "policies.0.id=sim", "policies.0.backend=sim", "policies.0.replicas=1",
                 "policies.0.max_concurrency=2", "policies.0.config.time_scale=0.1", "tree.k=2", "tree.b=0",
                 "tree.max_turns=4", "output.rows_per_shard=1000", "engine.flush_every_s=1000",
                 "engine.progress_every_s=0.5")
    env = {**os.environ, "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address, "PYTHONPATH": str(REPO)}
    log = tmp_path / "driver.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "medaction", "run", "--no-progress", "--out", str(out), *sets],
                                env=env, stdout=subprocess.DEVNULL, stderr=fh)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and "trees done=" not in _done_line(log, at_least=1):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(90)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = log.read_text()
    assert rc == 130, err[-3000:]
    line = error_line(err)
    assert "resume with: medaction run --out" in line and line.endswith("--resume")
    m = mf.load(out)
    assert m is not None and not m.complete and 1 <= len(m.trees_done) < n  # flushed on Ctrl-C (no size trigger)
    assert all(not mf.shard_problem(out, s) for s in m.shards)
    from medaction.engine.config import load_config
    from medaction.engine.run_job import run

    cfg = load_config(None, [sets[i] for i in range(1, len(sets), 2)])
    s = run(cfg, out_dir=out, resume=True, progress=False)
    assert s.trees_skipped == len(m.trees_done) and s.trees_done + s.trees_skipped == n
    rows = rows_of(out)
    keys = [(r["tree_id"], r["path"]) for r in rows]
    assert len(keys) == len(set(keys)) == 2 * n and len({r["tree_id"] for r in rows}) == n


def _done_line(log: Path, at_least: int) -> str:
    """The last progress line if it reports >= at_least trees done ("" otherwise)."""
    import re

    for ln in reversed(log.read_text().splitlines()):
        m = re.search(r"trees done=(\d+)", ln)
        if m:
            return ln if int(m.group(1)) >= at_least else ""
    return ""
