"""medaction.storage on a local dir and on a real S3 API server (moto, tests/s3_fixtures.py)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from s3_fixtures import s3_bucket, s3_endpoint  # noqa: F401 - fixtures

from medaction.storage import is_uri, local_copy, resolve


def _roundtrip(root) -> None:
    d = root.join("run", "shards")
    d.mkdirs()
    assert not d.join("a.bin").exists() and d.list() == []
    d.join("b.bin").write_bytes(b"two")
    d.join("a.bin").write_bytes(b"one")
    d.join("a.bin").write_bytes(b"one!")  # overwrite: whole object replaced
    assert [x.name for x in d.list()] == ["a.bin", "b.bin"]
    assert d.join("a.bin").read_bytes() == b"one!" and d.join("a.bin").size() == 4
    with root.fs.open_output_stream(d.join("t.parquet").path) as f:
        pq.write_table(pa.table({"x": [1, 2, 3]}), f)
    assert pq.read_table(d.join("t.parquet").path, filesystem=root.fs).column("x").to_pylist() == [1, 2, 3]
    d.join("b.bin").delete()
    assert [x.name for x in d.list()] == ["a.bin", "t.parquet"]


def test_local_paths_and_file_uris(tmp_path) -> None:
    assert not is_uri(tmp_path) and is_uri("s3://b/k") and is_uri(f"file://{tmp_path}")
    assert resolve(f"file://{tmp_path}").path == resolve(tmp_path).path == str(tmp_path)
    _roundtrip(resolve(tmp_path))
    assert not list(tmp_path.rglob("*.tmp"))  # temp files renamed away
    assert local_copy(tmp_path / "run") == tmp_path / "run"


def test_s3_roundtrip_and_local_copy(s3_bucket, tmp_path) -> None:  # noqa: F811
    bucket, _ = s3_bucket
    root = resolve(f"s3://{bucket}/prefix")
    assert not root.is_local
    _roundtrip(root)
    cached = local_copy(f"s3://{bucket}/prefix/run/shards/a.bin", cache=tmp_path / "c")
    assert cached.read_bytes() == b"one!"
    folder = local_copy(f"s3://{bucket}/prefix/run", cache=tmp_path / "c")
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["a.bin", "t.parquet"]
    with pytest.raises(FileNotFoundError):
        local_copy(f"s3://{bucket}/prefix/missing.jsonl", cache=tmp_path / "c")


def test_cases_read_from_s3(s3_bucket, tmp_path, monkeypatch, agentclinic_path) -> None:  # noqa: F811
    from medaction.envs.load import iter_environments

    bucket, _ = s3_bucket
    monkeypatch.setenv("MEDACTION_CACHE", str(tmp_path / "cache"))
    resolve(f"s3://{bucket}/cases/ac.jsonl").write_bytes(agentclinic_path.read_bytes())
    remote = [e.case_id for e in iter_environments("agentclinic", f"s3://{bucket}/cases/ac.jsonl")]
    assert remote == [e.case_id for e in iter_environments("agentclinic", agentclinic_path)] and len(remote) > 100
