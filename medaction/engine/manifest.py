"""The run manifest and the rules of a run's output directory (docs/design.md, "Outputs and resume"; object
storage: docs/cluster.md, "Object storage").

The output is a local directory or a URI (s3://, gs://, file://: medaction.storage). The manifest lists the shard
files (each with its row count, size, sha256 and tree ids), the trees done, the trees that failed (with their
cause) and the config hash. Shards have unique names (`part-<writer tag>-<seq>.parquet`, several writers may write
at once) and every object is written once, whole (temp + rename locally; one upload on object storage, which has
no atomic rename). After each shard its writer writes a commit record `commits/<shard>.json` (the shard's
ShardInfo and failed trees): the per-shard tree list, appended, so the cost of recording a run is linear in its
size. `manifest.json` is written when a session starts (folding in the commit records of the last one) and last,
when it closes; `load` = manifest + commit records, so a crash at any point loses no committed shard and never
counts a shard twice (a shard without its commit record is not counted: it is an orphan).

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
from medaction.storage import Location, resolve

MANIFEST = "manifest.json"
SHARDS_DIR = "shards"
COMMITS_DIR = "commits"
ORPHANS_DIR = "orphans"
SUMMARY = "summary.json"
# The engine's own partial shards: `.part-<tag>-<seq>.parquet.<rand>.tmp` (and the older `.part-<seq>-<pid>...`).
_TEMP = re.compile(r"^\.part-(?:[0-9a-f]{10}-\d{5,}|\d{5,}-\d+)\.parquet(?:\.[0-9a-f]{8})?\.tmp$")

Out = Path | str | Location


def _loc(out: Out) -> Location:
    return out if isinstance(out, Location) else resolve(out)


class ShardInfo(msgspec.Struct, frozen=True, kw_only=True):
    file: str  # relative to the output dir
    rows: int
    trees: int
    bytes: int = 0  # file size when written (0: written by an older version, not checked)
    sha256: str = ""  # content hash when written ("" : not checked)
    tree_ids: tuple[str, ...] = ()  # the trees whose rows are in this shard (empty: older version; read from file)


class ShardCommit(msgspec.Struct, frozen=True, kw_only=True):
    """commits/<shard>.json: written after its shard, so a commit record always names a whole shard."""

    shard: ShardInfo
    trees_failed: dict[str, str] = {}


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


def save(out_dir: Out, manifest: Manifest) -> None:
    _loc(out_dir).join(MANIFEST).write_bytes(msgspec.json.format(msgspec.json.encode(manifest)))


def commit_name(shard_file: str) -> str:
    return f"{COMMITS_DIR}/{Path(shard_file).stem}.json"


def write_commit(out_dir: Out, shard: ShardInfo, trees_failed: dict[str, str]) -> None:
    """Record one written shard (after the shard itself): O(its trees), whatever the size of the run."""
    data = msgspec.json.encode(ShardCommit(shard=shard, trees_failed=trees_failed))
    _loc(out_dir).join(commit_name(shard.file)).write_bytes(data)


def commits(out_dir: Out) -> list[tuple[Location, ShardCommit]]:
    """The commit records present, in name order (an unreadable one is skipped: its shard stays an orphan)."""
    out: list[tuple[Location, ShardCommit]] = []
    for f in _loc(out_dir).join(COMMITS_DIR).list():
        if not f.name.endswith(".json"):
            continue
        try:
            out.append((f, msgspec.json.decode(f.read_bytes(), type=ShardCommit)))
        except (msgspec.DecodeError, msgspec.ValidationError, OSError):
            continue
    return out


def _read_manifest(loc: Location) -> Manifest | None:
    p = loc.join(MANIFEST)
    if not p.exists() or p.is_dir():
        return None
    try:
        return msgspec.json.decode(p.read_bytes(), type=Manifest)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UsageError(f"{p}: unreadable manifest ({exc}); move the output dir away to start over") from None


def load(out_dir: Out) -> Manifest | None:
    """The run's state: manifest.json plus the commit records written since it (shards it does not list yet)."""
    loc = _loc(out_dir)
    m = _read_manifest(loc)
    if m is None:
        return None
    listed = {s.file for s in m.shards}
    for _, c in commits(loc):
        if c.shard.file in listed:
            continue
        listed.add(c.shard.file)
        m.shards.append(c.shard)
        m.trees_done.extend(c.shard.tree_ids)
        m.trees_failed.update(c.trees_failed)
    return m


def fold_commits(out_dir: Out, manifest: Manifest) -> None:
    """Write `manifest` (which already holds what the commit records say) and then remove the records: ours, and
    a crash between the two leaves records that `load` skips (their shards are listed) or re-checks (dropped)."""
    loc = _loc(out_dir)
    save(loc, manifest)
    for f, _ in commits(loc):
        f.delete()


