"""The run manifest and the rules of a run's output directory (docs/design.md, "Outputs and resume").

The manifest lists the shard files (each with its row count, size, sha256 and tree ids), the trees done, the trees
that failed (with their cause) and the config hash. It is written to a temp name and renamed, after the shard it
mentions is renamed into place, so a crash at any point leaves either the old or the new manifest and never one
naming a missing file.

What the engine may touch: it never deletes a file it did not write. `prepare_output` classifies `--out` before
anything is created (a file or a path under a file, a foreign non-empty directory, a run needing --resume, a config
mismatch: each a one-line UsageError). On resume, `verify` checks every listed shard (exists, size, sha256, parquet
row count); a missing or corrupt shard is dropped from the manifest so its trees are re-run. Files under shards/
that the manifest does not list are moved to orphans/ (never deleted), except the engine's own temp files
(`.part-NNNNN-PID.parquet.tmp`), which only the engine writes and which are removed.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import msgspec

from medaction.outputs import UsageError

MANIFEST = "manifest.json"
SHARDS_DIR = "shards"
ORPHANS_DIR = "orphans"
SUMMARY = "summary.json"
_TEMP = re.compile(r"^\.part-\d{5,}-\d+\.parquet\.tmp$")


class ShardInfo(msgspec.Struct, frozen=True, kw_only=True):
    file: str  # relative to the output dir
    rows: int
    trees: int
    bytes: int = 0  # file size when written (0: written by an older version, not checked)
    sha256: str = ""  # content hash when written ("" : not checked)
    tree_ids: tuple[str, ...] = ()  # the trees whose rows are in this shard (empty: older version; read from file)


class Manifest(msgspec.Struct, kw_only=True):
    config_hash: str
    shards: list[ShardInfo] = []
    trees_done: list[str] = []
    trees_failed: dict[str, str] = {}  # tree id -> root cause; a subset of trees_done, re-run on resume by default
    complete: bool = False  # the run went through every case
    version: int = 2

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def holds_work(self) -> bool:
        return bool(self.shards or self.trees_done)


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
    if not p.is_file():
        return None
    try:
        return msgspec.json.decode(p.read_bytes(), type=Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UsageError(f"{p}: unreadable manifest ({exc}); move the output dir away to start over") from None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare_output(out_dir: Path, config_hash: str, *, resume: bool, force_out: bool = False) -> Manifest | None:
    """Decide whether this run may write to `out_dir`; creates nothing. Returns the manifest to resume (or None).

    - `out_dir` (or a parent) is a file: refused.
    - missing or empty directory: a new run.
    - a run (manifest.json) holding work: needs --resume and the same config hash; one holding no work (a run that
      stopped before its first tree) is started over in place.
    - any other non-empty directory: refused unless --force-out (its files are kept; see the module docstring).
    """
    p = out_dir
    while not p.exists() and p != p.parent:
        p = p.parent
    if not p.is_dir():
        raise UsageError(f"--out {out_dir}: {p} is a file, not a directory")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return None
    old = load(out_dir)
    if old is None:
        if force_out:
            return None
        what = "nothing to resume" if resume else "not a medaction run"
        raise UsageError(f"--out {out_dir}: directory is not empty and has no {MANIFEST} ({what}); its files are "
                         f"kept: choose another --out, or pass --force-out to write into it")
    if not old.holds_work:
        return None
    if not resume:
        raise UsageError(f"--out {out_dir} already holds a run ({MANIFEST}); pass --resume to continue it or choose "
                         f"a new --out")
    if old.config_hash != config_hash:
        raise UsageError(f"{out_dir}/{MANIFEST}: config hash {old.config_hash} differs from this run's {config_hash} "
                         f"(config or case data changed); resume needs the same content-affecting config and cases")
    return old


def check_output(out_dir: Path, config_hash: str, *, resume: bool, force_out: bool = False) -> Manifest | None:
    """`prepare_output` for callers that only know the directory is theirs to check (the writer, gold shards)."""
    return prepare_output(out_dir, config_hash, resume=resume, force_out=force_out)


def shard_tree_ids(path: Path) -> tuple[str, ...]:
    import pyarrow.parquet as pq

    return tuple(dict.fromkeys(pq.read_table(path, columns=["tree_id"]).column("tree_id").to_pylist()))


def shard_problem(out_dir: Path, info: ShardInfo) -> str:
    """Why a listed shard cannot be trusted ("" when it is intact): missing, size, checksum, row count."""
    import pyarrow.parquet as pq

    path = out_dir / info.file
    if not path.is_file():
        return "missing"
    if info.bytes and path.stat().st_size != info.bytes:
        return f"size {path.stat().st_size} != {info.bytes}"
    if info.sha256 and file_sha256(path) != info.sha256:
        return "checksum differs"
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as exc:  # noqa: BLE001 - any unreadable footer is a corrupt shard
        return f"unreadable parquet ({type(exc).__name__})"
    if rows != info.rows:
        return f"{rows} rows != {info.rows}"
    return ""


def verify(out_dir: Path, manifest: Manifest) -> list[str]:
    """Drop shards that are missing or corrupt (their trees are no longer done, so they are re-run); the bad files
    are moved to orphans/. Trees done are those whose rows are in an intact shard. Returns "file: problem" lines."""
    bad: list[str] = []
    good: list[ShardInfo] = []
    for info in manifest.shards:
        problem = shard_problem(out_dir, info)
        if problem:
            bad.append(f"{info.file}: {problem}")
            if (out_dir / info.file).exists():
                set_aside(out_dir, out_dir / info.file)
        else:
            good.append(info if info.tree_ids else msgspec.structs.replace(
                info, tree_ids=shard_tree_ids(out_dir / info.file)))
    kept = {t for s in good for t in s.tree_ids}
    manifest.shards = good
    manifest.trees_done = [t for t in manifest.trees_done if t in kept]
    manifest.trees_failed = {t: c for t, c in manifest.trees_failed.items() if t in kept}
    return bad


def set_aside(out_dir: Path, path: Path) -> str:
    """Move `path` to out_dir/orphans/ (same file system: a rename); .parquet gains .orphan so readers of the
    run directory never take it for a shard. Returns the new relative path."""
    dest_dir = out_dir / ORPHANS_DIR
    dest_dir.mkdir(exist_ok=True)
    name = path.name + (".orphan" if path.suffix == ".parquet" else "")
    dest = dest_dir / name
    n = 1
    while dest.exists():
        dest = dest_dir / f"{name}.{n}"
        n += 1
    os.replace(path, dest)
    return str(dest.relative_to(out_dir))


def clean_orphans(out_dir: Path, manifest: Manifest | None) -> list[str]:
    """Files under shards/ that the manifest does not list: the engine's own temp files are removed, anything else
    (a shard of a crashed run, a file the user put there) is moved to orphans/. Returns "old -> new" lines."""
    shard_dir = out_dir / SHARDS_DIR
    if not shard_dir.is_dir():
        return []
    keep = {s.file for s in manifest.shards} if manifest else set()
    moved = []
    for f in sorted(shard_dir.iterdir()):
        rel = f"{SHARDS_DIR}/{f.name}"
        if rel in keep:
            continue
        if _TEMP.match(f.name) and f.is_file():
            f.unlink()  # a partial shard of ours: never a file someone else wrote (that exact name)
            moved.append(f"{rel} -> removed (engine temp file)")
        else:
            moved.append(f"{rel} -> {set_aside(out_dir, f)}")
    return moved
