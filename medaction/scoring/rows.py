"""The shard row schema: one parquet row per scored trajectory. The single place rows are made and read.

Scalar columns make filtering cheap in Ray Data / pyarrow; the whole trajectory (every node with the exact prompt
messages, the turn, the oracle replies and usage) is kept as msgspec JSON in `trajectory_json` so nothing is lost.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pyarrow as pa

from medaction.scoring.types import ScoredTrajectory
from medaction.tree.types import Trajectory

SCHEMA_VERSION = 2  # 2: decided_by, truth_linked, top1_linked, top1_source (absent in 1 -> null)

SCHEMA = pa.schema(
    [
        ("schema_version", pa.int32()),
        ("tree_id", pa.string()),
        ("case_id", pa.string()),
        ("policy_id", pa.string()),
        ("path", pa.string()),  # leaf node id: the root-to-leaf path
        ("seed", pa.int64()),  # the leaf node's seed
        ("origin", pa.string()),  # "rollout" or "gold"
        ("mode", pa.string()),  # structured | free
        ("branched", pa.bool_()),  # the path passes through a branch launch point
        ("stop", pa.string()),
        ("error", pa.string()),
        ("n_turns", pa.int32()),
        ("final_diagnosis", pa.string()),
        ("verdict", pa.string()),
        ("kept_turns", pa.list_(pa.int32())),
        ("dtc", pa.list_(pa.int32())),
        ("rac", pa.list_(pa.float64())),
        ("correct", pa.bool_()),
        ("graph", pa.string()),
        ("scorer", pa.string()),
        ("decided_by", pa.string()),  # dtc+rac | fallback | correctness | none; "" = not scored
        ("truth_linked", pa.bool_()),
        ("top1_linked", pa.list_(pa.bool_())),  # per turn; null = the turn had no top-1
        ("top1_source", pa.list_(pa.string())),  # per turn: parsed | extracted | ""
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cached_tokens", pa.int64()),
        ("trajectory_json", pa.string()),
        ("policy_versions", pa.list_(pa.int32())),  # weights version per turn (docs/rl.md); all 0 without updates
    ]
)

_ENC = msgspec.json.Encoder()
_DEC = msgspec.json.Decoder(Trajectory)


def to_row(st: ScoredTrajectory, *, origin: str = "rollout") -> dict[str, Any]:
    t = st.trajectory
    leaf = t.nodes[-1] if t.nodes else None
    final = next((n.turn.final_diagnosis for n in reversed(t.nodes) if n.turn.final_diagnosis), None)
    return {
        "schema_version": SCHEMA_VERSION,
        "tree_id": t.tree_id,
        "case_id": t.case_id,
        "policy_id": t.policy_id,
        "path": leaf.node_id if leaf else "",
        "seed": leaf.seed if leaf else 0,
        "origin": origin,
        "mode": t.mode,
        "branched": bool(leaf and ".b" in leaf.node_id),
        "stop": t.stop,
        "error": t.error,
        "n_turns": len(t.nodes),
        "final_diagnosis": final or "",
        "verdict": st.verdict,
        "kept_turns": list(st.kept_turns),
        "dtc": list(st.dtc),
        "rac": list(st.rac),
        "correct": st.correct,
        "graph": st.graph,
        "scorer": st.scorer,
        "decided_by": st.decided_by,
        "truth_linked": st.truth_linked,
        "top1_linked": list(st.top1_linked),
        "top1_source": list(st.top1_source),
        "prompt_tokens": sum(n.usage.prompt_tokens for n in t.nodes),
        "completion_tokens": sum(n.usage.completion_tokens for n in t.nodes),
        "cached_tokens": sum(n.usage.cached_tokens for n in t.nodes),
        "trajectory_json": _ENC.encode(t).decode(),
        "policy_versions": [n.policy_version for n in t.nodes],
    }


def from_row(row: dict[str, Any]) -> ScoredTrajectory:
    raw = row["trajectory_json"]
    traj = _DEC.decode(raw.encode() if isinstance(raw, str) else raw)
    return ScoredTrajectory(
        trajectory=traj,
        dtc=tuple(row.get("dtc") or ()),
        rac=tuple(row.get("rac") or ()),
        kept_turns=tuple(row.get("kept_turns") or ()),
        verdict=row.get("verdict") or "kept",
        correct=row.get("correct"),
        graph=row.get("graph") or "",
        scorer=row.get("scorer") or "identity",
        decided_by=row.get("decided_by") or "",
        truth_linked=row.get("truth_linked"),
        top1_linked=tuple(row.get("top1_linked") or ()),
        top1_source=tuple(row.get("top1_source") or ()),
    )


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)
