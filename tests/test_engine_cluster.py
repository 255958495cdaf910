"""A real two-node Ray cluster on 127.0.0.1 (tests/ray_cluster_fixtures.py), apart from the test session's Ray:
the run spreads policy replicas, oracle shards and scorers over both nodes (seen through Ray's state API), the
worker node's raylet is killed mid-run (a node crash, not `ray stop`), and the run still finishes with every tree
written exactly once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest
from ray_cluster_fixtures import LocalCluster

REPO = Path(__file__).resolve().parents[1]
CASES = 8


def _actors_by_node(url: str) -> dict[str, set[str]]:
    from ray.util.state import list_actors

    where: dict[str, set[str]] = {}
    for a in list_actors(address=url, timeout=10):
        if a.state == "ALIVE":
            where.setdefault(a.class_name, set()).add(a.node_id)
    return where


@pytest.mark.cluster
def test_two_node_run_survives_worker_crash(tmp_path) -> None:
    from ray.util.state import list_nodes

    cluster = LocalCluster(tmp_path)
    out = tmp_path / "out"
    driver = None
    try:
        cluster.start_head(resource="head_res")
        worker = cluster.add_node(resource="worker_res")
        nodes = cluster.wait_nodes(2, time.time() + 120)
        node_of = {("head_res" if "head_res" in n.resources_total else "worker_res"): n.node_id for n in nodes}
        assert set(node_of) == {"head_res", "worker_res"}
        sim = ("policies.0.config={time_scale = 1.0, completion_tokens_mean = 120, commit_base = 0.2, "
               "commit_slope = 0.2}")
        cmd = [sys.executable, "-m", "medaction", "run", "--out", str(out), "--no-progress",
               "--set", f"cases.limit={CASES}", "--set", "tree.k=2", "--set", "tree.b=1", "--set", "tree.max_turns=4",
               "--set", "tree.free_share=0", "--set", "policies.0.id=sim", "--set", "policies.0.backend=sim",
               "--set", sim, "--set", "policies.0.replicas=2", "--set", "policies.0.max_concurrency=3",
               "--set", "policies.0.spread=true", "--set", "oracle.actors=2", "--set", "oracle.spread=true",
               "--set", "scoring.actors=2", "--set", "scoring.spread=true", "--set", "output.rows_per_shard=4",
               "--set", "engine.flush_every_s=1", "--set", "engine.progress_every_s=1",
               "--set", "engine.call_timeout_s=30", "--set", "engine.health_every_s=0.5"]
        env = {**cluster.env, "RAY_ADDRESS": cluster.address, "PYTHONPATH": str(REPO)}
        driver = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        # Every actor group has a member on each node before the crash (Ray's state API, as the dashboard sees it).
        deadline, where, seen = time.time() + 90, {}, []
        while time.time() < deadline and driver.poll() is None:
            where = _actors_by_node(cluster.dashboard_url)
            seen.append({k: len(v) for k, v in where.items()})
            if all(len(where.get(c, ())) == 2 for c in ("PolicyActor", "OracleActor", "ScorerActor")):
                break
            time.sleep(0.5)
        assert driver.poll() is None, (seen, driver.communicate()[0][-3000:])
        for cls in ("PolicyActor", "OracleActor", "ScorerActor"):
            assert where.get(cls) == set(node_of.values()), (cls, where)
        assert where["ShardWriter"] == {node_of["head_res"]}  # the writer sits with the driver
        time.sleep(3.0)  # let nodes be in flight on the worker (each sim call takes ~2.4 s)
        assert driver.poll() is None, "the run ended before the crash: make it longer"
        cluster.kill_raylet(worker)
        log = driver.communicate(timeout=180)[0]
        assert driver.returncode == 0, log[-4000:]
        deadline, states = time.time() + 60, {}
        while time.time() < deadline:  # the GCS marks the node dead after its health checks fail
            states = {n.node_id: n.state for n in list_nodes(address=cluster.dashboard_url, timeout=10)}
            if states[node_of["worker_res"]] == "DEAD":
                break
            time.sleep(1.0)
        assert states[node_of["worker_res"]] == "DEAD" and states[node_of["head_res"]] == "ALIVE", states
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
        cluster.shutdown()
    manifest = msgspec.json.decode((out / "manifest.json").read_bytes())
    summary = msgspec.json.decode((out / "summary.json").read_bytes())
    assert manifest["complete"] is True
    trees = manifest["trees_done"]
    assert len(trees) == len(set(trees)) == CASES  # one teacher: one tree per case
    rows = [r for s in manifest["shards"] for r in pq.read_table(out / s["file"]).to_pylist()]
    assert {r["tree_id"] for r in rows} == set(trees)
    assert max(Counter((r["tree_id"], r["path"]) for r in rows).values()) == 1  # no line written twice
    assert summary["trees_done"] == CASES and summary["rows"] == len(rows)
    assert summary["replica_deaths"] >= 1 and summary["requeued_nodes"] >= 1, log[-3000:]


def test_spread_and_resources_on_a_single_node(ray_session) -> None:
    """`spread` still places every actor when there is one node (SPREAD is best effort); a resource no node has
    keeps the actor pending; `release_groups` frees the reservations."""
    import ray

    from medaction.actors.placement import _GROUPS, group_options, release_groups

    @ray.remote(num_cpus=0)
    class Probe:
        def node(self) -> str:
            return ray.get_runtime_context().get_node_id()

    opts = group_options({}, True, 2)
    assert len(_GROUPS) == 1 and all("scheduling_strategy" in o for o in opts)
    probes = [Probe.options(**o).remote() for o in opts]
    assert len(set(ray.get([p.node.remote() for p in probes], timeout=60))) == 1
    nowhere = Probe.options(**group_options({"no_such_node_type": 1.0}, False, 1)[0]).remote()
    ready, _ = ray.wait([nowhere.node.remote()], timeout=2)
    assert not ready  # pinned to a node type the cluster does not have
    for a in [*probes, nowhere]:
        ray.kill(a)
    release_groups()
    assert not _GROUPS
