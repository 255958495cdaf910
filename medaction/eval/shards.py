"""Reads an engine output directory's parquet shards back into ScoredTrajectories (through rows.from_row only)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from medaction.scoring.rows import from_row
from medaction.scoring.types import ScoredTrajectory


def read_scored(run_dir: Path) -> list[ScoredTrajectory]:
    """All rollout rows of `run_dir/shards/*.parquet`, one per (case, path), sorted by case id then path.

    Branched paths and gold rows are skipped: evaluation is K=1, no branches, so at most one path per case is
    expected; if a directory holds more (a misconfigured run), the first path per case ("r0" first) is used.
    """
    files = sorted((run_dir / "shards").glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{run_dir}/shards: no parquet shards (did the engine run write here?)")
    best: dict[str, tuple[str, ScoredTrajectory]] = {}
    for f in files:
        for row in pq.read_table(f).to_pylist():
            if row.get("origin", "rollout") != "rollout" or row.get("branched"):
                continue
            try:
                st = from_row(row)
            except Exception as exc:  # a corrupt row names its file and case, the rest go through
                raise ValueError(f"{f}: case {row.get('case_id')!r} field 'trajectory_json': {exc}") from None
            cid, path = st.trajectory.case_id, row.get("path") or ""
            if cid not in best or path < best[cid][0]:
                best[cid] = (path, st)
    return [best[k][1] for k in sorted(best)]