def file_sha256(path: Out) -> str:
    loc = _loc(path)
    h = hashlib.sha256()
    with loc.fs.open_input_stream(loc.path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _is_empty(loc: Location) -> bool:
    import pyarrow.fs as pafs

    if loc.is_local:
        return not Path(loc.path).exists() or not any(Path(loc.path).iterdir())
    try:
        return not loc.fs.get_file_info(pafs.FileSelector(loc.path, allow_not_found=True))
    except FileNotFoundError:
        return True


def prepare_output(out_dir: Out, config_hash: str, *, resume: bool, force_out: bool = False) -> Manifest | None:
    """Decide whether this run may write to `out_dir`; creates nothing. Returns the manifest to resume (or None).

    - `out_dir` (or a parent) is a file: refused.
    - missing or empty directory: a new run.
    - a run (manifest.json) holding work: needs --resume and the same config hash; one holding no work (a run that
      stopped before its first tree) is started over in place.
    - any other non-empty directory: refused unless --force-out (its files are kept; see the module docstring).
    """
    loc = _loc(out_dir)
    if loc.is_local:
        p = Path(loc.path)
        while not p.exists() and p != p.parent:
            p = p.parent
        if not p.is_dir():
            raise UsageError(f"--out {out_dir}: {p} is a file, not a directory")
    elif loc.exists() and not loc.is_dir():
        raise UsageError(f"--out {out_dir}: an object, not a prefix")
    if _is_empty(loc):
        return None
    old = load(loc)
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


def check_output(out_dir: Out, config_hash: str, *, resume: bool, force_out: bool = False) -> Manifest | None:
    """`prepare_output` for callers that only know the directory is theirs to check (the writer, gold shards)."""
    return prepare_output(out_dir, config_hash, resume=resume, force_out=force_out)


def shard_tree_ids(path: Out) -> tuple[str, ...]:
    import pyarrow.parquet as pq

    loc = _loc(path)
    table = pq.read_table(loc.path, columns=["tree_id"], filesystem=loc.fs)
    return tuple(dict.fromkeys(table.column("tree_id").to_pylist()))


def shard_problem(out_dir: Out, info: ShardInfo) -> str:
    """Why a listed shard cannot be trusted ("" when it is intact): missing, size, checksum, row count."""
    import pyarrow.parquet as pq

    path = _loc(out_dir).join(info.file)
    if not path.exists() or path.is_dir():
        return "missing"
    if info.bytes and path.size() != info.bytes:
        return f"size {path.size()} != {info.bytes}"
    if info.sha256 and file_sha256(path) != info.sha256:
        return "checksum differs"
    try:
        with path.fs.open_input_file(path.path) as f:
            rows = pq.ParquetFile(f).metadata.num_rows
    except Exception as exc:  # noqa: BLE001 - any unreadable footer is a corrupt shard
        return f"unreadable parquet ({type(exc).__name__})"
    if rows != info.rows:
        return f"{rows} rows != {info.rows}"
    return ""


def verify(out_dir: Out, manifest: Manifest) -> list[str]:
    """Drop shards that are missing or corrupt (their trees are no longer done, so they are re-run); the bad files
    are moved to orphans/. Trees done are those whose rows are in an intact shard. Returns "file: problem" lines."""
    out_dir = _loc(out_dir)
    bad: list[str] = []
    good: list[ShardInfo] = []
    for info in manifest.shards:
        problem = shard_problem(out_dir, info)
        if problem:
            bad.append(f"{info.file}: {problem}")
            if out_dir.join(info.file).exists():
                set_aside(out_dir, out_dir.join(info.file))
        else:
            good.append(info if info.tree_ids else msgspec.structs.replace(
                info, tree_ids=shard_tree_ids(out_dir.join(info.file))))
    kept = {t for s in good for t in s.tree_ids}
    manifest.shards = good
    manifest.trees_done = [t for t in manifest.trees_done if t in kept]
    manifest.trees_failed = {t: c for t, c in manifest.trees_failed.items() if t in kept}
    return bad


def set_aside(out_dir: Out, path: Out) -> str:
    """Move `path` to out_dir/orphans/ (a rename locally; copy + delete on object storage); .parquet gains .orphan
    so readers of the run directory never take it for a shard. Returns the new relative path."""
    out_dir, path = _loc(out_dir), _loc(path)
    dest_dir = out_dir.join(ORPHANS_DIR)
    dest_dir.mkdirs()
    name = path.name + (".orphan" if path.name.endswith(".parquet") else "")
    dest, n = dest_dir.join(name), 1
    while dest.exists():
        dest = dest_dir.join(f"{name}.{n}")
        n += 1
    if path.is_local:
        os.replace(path.path, dest.path)
    else:
        path.fs.move(path.path, dest.path)
    return f"{ORPHANS_DIR}/{dest.name}"


def clean_orphans(out_dir: Out, manifest: Manifest | None) -> list[str]:
    """Files under shards/ that the manifest does not list: the engine's own temp files are removed, anything else
    (a shard of a crashed run, a file the user put there) is moved to orphans/. Returns "old -> new" lines."""
    out_dir = _loc(out_dir)
    keep = {s.file for s in manifest.shards} if manifest else set()
    moved = []
    for f in out_dir.join(SHARDS_DIR).list():
        rel = f"{SHARDS_DIR}/{f.name}"
        if rel in keep:
            continue
        if _TEMP.match(f.name):
            f.delete()  # a partial shard of ours: never a file someone else wrote (that exact name)
            moved.append(f"{rel} -> removed (engine temp file)")
        else:
            moved.append(f"{rel} -> {set_aside(out_dir, f)}")
    return moved


def committed_shards(out_dir: Out) -> list[Location]:
    """The shard files a reader (trainer, eval) should read: those the manifest and commit records list, never an
    orphan or a shard a crashed writer left without its commit record."""
    loc = _loc(out_dir)
    m = load(loc)
    return [loc.join(s.file) for s in m.shards] if m else []
