"""The run manifest: which shard files exist, their row counts, which trees are done, and the config hash.

Written to a temp name and renamed, after the shard it mentions is renamed into place, so a crash at any point
leaves either the old or the new manifest and never one naming a missing file. Shards not in the manifest are
leftovers of a crash and are removed on resume (their trees are not marked done, so they are re-run).
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

MANIFEST = "manifest.json"
SHARDS_DIR = "shards"


class ShardInfo(msgspec.Struct, frozen=True, kw_only=True):
    file: str  # relative to the output dir
    rows: int
    trees: int


class Manifest(msgspec.Struct, kw_only=True):
    config_hash: str
    shards: list[ShardInfo] = []
    trees_done: list[str] = []
    complete: bool = False  # the run went through every case
    version: int = 1

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save(out_dir: Path, manifest: Manifest) -> None:
    write_atomic(out_dir / MANIFEST, msgspec.json.format(msgspec.json.encode(manifest)))


def load(out_dir: Path) -> Manifest | None:
    p = out_dir / MANIFEST
    if not p.exists():
        return None
    try:
        return msgspec.json.decode(p.read_bytes(), type=Manifest)
    except msgspec.DecodeError as exc:
        raise ValueError(f"{p}: unreadable manifest ({exc}); move the output dir away to start over") from exc


def check_output(out_dir: Path, config_hash: str, *, resume: bool) -> Manifest | None:
    """Refuse to mix runs: an existing run needs --resume, and resume needs the same content-affecting config."""
    old = load(out_dir)
    if old is not None and not resume:
        raise FileExistsError(f"{out_dir} already holds a run (manifest.json); pass --resume or a new --out")
    if old is not None and old.config_hash != config_hash:
        raise ValueError(f"{out_dir}/manifest.json: config hash {old.config_hash} differs from this run's "
                         f"{config_hash}; resume needs the same content-affecting config")
    return old


def clean_orphans(out_dir: Path, manifest: Manifest | None) -> list[str]:
    """Delete shard files (and temp files) that the manifest does not list; returns what was removed."""
    shard_dir = out_dir / SHARDS_DIR
    if not shard_dir.exists():
        return []
    keep = {s.file for s in manifest.shards} if manifest else set()
    removed = []
    for f in sorted(shard_dir.iterdir()):
        rel = f"{SHARDS_DIR}/{f.name}"
        if rel not in keep:
            f.unlink()
            removed.append(rel)
    return removed
