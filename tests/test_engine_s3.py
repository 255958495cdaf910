"""A run written to s3:// on a real S3 API server (moto, tests/s3_fixtures.py): the driver is killed mid-run,
`--resume` finishes it, every tree is written exactly once, and the trainers' Ray Data path reads the shards back.

Each step is a subprocess with its own local Ray (its workers inherit the S3 endpoint and test credentials from the
environment, as on a cluster whose nodes carry their own credentials); the killed one is stopped by the pids of its
process tree (SIGKILL: no flush, no manifest at close)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pyarrow.parquet as pq
from s3_fixtures import s3_bucket, s3_endpoint  # noqa: F401 - fixtures

from medaction.engine import manifest as mf
from medaction.storage import resolve
from tests.support.stdout_json import last_json_object

REPO = Path(__file__).resolve().parents[1]
CASES = 10
SIM = "policies.0.config={time_scale = 0.4, completion_tokens_mean = 60, commit_base = 0.3, commit_slope = 0.2}"
RUN = ["--no-progress", "--set", f"cases.limit={CASES}", "--set", "tree.k=2", "--set", "tree.b=0",
       "--set", "tree.max_turns=3", "--set", "tree.free_share=0", "--set", "policies.0.id=sim",
       "--set", "policies.0.backend=sim", "--set", SIM, "--set", "policies.0.max_concurrency=2",
       "--set", "output.rows_per_shard=2", "--set", "output.writers=2", "--set", "engine.flush_every_s=0.5",
       "--set", "scoring.name=identity"]
READ_BACK = """
import json, sys, ray
from medaction.trainers.config import DataConfig
from medaction.trainers.ray_train import examples_dataset
from medaction.trainers.selection import shard_files
ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
cfg = DataConfig(shards=(sys.argv[1],), filter="none", free_share=None, format="chat")
files = shard_files(cfg.shards)
rows = ray.data.read_parquet(files, columns=["tree_id", "path"]).take_all()
ds, sel = examples_dataset(cfg)
print(json.dumps({"files": files, "rows": [[r["tree_id"], r["path"]] for r in rows], "examples": ds.count(),
                  "selected": sel.n_selected}))
"""


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra, "PYTHONPATH": str(REPO), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    return env


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the driver and every process it started (its local Ray), by pid."""
    procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait(30)
    psutil.wait_procs(procs, timeout=30)


def test_s3_run_killed_resumed_and_read_back_by_ray_data(s3_bucket, tmp_path) -> None:  # noqa: F811
    bucket, s3env = s3_bucket
    uri = f"s3://{bucket}/runs/r1"
    out = resolve(uri)
    cmd = [sys.executable, "-m", "medaction", "run", "--out", uri, *RUN]
    first = subprocess.Popen(cmd, env=_env(s3env), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and first.poll() is None and len(mf.commits(out)) < 3:
            time.sleep(0.3)
        assert first.poll() is None, first.communicate()[0][-3000:]
        assert len(mf.commits(out)) >= 3
    finally:
        if first.poll() is None:
            _kill_tree(first)
    killed = mf.load(out)
    assert killed is not None and not killed.complete and 0 < len(killed.trees_done) < CASES
    assert len(set(killed.trees_done)) == len(killed.trees_done)

    resumed = subprocess.run([*cmd, "--resume"], env=_env(s3env), cwd=REPO, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    m = mf.load(out)
    assert m is not None and m.complete and not mf.commits(out)  # folded into the manifest, written last
    assert len(m.trees_done) == len(set(m.trees_done)) == CASES
    assert set(killed.trees_done) <= set(m.trees_done)  # the killed run's recorded trees were not re-run
    listed = {s.file for s in m.shards}
    assert {f"shards/{f.name}" for f in out.join("shards").list()} == listed  # an unrecorded shard is set aside
    assert len({s.file.split("-")[1] for s in m.shards}) >= 2  # writer tags differ across sessions (and writers)
    rows = [r for s in m.shards for r in pq.read_table(out.join(s.file).path, filesystem=out.fs,
                                                       columns=["tree_id", "path"]).to_pylist()]
    assert max(Counter((r["tree_id"], r["path"]) for r in rows).values()) == 1
    assert {r["tree_id"] for r in rows} == set(m.trees_done)
    summary = json.loads(out.join("summary.json").read_bytes())
    assert summary["trees_skipped"] == len(killed.trees_done)

    read = subprocess.run([sys.executable, "-c", READ_BACK, uri], env=_env(s3env), cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert read.returncode == 0, read.stderr[-3000:]
    got = last_json_object(read.stdout)
    assert sorted(got["files"]) == sorted(f"{uri}/{f}" for f in listed)
    assert Counter(map(tuple, got["rows"])) == Counter((r["tree_id"], r["path"]) for r in rows)
    assert got["examples"] == got["selected"] == len(rows)
