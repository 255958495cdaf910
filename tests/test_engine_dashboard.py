"""The Grafana dashboard (clusters/grafana/medaction.json) against a real run: a separate Ray head on 127.0.0.1
(tests/ray_cluster_fixtures.py) runs the demo config with a second, too-slow teacher (so failures happen), and
every series that a panel or variable queries must appear on the head's Prometheus endpoint during the run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from ray_cluster_fixtures import LocalCluster

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = REPO / "clusters" / "grafana" / "medaction.json"
_SERIES = re.compile(r"\bray_medaction_[a-z_]+\b")


def _queried_series(dashboard: dict) -> dict[str, set[str]]:
    """Panel (or variable) title -> the series its queries name."""
    out = {p["title"]: {s for t in p["targets"] for s in _SERIES.findall(t["expr"])} for p in dashboard["panels"]}
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            out[f"variable {v['name']}"] = set(_SERIES.findall(v["definition"]))
    return out


def _exported(port: int) -> set[str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return set()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines()
            if line.startswith("ray_medaction_")}


def test_dashboard_panels_have_queries() -> None:
    queried = _queried_series(json.loads(DASHBOARD.read_text()))
    assert len(queried) >= 15 and all(queried.values()), queried


@pytest.mark.cluster
def test_dashboard_queries_resolve_on_a_real_run(tmp_path) -> None:
    queried = _queried_series(json.loads(DASHBOARD.read_text()))
    needed = set().union(*queried.values())
    cluster = LocalCluster(tmp_path)
    cluster.env["RAY_metrics_report_interval_ms"] = "1000"  # export every second (default 10 s)
    seen: set[str] = set()
    try:
        cluster.start_head(resource="head_res")
        cmd = [sys.executable, "-m", "medaction", "run", "configs/demo.toml", "--out", str(tmp_path / "out"),
               "--no-progress", "--set", "cases.limit=5", "--set", "tree.k=2", "--set", "tree.max_turns=3",
               "--set", "policies.0.replicas=1", "--set", "policies.1.id=slow", "--set", "policies.1.backend=sim",
               "--set", "policies.1.max_concurrency=1", "--set", "engine.call_timeout_s=1.0",
               "--set", "engine.call_retries=0", "--set", "engine.progress_every_s=1"]
        env = {**cluster.env, "RAY_ADDRESS": cluster.address, "PYTHONPATH": str(REPO)}
        driver = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        ended, deadline = None, time.time() + 240
        while time.time() < deadline and not needed <= seen:
            seen |= _exported(cluster.metrics)
            if driver.poll() is not None:
                ended = ended or time.time()
                if time.time() - ended > 15:
                    break
            time.sleep(0.5)
        log = driver.communicate(timeout=120)[0]
        assert driver.returncode == 0, log[-3000:]
    finally:
        cluster.shutdown()
    missing = {title: sorted(names - seen) for title, names in queried.items() if names - seen}
    assert not missing, (missing, sorted(seen))
