"""`ray job submit --working-dir .` of the main job against a separate single-node Ray cluster on 127.0.0.1.

Isolation from the test session's Ray (and from anything else on the machine): the cluster gets its own
--temp-dir and free ports, and is started with `ray start --head --block` as a child process. It is torn down
by terminating that process (which stops exactly the processes it started), never with `ray stop`, which would
kill every Ray on the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest
from ray_cluster_fixtures import free_ports, wait_port

REPO = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")


def _scrape_until(port: int, needle: str, job: subprocess.Popen, deadline: float) -> str:
    """Polls the metrics endpoint while the job runs and for a while after (metrics are pushed every few s)."""
    text, ended = "", None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            text = ""
        if needle in text:
            return text
        if job.poll() is not None:
            ended = ended or time.time()
            if time.time() - ended > 30:
                break
        time.sleep(1.0)
    return text


@pytest.mark.slow
def test_ray_job_submit_demo_job(tmp_path) -> None:
    gcs, dash, client, nm, om, agent, agent_grpc, metrics, rtenv = free_ports(9)
    temp_dir = Path(tempfile.mkdtemp(prefix="mray", dir="/tmp"))  # short: unix socket paths are length-limited
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled",
           "RAY_ADDRESS": "", "PATH": f"{RAY.parent}:{os.environ.get('PATH', '')}"}
    env.pop("RAY_ADDRESS")
    head = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs}",
         f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1", f"--ray-client-server-port={client}",
         f"--node-manager-port={nm}", f"--object-manager-port={om}", f"--dashboard-agent-listen-port={agent}",
         f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
         f"--runtime-env-agent-port={rtenv}", "--min-worker-port=0", "--max-worker-port=0",
         f"--temp-dir={temp_dir}", "--num-cpus=2", "--include-dashboard=true", "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "head.log", "w"), start_new_session=True,
    )
    out = tmp_path / "job-out"
    try:
        wait_port(dash, time.time() + 90)
        cmd = [str(RAY), "job", "submit", "--address", f"http://127.0.0.1:{dash}", "--working-dir", str(REPO),
               "--", "python", "-m", "medaction", "run", "configs/demo.toml", "--out", str(out), "--no-progress",
               "--set", "cases.limit=3", "--set", "tree.k=2", "--set", "tree.max_turns=3",
               "--set", "policies.0.replicas=1", "--set", "scoring.name=identity"]
        job = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The engine's ray.util.metrics reach the node's Prometheus endpoint (what Grafana / the dashboard read).
        exported = _scrape_until(metrics, "medaction_nodes_done", job, time.time() + 240)
        log = job.communicate(timeout=240)[0]
        assert job.returncode == 0, log[-3000:]
        assert "succeeded" in log.lower(), log[-3000:]
        assert "medaction_nodes_done" in exported and "medaction_trees_done" in exported, exported[-2000:]
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # `--block` tears down the processes it started
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
    manifest = msgspec.json.decode((out / "manifest.json").read_bytes())
    assert manifest["complete"] is True and len(manifest["trees_done"]) == 3
    rows = [r for s in manifest["shards"] for r in pq.read_table(out / s["file"]).to_pylist()]
    assert len(rows) == sum(s["rows"] for s in manifest["shards"]) >= 3 * 2
    assert {r["policy_id"] for r in rows} == {"heuristic"} and all(r["n_turns"] >= 1 for r in rows)
    assert (out / "summary.json").exists()
