"""Which shard rows become training data: filter, teacher, origin, branches, free-form share, size cap.

Runs on the scalar columns only (never decodes `trajectory_json`), so planning over millions of rows is cheap and
the Ray Data pipeline then only needs the selected rows' turn numbers. Sub-sampling is a deterministic hash order
of (seed, row key): the same config always selects the same rows, and a smaller cap selects a subset of a larger one.

What cannot be measured (docs/design.md; the same rule as scoring/filters.py): under the dtc+rac filter a row
the scorer handed to the fallback (`decided_by` = "fallback"), or an older row whose DTC has fewer than two linked
turns, is selected by `data.unmeasured` (default "correctness": whole iff `correct` is true), never kept on DTC's
silence. Rows decided by DTC/RAC keep their `kept_turns`.

Shared branch prefixes: the turns a branch shares with its parent path are the same nodes (tree/tree.py names
them by path), so each (tree, node) yields one example: the first selected row in hash order claims it, later
rows skip it (`duplicate_turns` in the report).
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from medaction.scoring.filters import fallback
from medaction.scoring.metrics import measurable
from medaction.trainers.config import DataConfig

SCALAR_COLUMNS = (
    "tree_id", "case_id", "policy_id", "path", "origin", "mode", "branched", "verdict", "correct", "kept_turns",
    "n_turns", "dtc", "decided_by",
)
OPTIONAL_COLUMNS = frozenset({"dtc", "decided_by"})  # absent in schema-1 shards


class Selection(msgspec.Struct, frozen=True, kw_only=True):
    keys: frozenset[str]
    turns: dict[str, tuple[int, ...]] = {}  # row key -> 1-based turns that yield examples (after de-duplication)
    n_rows: int  # rows read
    n_passed_filter: int  # after filter / teacher / origin / branches
    n_selected: int  # after free-form share and caps
    n_free: int  # selected free-form trajectories
    n_turn_examples: int  # per-turn examples the selection yields (before tokenisation drops)
    n_fallback: int = 0  # selected rows decided by the unmeasured rule, not by DTC/RAC
    n_duplicate_turns: int = 0  # kept turns left out because another selected row already yields that node
    n_unmeasured: int = 0  # rows read that DTC could not decide (dtc+rac only): they went to data.unmeasured

    def report(self) -> dict[str, Any]:
        share = self.n_free / self.n_selected if self.n_selected else 0.0
        return {
            "rows": self.n_rows, "passed_filter": self.n_passed_filter, "selected": self.n_selected,
            "retention": round(self.n_selected / self.n_rows, 4) if self.n_rows else 0.0,
            "free_share": round(share, 4), "turn_examples": self.n_turn_examples,
            "fallback_rows": self.n_fallback, "duplicate_turns": self.n_duplicate_turns,
            "unmeasured_rows": self.n_unmeasured,
        }


def shard_files(shards: tuple[str, ...] | list[str]) -> list[Any]:
    """Expand files, directories (recursively) and globs into a sorted list of parquet files. A run directory (it
    has manifest.json) gives the shards its manifest and commit records list, never an orphan or a shard a crashed
    writer left unrecorded. URIs (s3://, gs://, ...; medaction.storage) give URI strings that pyarrow and Ray Data
    read directly: a run directory, a prefix (every .parquet under it) or one file."""
    from medaction.engine import manifest as mf
    from medaction.storage import is_uri, resolve

    out: set[Any] = set()
    for spec in shards:
        if is_uri(spec):
            loc = resolve(spec)
            if loc.join(mf.MANIFEST).exists():
                out.update(s.uri for s in mf.committed_shards(loc))
            elif loc.is_dir():
                import pyarrow.fs as pafs

                infos = loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=True))
                out.update(f"{loc.uri}/{i.path[len(loc.path):].lstrip('/')}" for i in infos
                           if i.type == pafs.FileType.File and i.path.endswith(".parquet"))
            elif loc.exists():
                out.add(loc.uri)
            else:
                raise FileNotFoundError(f"shards: {spec!r} matches no parquet file")
            continue
        p = Path(spec)
        if p.is_dir() and (p / mf.MANIFEST).is_file():
            out.update(Path(s.path) for s in mf.committed_shards(p))
        elif p.is_dir():
            out.update(p.rglob("*.parquet"))
        elif p.is_file():
            out.add(p)
        else:
            matches = [Path(m) for m in glob.glob(spec, recursive=True)]
            if not matches:
                raise FileNotFoundError(f"shards: {spec!r} matches no parquet file")
            out.update(m for m in matches if m.suffix == ".parquet")
    if not out:
        raise FileNotFoundError(f"shards: no parquet files in {list(shards)!r}")
    return sorted(out, key=str)


def row_key(row: dict[str, Any]) -> str:
    return f"{row['tree_id']}|{row['case_id']}|{row['policy_id']}|{row['path']}"


def _rank(seed: int, key: str) -> bytes:
    return hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=8).digest()


def unmeasured_row(row: dict[str, Any]) -> bool:
    """DTC could not decide this row: the scorer said so, or (older rows) fewer than two linked turns."""
    by = row.get("decided_by") or ""
    if by == "fallback":
        return True
    if by == "dtc+rac":
        return False
    return not measurable(list(row.get("dtc") or ()))


def kept_turn_numbers(row: dict[str, Any], flt: str, unmeasured: str = "correctness") -> tuple[int, ...]:
    """1-based turns that yield examples: every turn unless the dtc+rac filter pruned some; what DTC could not
    measure follows `unmeasured` (scoring.filters.fallback)."""
    n = int(row.get("n_turns") or 0)
    if flt == "dtc+rac":
        if unmeasured_row(row):
            return fallback(n, row.get("correct"), unmeasured)[0]
        return tuple(t for t in (row.get("kept_turns") or ()) if 1 <= t <= n)
    return tuple(range(1, n + 1))


def path_node_ids(leaf: str) -> list[str]:
    """Node ids from turn 1 to the leaf, from the leaf's path id (naming of tree/tree.py: "r1", "r1.1", ...,
    branch "P.b0.1", ...). Raises ValueError on an id that does not follow it."""
    i = leaf.rfind(".b")
    if i < 0:
        line, _, step = leaf.partition(".")
        return [line] + [f"{line}.{k}" for k in range(1, int(step or 0) + 1)]
    parent, (branch, step) = leaf[:i], leaf[i + 1:].split(".")
    return path_node_ids(parent) + [f"{parent}.{branch}.{k}" for k in range(1, int(step) + 1)]


def _turn_nodes(row: dict[str, Any]) -> list[str]:
    """One key per turn; node ids where the path follows the tree naming, else keys unique to this row."""
    n = int(row.get("n_turns") or 0)
    try:
        ids = path_node_ids(str(row["path"]))
    except ValueError:
        ids = []
    if len(ids) != n:
        ids = [f"{row['path']}#{t}" for t in range(1, n + 1)]
    return [f"{row['tree_id']}|{x}" for x in ids]


def passes(row: dict[str, Any], cfg: DataConfig) -> bool:
    if cfg.teachers and row["policy_id"] not in cfg.teachers:
        return False
    if cfg.origins and row["origin"] not in cfg.origins:
        return False
    branched = bool(row.get("branched"))
    if (cfg.branches == "none" and branched) or (cfg.branches == "only" and not branched):
        return False
    if cfg.filter == "correctness" and row.get("correct") is not True:
        return False
    return bool(kept_turn_numbers(row, cfg.filter, cfg.unmeasured))


def select_rows(rows: list[dict[str, Any]], cfg: DataConfig) -> Selection:
    passed = [r for r in rows if passes(r, cfg)]
    ranked = sorted(passed, key=lambda r: _rank(cfg.seed, row_key(r)))
    free = [r for r in ranked if r["mode"] == "free"]
    structured = [r for r in ranked if r["mode"] != "free"]
    if cfg.free_share is not None:
        if not 0.0 <= cfg.free_share < 1.0:
            raise ValueError(f"data.free_share: {cfg.free_share} not in [0, 1)")
        # A cap on the free-form share: free rows are sub-sampled, structured rows are never dropped for it
        # (a run with too few free-form trajectories keeps them all and reports the share it reached).
        cap = int(cfg.free_share / (1.0 - cfg.free_share) * len(structured))
        free = free[:cap]
    chosen = sorted(free + structured, key=lambda r: _rank(cfg.seed, row_key(r)))
    if cfg.max_trajectories is not None:
        chosen = chosen[: cfg.max_trajectories]
    turns: dict[str, tuple[int, ...]] = {}
    seen: set[str] = set()
    dup = 0
    for r in chosen:  # hash order: the first row holding a node claims its example
        kept = kept_turn_numbers(r, cfg.filter, cfg.unmeasured)
        nodes = _turn_nodes(r)
        mine = tuple(t for t in kept if nodes[t - 1] not in seen) if cfg.dedupe else kept
        seen.update(nodes[t - 1] for t in mine)
        dup += len(kept) - len(mine)
        if mine:
            turns[row_key(r)] = mine
    return Selection(
        keys=frozenset(turns),
        turns=turns,
        n_rows=len(rows),
        n_passed_filter=len(passed),
        n_selected=len(turns),
        n_free=sum(r["mode"] == "free" for r in chosen if row_key(r) in turns),
        n_turn_examples=sum(len(t) for t in turns.values()),
        n_fallback=sum(1 for r in chosen if row_key(r) in turns and cfg.filter == "dtc+rac" and unmeasured_row(r)),
        n_duplicate_turns=dup,
        n_unmeasured=sum(1 for r in rows if unmeasured_row(r)) if cfg.filter == "dtc+rac" else 0,
    )


def read_scalars(files: list[Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in files:
        try:
            names = set(pq.read_schema(f).names)
            table: pa.Table = pq.read_table(f, columns=[c for c in SCALAR_COLUMNS
                                                        if c in names or c not in OPTIONAL_COLUMNS])
        except (pa.ArrowInvalid, KeyError, OSError) as exc:
            raise ValueError(f"{f}: not a medaction shard ({exc})") from exc
        rows.extend(table.to_pylist())
    return rows


def plan(cfg: DataConfig) -> tuple[list[Path], Selection]:
    files = shard_files(cfg.shards)
    return files, select_rows(read_scalars(files), cfg)
