"""The in-process path: shards -> examples -> tokens -> train_loop, no Ray (small runs, tests, one GPU)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from medaction.trainers.config import DataConfig, TrainConfig
from medaction.trainers.examples import ExampleStats, examples_from_rows, examples_table
from medaction.trainers.loop import MicroBatches, TrainResult, train_loop
from medaction.trainers.selection import Selection, plan
from medaction.trainers.student import load_student
from medaction.trainers.tokens import TokenStats, tokenize_rows

log = logging.getLogger(__name__)


def build_examples(cfg: DataConfig, stats: ExampleStats | None = None) -> tuple[pa.Table, Selection]:
    """Every selected example as one table (EXAMPLE_SCHEMA), read shard by shard."""
    files, sel = plan(cfg)
    rows: list[dict[str, Any]] = []
    seen: set[bytes] = set()
    for f in files:
        rows.extend(examples_from_rows(pq.read_table(f).to_pylist(), cfg, sel.turns, source=str(f), stats=stats,
                                       seen=seen))
    if cfg.max_examples is not None:
        rows = rows[: cfg.max_examples]
    return examples_table(rows), sel


def micro_batches(rows: list[dict[str, Any]], micro: int, seed: int) -> MicroBatches:
    def gen(epoch: int) -> Iterator[list[dict[str, Any]]]:
        order = np.random.default_rng(seed + epoch).permutation(len(rows))  # reproducible, so resume lines up
        for i in range(0, len(order), micro):
            yield [rows[j] for j in order[i : i + micro]]

    return gen


def print_reporter(log_path: Path | None = None):  # -> Reporter
    def report(metrics: dict[str, Any], checkpoint: Path | None) -> None:
        line = dict(metrics, checkpoint=str(checkpoint) if checkpoint else None)
        log.info("train %s", line)
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("a") as fh:
                fh.write(json.dumps(line) + "\n")

    return report


def train_local(cfg: TrainConfig, report=None) -> TrainResult:
    model, tok = load_student(cfg.model)
    ex_stats = ExampleStats()
    table, sel = build_examples(cfg.data, ex_stats)
    stats = TokenStats()
    rows = tokenize_rows(table.to_pylist(), tok, max_length=cfg.model.max_length, truncation=cfg.model.truncation,
                         packing=cfg.model.packing, stats=stats)
    if not rows:
        raise ValueError(f"no training examples after selection/tokenisation: {sel.report()} {stats}")
    log.info("selection %s; tokenisation %s", sel.report(), stats)
    out = Path(cfg.output.dir)
    report = report or print_reporter(out / "metrics.jsonl")
    result = train_loop(cfg, model, tok, micro_batches(rows, cfg.optim.micro_batch, cfg.optim.seed), len(rows),
                        report)
    result["selection"] = sel.report()
    result["examples"] = {f: getattr(ex_stats, f) for f in ex_stats.__struct_fields__}
    result["tokenisation"] = {f: getattr(stats, f) for f in stats.__struct_fields__}
    return result
