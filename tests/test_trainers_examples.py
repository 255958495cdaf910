"""Example builder: selection (filter, teacher, free-form share, branches, cap) and both formats, on real parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medaction.trainers.config import DataConfig
from medaction.trainers.examples import EXAMPLE_SCHEMA, write_examples
from medaction.trainers.local import build_examples
from medaction.trainers.selection import plan
from tests.support.synthetic import scored, trajectory, write_shard


@pytest.fixture()
def shard(tmp_path: Path) -> Path:
    items = [
        scored(trajectory(0, "a", n_turns=3)),  # kept whole
        scored(trajectory(1, "a", n_turns=4), kept=(1, 2, 4)),  # RAC removed turn 3
        scored(trajectory(2, "b", n_turns=3), kept=(), correct=False),  # discarded
        scored(trajectory(3, "b", n_turns=3, branch=True), kept=(1, 2)),  # truncated, branched
        scored(trajectory(4, "a", n_turns=2, mode="free"), correct=False),
    ]
    return write_shard(tmp_path / "s.parquet", items)


def _cfg(shard: Path, **kw) -> DataConfig:
    return DataConfig(shards=(str(shard),), free_share=None, **kw)


def test_turn_format_dtc_rac_keeps_only_kept_turns(shard: Path) -> None:
    table, sel = build_examples(_cfg(shard))
    rows = table.to_pylist()
    got = sorted((r["case_id"], r["turn"]) for r in rows)
    assert got == [("case-0", 1), ("case-0", 2), ("case-0", 3), ("case-1", 1), ("case-1", 2), ("case-1", 4),
                   ("case-3", 1), ("case-3", 2), ("case-4", 1), ("case-4", 2)]
    assert sel.n_rows == 5 and sel.n_selected == 4 and sel.n_turn_examples == 10
    # The exact prompt of that turn, then the assistant text it wrote; only that text trains.
    r = next(r for r in rows if r["case_id"] == "case-1" and r["turn"] == 4)
    node = trajectory(1, "a", n_turns=4).nodes[3]
    assert [m["content"] for m in r["messages"][:-1]] == [m.content for m in node.messages]
    assert r["messages"][-1] == {"role": "assistant", "content": node.turn.raw}
    assert r["train_on"] == [False, False, True]
    assert r["path"] == node.node_id and r["seed"] == node.seed and r["dtc"] == 1


def test_filters_teacher_branches_and_free_share(shard: Path) -> None:
    assert plan(_cfg(shard, filter="none"))[1].n_turn_examples == 3 + 4 + 3 + 3 + 2
    corr = plan(_cfg(shard, filter="correctness"))[1]
    assert corr.n_selected == 3  # cases 0, 1, 3 (correct)
    assert plan(_cfg(shard, filter="none", teachers=("b",)))[1].n_selected == 2
    assert plan(_cfg(shard, filter="none", branches="none"))[1].n_selected == 4
    assert plan(_cfg(shard, filter="none", branches="only"))[1].n_selected == 1
    no_free = DataConfig(shards=(str(shard),), filter="none", free_share=0.0)
    assert plan(no_free)[1].n_free == 0
    capped = plan(_cfg(shard, filter="none", max_trajectories=2))[1]
    bigger = plan(_cfg(shard, filter="none", max_trajectories=3))[1]
    assert capped.n_selected == 2 and capped.keys < bigger.keys  # a smaller cap is a subset of a larger one


def test_free_share_caps_free_rows(tmp_path: Path) -> None:
    items = [scored(trajectory(c, "a")) for c in range(18)]
    items += [scored(trajectory(c, "a", mode="free", seed=1)) for c in range(10)]
    s = write_shard(tmp_path / "f.parquet", items)
    sel = plan(DataConfig(shards=(str(s),), filter="none", free_share=0.1))[1]
    assert (sel.n_selected, sel.n_free) == (20, 2)  # 2 / 20 = 10%


def test_chat_format_masks_pruned_turns(shard: Path) -> None:
    table, _ = build_examples(_cfg(shard, format="chat"))
    r = next(r for r in table.to_pylist() if r["case_id"] == "case-1")
    roles = [m["role"] for m in r["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user", "assistant"]
    # Turn 3 was removed by RAC: it stays as context without loss.
    assert r["train_on"] == [False, False, True, False, True, False, False, False, True]
    assert r["messages"][3]["content"].startswith("Results of the tests you ordered:")
    trunc = next(r for r in table.to_pylist() if r["case_id"] == "case-3")
    assert sum(m["role"] == "assistant" for m in trunc["messages"]) == 2  # nothing after the last kept turn


def test_examples_parquet_loads_with_messages_column(shard: Path, tmp_path: Path) -> None:
    table, _ = build_examples(_cfg(shard))
    out = tmp_path / "examples.parquet"
    write_examples(table, str(out))
    back = pq.read_table(out)
    assert back.schema.equals(EXAMPLE_SCHEMA)
    assert back.schema.field("messages").type.value_type.names == ["role", "content"]
    try:
        import datasets  # optional: TRL's loader
    except ImportError:
        return
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert ds[0]["messages"][0]["role"] == "system"


def test_bad_record_is_skipped_and_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import pyarrow as pa

    from medaction.scoring.rows import SCHEMA, to_row

    good = to_row(scored(trajectory(0, "a")))
    bad = dict(to_row(scored(trajectory(1, "a"))), trajectory_json="{not json")
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([good, bad], schema=SCHEMA), path)
    table, _ = build_examples(DataConfig(shards=(str(path),), filter="none", free_share=None))
    assert table.num_rows == 3
    assert "case-1" in caplog.text and "trajectory_json" in caplog.text and "bad.parquet" in caplog.text
