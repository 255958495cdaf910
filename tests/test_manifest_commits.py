"""Per-shard commit records (engine/manifest.py): linear bookkeeping, no shard counted twice, none without its
record counted at all."""

from __future__ import annotations

import sys
from pathlib import Path

from medaction.engine import manifest as mf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from manifest_cost import _shards, new_scheme, old_scheme  # noqa: E402


def test_recording_cost_is_linear_in_trees(tmp_path) -> None:
    small, big = _shards(2_000, 100), _shards(20_000, 100)  # 20 vs 200 shards
    b_small, b_big = new_scheme(tmp_path / "a", small)[1], new_scheme(tmp_path / "b", big)[1]
    assert 9 <= b_big / b_small <= 11  # x10 trees -> x10 bytes
    o_small, o_big = old_scheme(tmp_path / "c", small)[1], old_scheme(tmp_path / "d", big)[1]
    assert o_big / o_small > 80  # the old whole-manifest rewrite: ~x100


def test_load_folds_records_once_and_ignores_unrecorded_shards(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    out = tmp_path / "a"
    mf.save(out, mf.Manifest(config_hash="h"))
    s1, s2 = _shards(4, 2)
    mf.write_commit(out, s1, {})
    mf.write_commit(out, s2, {"case-0000002::x": "policy_error: down"})
    m = mf.load(out)
    assert m is not None and [s.file for s in m.shards] == [s1.file, s2.file] and len(m.trees_done) == 4
    assert m.trees_failed == {"case-0000002::x": "policy_error: down"}
    # a crash after the folded manifest was saved but before the records were removed: nothing counted twice
    mf.save(out, m)
    again = mf.load(out)
    assert again is not None and len(again.shards) == 2 and len(again.trees_done) == 4
    mf.fold_commits(out, again)
    assert not mf.commits(out) and len(mf.load(out).trees_done) == 4  # type: ignore[union-attr]
    # a shard file without its record (the writer died between the two) is not a shard of the run
    (out / "shards").mkdir()
    (out / "shards" / "part-0123456789-00009.parquet").write_bytes(b"x")
    assert [s.path for s in mf.committed_shards(out)] == [str(out / s1.file), str(out / s2.file)]
