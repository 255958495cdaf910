"""Shard rows -> SFT examples (chat `messages` + which messages carry loss).

Two formats (DESIGN "Outputs"):
- turn (default, the paper's unit): one example per kept turn = the exact prompt the policy saw at that turn
  (`node.messages`) + one assistant message, the text it wrote (`turn.raw`). Pruned turns yield nothing.
- chat: one example per trajectory, a multi-turn conversation: turn 1's prompt, then assistant turn / user message
  with the oracle's replies, up to the last kept turn; loss only on kept assistant turns (pruned turns stay as
  context so the conversation stays coherent).

Targets are clean: a turn whose parse failed is never a target (context only, unless `data.failed_parse`), and
an identical (prompt, target) pair is emitted once (shared branch prefixes are claimed once by the selection;
identical texts from different nodes are dropped here, within what one call sees). Both are counted (`ExampleStats`).

The output table has a `messages` column (list of {role, content}) that `datasets` and TRL load, plus `train_on`
(one bool per message) and provenance columns (case, teacher, tree, node path, seed, scores).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from medaction.scoring.rows import from_row
from medaction.tree.types import Node
from medaction.trainers.config import DataConfig
from medaction.trainers.selection import kept_turn_numbers, row_key

log = logging.getLogger(__name__)

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
EXAMPLE_SCHEMA = pa.schema(
    [
        ("messages", pa.list_(MESSAGE)),
        ("train_on", pa.list_(pa.bool_())),
        ("case_id", pa.string()),
        ("policy_id", pa.string()),
        ("tree_id", pa.string()),
        ("path", pa.string()),  # node id of the turn (turn format) or of the leaf (chat format)
        ("seed", pa.int64()),
        ("turn", pa.int32()),  # 1-based turn (turn format); 0 for chat
        ("mode", pa.string()),
        ("verdict", pa.string()),
        ("correct", pa.bool_()),
        ("dtc", pa.int32()),
        ("rac", pa.float64()),
    ]
)


class ExampleStats(msgspec.Struct, kw_only=True):
    examples: int = 0
    failed_parse: int = 0  # turns left out as targets because their parse failed
    duplicates: int = 0  # examples identical to one already emitted


def _fingerprint(ex: dict[str, Any]) -> bytes:
    body = msgspec.json.encode([[m["role"], m["content"]] for m in ex["messages"]] + [ex["train_on"]])
    return hashlib.blake2b(body, digest_size=16).digest()


def _usable(node: Node, failed_parse: bool) -> bool:
    return failed_parse or node.turn.parse != "failed"


def format_replies(node: Node) -> str:
    """The oracle's answers to the tests ordered at `node`, as the next user message of a chat example."""
    if not node.replies:
        return "No tests were ordered. Continue."
    lines = [f"- {r.request}: {r.result}" for r in node.replies]
    return "Results of the tests you ordered:\n" + "\n".join(lines)


def _at(values: Any, turn: int) -> Any:
    values = values or ()
    return values[turn - 1] if 0 < turn <= len(values) else None


def _meta(row: dict[str, Any], node: Node, turn: int) -> dict[str, Any]:
    return {
        "case_id": row["case_id"], "policy_id": row["policy_id"], "tree_id": row["tree_id"], "path": node.node_id,
        "seed": node.seed, "turn": turn, "mode": row["mode"], "verdict": row.get("verdict") or "",
        "correct": row.get("correct"), "dtc": _at(row.get("dtc"), turn), "rac": _at(row.get("rac"), turn),
    }


def turn_examples(row: dict[str, Any], turns: tuple[int, ...], *, failed_parse: bool = False,
                  stats: ExampleStats | None = None) -> list[dict[str, Any]]:
    nodes = from_row(row).trajectory.nodes
    out = []
    for t in turns:
        node = nodes[t - 1]
        if not _usable(node, failed_parse):
            if stats is not None:
                stats.failed_parse += 1
            continue
        if not node.messages or not node.turn.raw.strip():
            log.warning("row %s turn %d: no prompt messages or empty output; no example", row_key(row), t)
            continue
        msgs = [{"role": m.role, "content": m.content} for m in node.messages]
        msgs.append({"role": "assistant", "content": node.turn.raw})
        out.append({"messages": msgs, "train_on": [False] * (len(msgs) - 1) + [True], **_meta(row, node, t)})
    return out


def chat_example(row: dict[str, Any], turns: tuple[int, ...], *, failed_parse: bool = False,
                 stats: ExampleStats | None = None) -> list[dict[str, Any]]:
    nodes = from_row(row).trajectory.nodes
    if not nodes[0].messages:
        log.warning("row %s: turn 1 has no prompt messages; no example", row_key(row))
        return []
    kept = set(turns)
    last = max(turns)
    msgs = [{"role": m.role, "content": m.content} for m in nodes[0].messages]
    train_on = [False] * len(msgs)
    for t in range(1, last + 1):
        node = nodes[t - 1]
        msgs.append({"role": "assistant", "content": node.turn.raw})
        usable = _usable(node, failed_parse)
        if t in kept and not usable and stats is not None:
            stats.failed_parse += 1
        train_on.append(t in kept and usable and bool(node.turn.raw.strip()))
        if t < last:
            msgs.append({"role": "user", "content": format_replies(node)})
            train_on.append(False)
    if not any(train_on):
        return []
    return [{"messages": msgs, "train_on": train_on, **_meta(row, nodes[last - 1], last), "turn": 0,
             "dtc": None, "rac": None}]


def examples_from_rows(rows: list[dict[str, Any]], cfg: DataConfig, turns: Mapping[str, tuple[int, ...]] | None,
                       *, source: str = "shard", stats: ExampleStats | None = None,
                       seen: set[bytes] | None = None) -> list[dict[str, Any]]:
    """Examples of the selected rows (`turns`: row key -> turns, `Selection.turns` from selection.plan; None =
    every row, its filter's turns). `seen` carries the de-duplication across calls (one set per build)."""
    out: list[dict[str, Any]] = []
    stats = stats if stats is not None else ExampleStats()
    seen = seen if seen is not None else set()
    build = turn_examples if cfg.format == "turn" else chat_example
    for row in rows:
        if turns is not None:
            mine = turns.get(row_key(row), ())
        else:
            mine = kept_turn_numbers(row, cfg.filter, cfg.unmeasured)
        if not mine:
            continue
        try:
            built = build(row, mine, failed_parse=cfg.failed_parse, stats=stats)
        except (msgspec.DecodeError, msgspec.ValidationError, IndexError) as exc:
            # Bad record: name it and go on; good records still go through.
            log.error("%s: record %s: field trajectory_json: %s; skipped", source, row_key(row), exc)
            continue
        for ex in built:
            fp = _fingerprint(ex)
            if cfg.dedupe and fp in seen:
                stats.duplicates += 1
                continue
            seen.add(fp)
            stats.examples += 1
            out.append(ex)
    return out


def examples_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=EXAMPLE_SCHEMA)


def examples_batch(batch: pa.Table, cfg: DataConfig, turns: Mapping[str, tuple[int, ...]] | None) -> pa.Table:
    """Ray Data `map_batches` body (batch_format="pyarrow"); identical texts are de-duplicated within the batch
    (shared branch prefixes already across the whole selection)."""
    return examples_table(examples_from_rows(batch.to_pylist(), cfg, turns))


def write_examples(table: pa.Table, path: str) -> None:
    pq.write_table(table, path)
