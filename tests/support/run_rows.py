"""What a run's rows must reproduce exactly whatever the timing, replica or interruption (engine tests)."""

from __future__ import annotations

import msgspec


def trajectory_content(rows: list[dict]) -> set[tuple]:
    """Per row: tree id, path, stop, seed and every turn's text (timings aside)."""
    out = set()
    for r in rows:
        traj = msgspec.json.decode(r["trajectory_json"])
        out.add((r["tree_id"], r["path"], r["stop"], r["seed"], tuple(n["turn"]["raw"] for n in traj["nodes"])))
    return out
