"""Which shard rows become training data: filter, teacher, origin, branches, free-form share, size cap.

Runs on the scalar columns only (never decodes `trajectory_json`), so planning over millions of rows is cheap and
the Ray Data pipeline then only needs the set of selected row keys. Sub-sampling is a deterministic hash order of
(seed, row key): the same config always selects the same rows, and a smaller cap selects a subset of a larger one.
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from medaction.trainers.config import DataConfig

SCALAR_COLUMNS = (
    "tree_id", "case_id", "policy_id", "path", "origin", "mode", "branched", "verdict", "correct", "kept_turns",
    "n_turns",
)


class Selection(msgspec.Struct, frozen=True, kw_only=True):
    keys: frozenset[str]
    n_rows: int  # rows read
    n_passed_filter: int  # after filter / teacher / origin / branches
    n_selected: int  # after free-form share and caps
    n_free: int  # selected free-form trajectories
    n_turn_examples: int  # per-turn examples the selection yields (before tokenisation drops)

    def report(self) -> dict[str, Any]:
        share = self.n_free / self.n_selected if self.n_selected else 0.0
        return {
            "rows": self.n_rows, "passed_filter": self.n_passed_filter, "selected": self.n_selected,
            "retention": round(self.n_selected / self.n_rows, 4) if self.n_rows else 0.0,
            "free_share": round(share, 4), "turn_examples": self.n_turn_examples,
        }


def shard_files(shards: tuple[str, ...] | list[str]) -> list[Path]:
    """Expand files, directories (recursively) and globs into a sorted list of parquet files."""
    out: set[Path] = set()
    for spec in shards:
        p = Path(spec)
        if p.is_dir():
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
    return sorted(out)


def row_key(row: dict[str, Any]) -> str:
    return f"{row['tree_id']}|{row['case_id']}|{row['policy_id']}|{row['path']}"


def _rank(seed: int, key: str) -> bytes:
    return hashlib.blake2b(f"{seed}|{key}".encode(), digest_size=8).digest()


def kept_turn_numbers(row: dict[str, Any], flt: str) -> tuple[int, ...]:
    """1-based turns that yield examples: every turn unless the dtc+rac filter pruned some."""
    n = int(row.get("n_turns") or 0)
    if flt == "dtc+rac":
        return tuple(t for t in (row.get("kept_turns") or ()) if 1 <= t <= n)
    return tuple(range(1, n + 1))


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
    if cfg.filter == "dtc+rac" and row.get("verdict") == "discarded":
        return False
    return bool(kept_turn_numbers(row, cfg.filter))


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
    return Selection(
        keys=frozenset(row_key(r) for r in chosen),
        n_rows=len(rows),
        n_passed_filter=len(passed),
        n_selected=len(chosen),
        n_free=sum(r["mode"] == "free" for r in chosen),
        n_turn_examples=sum(len(kept_turn_numbers(r, cfg.filter)) for r in chosen),
    )


def read_scalars(files: list[Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in files:
        try:
            table: pa.Table = pq.read_table(f, columns=list(SCALAR_COLUMNS))
        except (pa.ArrowInvalid, KeyError, OSError) as exc:
            raise ValueError(f"{f}: not a medaction shard ({exc})") from exc
        rows.extend(table.to_pylist())
    return rows


def plan(cfg: DataConfig) -> tuple[list[Path], Selection]:
    files = shard_files(cfg.shards)
    return files, select_rows(read_scalars(files), cfg)
