"""Engine parts without Ray: config + overrides + hash, router, shard writer + manifest + resume cleanup."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest

from medaction.actors.router import NoLiveReplica, Router, SharedQueue, build_router
from medaction.actors.writer import ShardWriterImpl
from medaction.engine import manifest as mf
from medaction.config import apply_override
from medaction.engine.config import config_hash, load_config
from medaction.outputs import UsageError
from medaction.policies.types import Turn
from medaction.scoring.base import IdentityScorer
from medaction.scoring.rows import SCHEMA, from_row, to_row
from medaction.envs.types import Environment
from medaction.tree.types import Node, Trajectory

REPO = Path(__file__).resolve().parents[1]


def test_demo_config_and_dotted_overrides(tmp_path) -> None:
    cfg = load_config(REPO / "configs" / "demo.toml", ["tree.k=4", "policies.0.replicas=3", "scoring.name=identity",
                                                       "cases.path=/x/y.jsonl", "tree.free_share=0.25"])
    assert (cfg.tree.k, cfg.tree.b, cfg.tree.max_turns) == (4, 1, 8)
    assert cfg.policies[0].backend == "heuristic" and cfg.policies[0].replicas == 3
    assert cfg.scoring.name == "identity" and cfg.cases.path == "/x/y.jsonl" and cfg.tree.free_share == 0.25
    defaults = load_config(None, [])
    assert (defaults.tree.k, defaults.tree.b, defaults.tree.max_turns) == (3, 1, 8)
    bad = tmp_path / "bad.toml"
    bad.write_text("[tree]\nkk = 3\n")
    with pytest.raises(ValueError, match=r"bad.toml.*unknown field `kk`"):
        load_config(bad)
    bad.write_text("[tree\n")
    with pytest.raises(ValueError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(ValueError, match="key=value"):
        load_config(None, ["tree.k"])
    with pytest.raises(ValueError, match="unique ids"):
        load_config(None, ["policies.0.id=a", "policies.1.id=a"])
    d: dict = {}
    apply_override(d, "a.b=[1, 2]")
    apply_override(d, "a.c=word")
    assert d == {"a": {"b": [1, 2], "c": "word"}}
    brackets = load_config(REPO / "configs" / "demo.toml", ["policies[0].replicas=2"])
    assert brackets.policies[0].replicas == 2
    with pytest.raises(ValueError, match="is a list"):
        load_config(REPO / "configs" / "demo.toml", ["policies.x.replicas=2"])
    with pytest.raises(ValueError, match="bad config"):  # strict: a quoted number is not an int
        load_config(None, ["tree.k='4'"])


def test_config_hash_ignores_speed_only_fields() -> None:
    base = load_config(None, [])
    assert config_hash(base) == config_hash(load_config(None, ["policies.0.replicas=8", "engine.call_timeout_s=5",
                                                              "output.dir=elsewhere", "oracle.actors=4"]))
    assert config_hash(base) != config_hash(load_config(None, ["tree.k=2"]))
    assert config_hash(base) != config_hash(load_config(None, ["seed=1"]))


def test_router_sticky_least_loaded_and_rebalance() -> None:
    r = Router(3)
    homes = [r.assign(f"c{i}") for i in range(6)]
    assert homes == [0, 1, 2, 0, 1, 2]  # least-loaded on first sight, ties to the lowest id
    assert all(r.assign(f"c{i}") == homes[i] for i in range(6))  # sticky
    r.release("c0")
    assert r.assign("new") == 0  # replica 0 now has the fewest sessions
    assert r.mark_dead(1) == [1]
    moved = {c: r.assign(c) for c in ("c1", "c4")}
    assert set(moved.values()) <= {0, 2} and r.moves == 2
    r.revive(1)
    assert r.assign("fresh") == 1  # an empty revived replica is the least loaded
    r.mark_dead(0), r.mark_dead(1), r.mark_dead(2)
    with pytest.raises(NoLiveReplica):
        r.assign("c2")
    q = build_router("shared", 2)
    assert isinstance(q, SharedQueue) and q.assign("x") == 0 == q.replica_lane(1) and q.mark_dead(0) == []
    with pytest.raises(ValueError, match="unknown routing"):
        build_router("random", 2)


def _row(tree: str, path: str) -> dict:
    node = Node(tree_id=tree, node_id=path, parent_id=None, depth=1, policy_id="p", seed=7,
                turn=Turn(final_diagnosis="x"))
    traj = Trajectory(case_id="c", policy_id="p", nodes=(node,), stop="final", tree_id=tree)
    return to_row(IdentityScorer().score(traj, Environment(case_id="c", source="t", initial_observation="o")))


def test_writer_shards_manifest_and_resume_cleanup(tmp_path) -> None:
    w = ShardWriterImpl(str(tmp_path), "h1", rows_per_shard=3)
    w.write_tree("t1", _row("t1", "r0"), _row("t1", "r1"))
    w.write_tree("t2", _row("t2", "r0"), _row("t2", "r1"))  # 4 rows >= 3: flush
    w.write_tree("t3", _row("t3", "r0"))  # buffered, not done yet
    m = mf.load(tmp_path)
    assert m is not None and m.trees_done == ["t1", "t2"] and m.rows == 4 and not m.complete
    table = pq.read_table(tmp_path / m.shards[0].file)
    assert table.schema.equals(SCHEMA) and from_row(table.to_pylist()[0]).trajectory.tree_id == "t1"
    # a crash now loses t3 (never marked done); on resume the engine's temp file is removed and a stray shard
    # (not listed) is moved to orphans/, never deleted
    (tmp_path / "shards" / "part-99999-1.parquet").write_bytes(b"junk")
    (tmp_path / "shards" / ".part-00001-1.parquet.tmp").write_bytes(b"junk")
    with pytest.raises(UsageError, match="--resume"):
        ShardWriterImpl(str(tmp_path), "h1")
    with pytest.raises(UsageError, match="config hash"):
        ShardWriterImpl(str(tmp_path), "other", resume=True)
    w2 = ShardWriterImpl(str(tmp_path), "h1", rows_per_shard=100, resume=True)
    assert sorted(w2.removed) == ["shards/.part-00001-1.parquet.tmp -> removed (engine temp file)",
                                  "shards/part-99999-1.parquet -> orphans/part-99999-1.parquet.orphan"]
    assert (tmp_path / "orphans" / "part-99999-1.parquet.orphan").read_bytes() == b"junk"
    assert w2.done_trees() == ["t1", "t2"]
    w2.write_tree("t3", _row("t3", "r0"))
    info = w2.close(complete=True)
    m2 = msgspec.json.decode((tmp_path / "manifest.json").read_bytes())
    assert info.pop("scoring")["trajectories"] == 1  # decision counts of the rows written in this session
    assert info == {"shards": 2, "rows": 5, "trees_done": 3, "orphans_removed": w2.removed, "trees_failed": {},
                    "shards_invalid": [], "trees_retried": []}
    assert m2["complete"] is True and m2["trees_done"] == ["t1", "t2", "t3"]
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == sorted(
        Path(s["file"]).name for s in m2["shards"])


def test_writer_takes_a_retried_tree_once(tmp_path) -> None:
    # the driver re-sends a write whose rows died with a scorer's node or whose reply was lost
    w = ShardWriterImpl(str(tmp_path), "h", rows_per_shard=100)
    assert w.write_tree("t1", _row("t1", "r0"), _row("t1", "r1")) == 2
    assert w.write_tree("t1", _row("t1", "r0"), _row("t1", "r1")) == 0
    info = w.close(complete=True)
    assert info["rows"] == 2 and info["trees_done"] == 1
