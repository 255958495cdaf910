"""The engine on the real local Ray: a full small run, a policy replica killed mid-run, a driver killed mid-run
and resumed, sticky routing. The sim policy is deterministic for (seed, prompt), so every variant must write
exactly the reference run's trajectory set."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from medaction.engine import manifest as mf
from medaction.engine.config import RunConfig, load_config
from medaction.outputs import UsageError
from tests.support.run_rows import trajectory_content

REPO = Path(__file__).resolve().parents[1]
N_CASES = 14


def _sets(time_scale: float = 0.0, **extra: object) -> list[str]:
    sets = [
        f"cases.limit={N_CASES}", "policies.0.id=sim", "policies.0.backend=sim", "policies.0.replicas=2",
        "policies.0.max_concurrency=6", f"policies.0.config.time_scale={time_scale}",
        "policies.0.config.completion_tokens_mean=60", "output.rows_per_shard=12", "engine.flush_every_s=0.5",
        "engine.progress_every_s=1", "engine.call_timeout_s=30", "engine.steal_tail=false",
    ]
    return sets + [f"{k}={v}" for k, v in extra.items()]


def _cfg(time_scale: float = 0.0, **extra: object) -> RunConfig:
    return load_config(None, _sets(time_scale, **extra))


def _rows(out: Path) -> list[dict]:
    manifest = msgspec.json.decode((out / "manifest.json").read_bytes())
    rows: list[dict] = []
    for shard in manifest["shards"]:
        rows.extend(pq.read_table(out / shard["file"]).to_pylist())
    assert sum(s["rows"] for s in manifest["shards"]) == len(rows)
    return rows



@pytest.fixture(scope="module")
def reference(ray_session, tmp_path_factory):
    from medaction.engine.run_job import run

    out = tmp_path_factory.mktemp("ref")
    summary = run(_cfg(), out_dir=out, progress=False)
    return out, summary, _rows(out)


def test_full_small_run(reference) -> None:
    out, s, rows = reference
    manifest = msgspec.json.decode((out / "manifest.json").read_bytes())
    assert manifest["complete"] is True and s.complete
    assert s.trees_done == N_CASES and len(manifest["trees_done"]) == N_CASES
    assert {r["tree_id"] for r in rows} == set(manifest["trees_done"])
    keys = [(r["tree_id"], r["path"]) for r in rows]
    assert len(keys) == len(set(keys)) == s.trajectories == s.rows
    assert s.trajectories >= 3 * N_CASES  # K=3 roots per tree at least (+ branches)
    assert any(r["branched"] and ".b" in r["path"] for r in rows)
    assert all(r["scorer"] == "identity" and r["stop"] in ("final", "max_turns", "parse_failed") for r in rows)
    assert sum(r["n_turns"] for r in rows) >= s.nodes  # prefixes are shared between a branch and its root
    assert (out / "summary.json").exists() and not list((out / "shards").glob(".*tmp"))
    # decision counts (scoring/counts.py): the identity scorer decides nothing, every trajectory counted
    assert s.scoring["trajectories"] == s.rows and s.scoring["not_scored"] == s.rows
    assert msgspec.json.decode((out / "summary.json").read_bytes())["scoring"]["trajectories"] == s.rows


def test_sticky_routing_observed_by_replicas(reference) -> None:
    _, s, _ = reference
    assert s.sessions_split == 0  # no case was served by two replicas
    assert sum(s.replica_sessions.values()) == N_CASES
    assert all(n >= N_CASES // 2 - 2 for n in s.replica_sessions.values())  # least-loaded placement balances
    assert s.cached_tokens > 0.5 * s.prompt_tokens  # branches and later turns reuse the cached prefix


def test_kill_policy_replica_mid_run(reference, ray_session, tmp_path) -> None:
    import ray

    from medaction.engine.driver import Driver

    out = tmp_path / "killed"
    out.mkdir()
    driver = Driver(_cfg(time_scale=0.01), out, resume=False, progress=False)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(s=asyncio.run(driver.run())))
    thread.start()
    deadline = time.time() + 60
    while driver.metrics.totals["nodes"] < 15 and time.time() < deadline:
        time.sleep(0.05)
    ray.kill(driver.pools[0].actors[0])  # no restart: the replica is gone for good
    thread.join(90)
    driver.shutdown()
    s = result["s"]
    assert s.replica_deaths == 1 and s.trees_done == N_CASES
    rows = _rows(out)
    keys = [(r["tree_id"], r["path"]) for r in rows]
    assert len(keys) == len(set(keys))  # nothing duplicated
    assert trajectory_content(rows) == trajectory_content(reference[2])  # nothing lost, nothing changed


def test_kill_driver_then_resume_gives_same_set(reference, ray_session, tmp_path) -> None:
    import ray

    from medaction.engine.run_job import run

    out = tmp_path / "resumed"
    env = {**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address, "PYTHONPATH": str(REPO)}
    cfg = _cfg(time_scale=0.5)
    sets = [x for kv in _sets(time_scale=0.5) for x in ("--set", kv)]
    proc = subprocess.Popen([sys.executable, "-m", "medaction", "run", "--out", str(out), "--no-progress", *sets], env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "driver.log", "w"))
    deadline = time.time() + 60
    try:
        while time.time() < deadline:  # the run's state: manifest.json + the commit records written since it
            m = (out / "manifest.json").exists() and mf.load(out)
            if m and len(m.trees_done) >= 3:
                break
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait()
    partial = msgspec.to_builtins(mf.load(out))
    assert 3 <= len(partial["trees_done"]) < N_CASES and partial["complete"] is False
    s = run(cfg, out_dir=out, resume=True, progress=False)
    assert s.trees_skipped == len(partial["trees_done"])
    assert s.trees_done + s.trees_skipped == N_CASES
    rows = _rows(out)
    keys = [(r["tree_id"], r["path"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert trajectory_content(rows) == trajectory_content(reference[2])


def test_timeouts_are_written_with_their_stop_reason(ray_session, tmp_path) -> None:
    from medaction.engine.run_job import run

    cfg = load_config(None, [
        "cases.limit=2", "tree.k=2", "tree.b=0", "policies.0.id=sim", "policies.0.backend=sim",
        "policies.0.config.time_scale=10.0",  # >= 1 token x 0.02 s x 10 = 0.2 s > timeout
        "engine.call_timeout_s=0.1", "engine.call_retries=1"])
    s = run(cfg, out_dir=tmp_path / "t", progress=False)
    rows = _rows(tmp_path / "t")
    assert s.trees_done == 2 and len(rows) == 4 and s.failures.get("timeout") == 4
    assert all(r["stop"] == "timeout" and "timed out 2x" in r["error"] and r["n_turns"] == 0 for r in rows)


def test_refuses_to_overwrite_and_checks_config_hash(reference, ray_session) -> None:
    from medaction.engine.run_job import run

    out = reference[0]
    with pytest.raises(UsageError, match="--resume"):
        run(_cfg(), out_dir=out, progress=False)
    with pytest.raises(UsageError, match="config hash"):
        run(_cfg(**{"tree.k": 2}), out_dir=out, resume=True, progress=False)
