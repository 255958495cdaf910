"""Clean SFT rows: the unmeasured rule in the selection, no failed-parse targets, one example per shared branch
prefix node, and middle shortening of the test record instead of left truncation (counted)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from medaction.envs.types import OracleReply
from medaction.policies.context import build_context
from medaction.scoring.types import ScoredTrajectory
from medaction.trainers.config import DataConfig
from medaction.trainers.examples import ExampleStats
from medaction.trainers.local import build_examples
from medaction.trainers.selection import kept_turn_numbers, path_node_ids, plan
from medaction.trainers.shorten import count_record_items, shorten_record
from tests.support.synthetic import scored, trajectory, write_shard
from tests.support.tiny import build_tokenizer
from medaction.trainers.tokens import IGNORE, TokenStats, fit_example, tokenize_rows


def _cfg(shard: Path, **kw) -> DataConfig:  # type: ignore[no-untyped-def]
    return DataConfig(shards=(str(shard),), free_share=None, **kw)


def _with(st: ScoredTrajectory, **kw) -> ScoredTrajectory:  # type: ignore[no-untyped-def]
    return msgspec.structs.replace(st, **kw)


# -- the unmeasured rule in the selection ----------------------------------------------------------------------
def test_selection_applies_the_unmeasured_rule(tmp_path: Path) -> None:
    items = [
        _with(scored(trajectory(0, "a")), decided_by="dtc+rac", kept_turns=(1, 2), verdict="truncated",
              correct=False),  # decided by DTC/RAC: its kept turns, whatever `correct` says
        _with(scored(trajectory(1, "a")), decided_by="fallback", kept_turns=(1, 2, 3), verdict="kept",
              dtc=(None,) * 3, correct=True),  # fallback, correct: whole
        _with(scored(trajectory(2, "a")), decided_by="fallback", kept_turns=(), verdict="discarded",
              dtc=(None,) * 3, correct=False),  # fallback, wrong: nothing
        # an older row (no decided_by) with one linked turn and verdict "kept": silent DTC -> fallback -> nothing
        _with(scored(trajectory(3, "a")), dtc=(None, None, 2), kept_turns=(1, 2, 3), verdict="kept", correct=False),
    ]
    shard = write_shard(tmp_path / "s.parquet", items)
    sel = plan(_cfg(shard))[1]
    assert sorted(k.split("|")[1] for k in sel.keys) == ["case-0", "case-1"]
    assert sel.n_turn_examples == 2 + 3 and sel.n_fallback == 1
    keep = plan(_cfg(shard, unmeasured="keep"))[1]  # the run config can say otherwise
    assert sorted(k.split("|")[1] for k in keep.keys) == ["case-0", "case-1", "case-2", "case-3"]
    assert plan(_cfg(shard, unmeasured="discard"))[1].n_selected == 1
    row = {"n_turns": 3, "decided_by": "", "dtc": [3, None, 2], "kept_turns": [1, 2, 3], "correct": False}
    assert kept_turn_numbers(row, "dtc+rac") == (1, 2, 3)  # measured older row: its kept turns


# -- failed-parse targets --------------------------------------------------------------------------------------
def test_failed_parse_turns_are_not_targets(tmp_path: Path) -> None:
    t = trajectory(0, "a", n_turns=3)
    bad = msgspec.structs.replace(t.nodes[1], turn=msgspec.structs.replace(t.nodes[1].turn, parse="failed"))
    t = msgspec.structs.replace(t, nodes=(t.nodes[0], bad, t.nodes[2]))
    shard = write_shard(tmp_path / "s.parquet", [scored(t)])
    stats = ExampleStats()
    table, _ = build_examples(_cfg(shard), stats)
    assert table.column("turn").to_pylist() == [1, 3] and stats.failed_parse == 1
    assert build_examples(_cfg(shard, failed_parse=True))[0].num_rows == 3
    chat, _ = build_examples(_cfg(shard, format="chat"))
    train_on = chat.column("train_on").to_pylist()[0]
    roles = [m["role"] for m in chat.column("messages").to_pylist()[0]]
    assert [x for x, r in zip(train_on, roles) if r == "assistant"] == [True, False, True]


# -- shared branch prefixes ------------------------------------------------------------------------------------
def test_path_node_ids_follow_the_tree_naming() -> None:
    assert path_node_ids("r0") == ["r0"]
    assert path_node_ids("r1.2") == ["r1", "r1.1", "r1.2"]
    assert path_node_ids("r1.2.b0.2") == ["r1", "r1.1", "r1.2", "r1.2.b0.1", "r1.2.b0.2"]
    assert path_node_ids("r0.b1.1.b0.1") == ["r0", "r0.b1.1", "r0.b1.1.b0.1"]


def test_shared_branch_prefix_yields_one_example_per_node(tmp_path: Path) -> None:
    t0 = trajectory(0, "a", n_turns=3)
    root = msgspec.structs.replace(t0, nodes=tuple(msgspec.structs.replace(n, node_id=i) for n, i in
                                                   zip(t0.nodes, ("r0", "r0.1", "r0.2"))))  # tree/tree.py naming
    other = trajectory(1, "a", n_turns=3)
    last = msgspec.structs.replace(other.nodes[2], node_id="r0.1.b0.1", parent_id="r0.1", tree_id=root.tree_id)
    branch = msgspec.structs.replace(root, nodes=(root.nodes[0], root.nodes[1], last))
    shard = write_shard(tmp_path / "s.parquet", [scored(root), scored(branch)])
    sel = plan(_cfg(shard))[1]
    assert sel.n_turn_examples == 4 and sel.n_duplicate_turns == 2
    table, _ = build_examples(_cfg(shard))
    assert sorted(table.column("path").to_pylist()) == ["r0", "r0.1", "r0.1.b0.1", "r0.2"]
    assert build_examples(_cfg(shard, dedupe=False))[0].num_rows == 6
    # chat format: the branch keeps the shared turns as context but trains only on its own turn
    chat, _ = build_examples(_cfg(shard, format="chat"))
    assert sum(chat.column("train_on").to_pylist(), []).count(True) == 4


def test_identical_texts_from_different_nodes_are_deduplicated(tmp_path: Path) -> None:
    a = trajectory(0, "a", n_turns=2)
    twin = msgspec.structs.replace(a, nodes=tuple(msgspec.structs.replace(n, node_id=n.node_id.replace("r0", "r7"))
                                                  for n in a.nodes))  # another root wrote the same texts
    shard = write_shard(tmp_path / "s.parquet", [scored(a), scored(twin)])
    stats = ExampleStats()
    table, _ = build_examples(_cfg(shard), stats)
    assert table.num_rows == 2 and stats.duplicates == 2


# -- middle shortening -----------------------------------------------------------------------------------------
def _prompt(n_results: int) -> list[dict[str, str]]:
    record = [(1 + i // 2, OracleReply(request=f"test{i}", matched=(f"test{i}",),
                                       result=f"value {i} " + "finding " * 12, available=True))
              for i in range(n_results)]
    msgs = build_context(o1="A 40-year-old with fever and a new murmur.", record=record, reasoning=[], turn=5,
                         max_turns=8, mode="structured")
    return [{"role": m.role, "content": m.content} for m in msgs] + [
        {"role": "assistant", "content": '{"final_diagnosis": "infective endocarditis"}'}]


@pytest.fixture(scope="module")
def tok():  # type: ignore[no-untyped-def]
    return build_tokenizer([m["content"] for m in _prompt(8)] * 5, vocab_size=400)


def test_shorten_record_drops_the_oldest_results() -> None:
    msgs = _prompt(6)
    assert count_record_items(msgs) == 6
    short = shorten_record(msgs, 3)
    user = short[1]["content"]
    assert "[3 earlier test results omitted]" in user
    assert "test0:" not in user and "test2:" not in user and "test3:" in user and "test5:" in user
    assert "Turn 1:" not in user and "Turn 2:" in user  # turn 1's results are all gone, its header too
    assert user.startswith(msgs[1]["content"].split("\n\n")[0])  # o1 untouched
    assert short[0] == msgs[0] and short[2] == msgs[2]
    assert shorten_record(msgs, 0) == msgs and count_record_items(msgs[:1]) == 0


def test_middle_truncation_keeps_system_o1_latest_results(tok) -> None:  # type: ignore[no-untyped-def]
    msgs, train_on = _prompt(8), [False, False, True]
    full, labels, status, _ = fit_example(tok, msgs, train_on, max_length=100_000)
    assert status == "ok"
    target = len(full) - 60  # too long by 60 tokens
    ids, lab, status, dropped = fit_example(tok, msgs, train_on, max_length=target)
    assert status == "record_shortened" and 1 <= dropped < 8 and len(ids) <= target
    text = tok.decode(ids)
    assert msgs[0]["content"][:40] in text and "40-year-old with fever" in text and "test7:" in text
    assert "test0:" not in text
    assert sum(x != IGNORE for x in lab) == sum(x != IGNORE for x in labels)  # the target is whole
    # the fewest results were dropped: one fewer does not fit
    from medaction.trainers.tokens import _tokenize

    assert _tokenize(tok, shorten_record(msgs, dropped - 1), train_on, max_length=target,
                     truncation="drop")[2] == "dropped_too_long" or dropped == 1
    # left truncation (the old way) cuts the system prompt instead
    left, _, st_left, _ = fit_example(tok, msgs, train_on, max_length=target, truncation="left")
    assert st_left == "left_truncated" and msgs[0]["content"][:40] not in tok.decode(left)
    stats = TokenStats()
    rows = tokenize_rows([{"messages": msgs, "train_on": train_on}] * 2, tok, max_length=target,
                         truncation="middle", packing=False, stats=stats)
    assert stats.record_shortened == 2 and stats.record_items_dropped == 2 * dropped
    assert [r["status"] for r in rows] == ["record_shortened"] * 2 and rows[0]["record_dropped"] == dropped
