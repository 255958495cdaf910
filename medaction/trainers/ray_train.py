"""Ray Data -> Ray Train: the same accelerate loop on N TorchTrainer workers, each streaming its split of the
tokenised dataset via `ray.train.get_dataset_shard("train")` (nothing is materialised on the driver).

Ray is imported inside functions only (CONTRACTS: trainers use ray.data / ray.train at their edge).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from medaction.trainers.config import DataConfig, ModelConfig, TrainConfig
from medaction.trainers.examples import examples_batch
from medaction.trainers.selection import Selection, plan
from medaction.trainers.student import load_tokenizer
from medaction.trainers.tokens import TOKEN_SCHEMA, tokenize_rows

log = logging.getLogger(__name__)

# Small CPU asks for the data tasks so they can run beside the training workers on a small node.
DATA_TASK_CPUS = 0.25
_TOKENIZERS: dict[ModelConfig, Any] = {}  # one tokenizer per Ray worker process, loaded on first batch


def examples_dataset(cfg: DataConfig) -> tuple[Any, Selection]:
    """A Ray Dataset of examples (EXAMPLE_SCHEMA): read_parquet over the shards + map_batches(example builder)."""
    import ray.data

    files, sel = plan(cfg)
    ds = ray.data.read_parquet([str(f) for f in files], num_cpus=DATA_TASK_CPUS)
    ds = ds.map_batches(examples_batch, fn_kwargs={"cfg": cfg, "turns": sel.turns}, batch_format="pyarrow",
                        batch_size=64, num_cpus=DATA_TASK_CPUS)
    if cfg.max_examples is not None:
        ds = ds.limit(cfg.max_examples)
    return ds, sel


def _tokenize_batch(batch: pa.Table, model: ModelConfig) -> pa.Table:
    tok = _TOKENIZERS.get(model)
    if tok is None:
        tok = _TOKENIZERS[model] = load_tokenizer(model)
    rows = tokenize_rows(batch.to_pylist(), tok, max_length=model.max_length, truncation=model.truncation,
                         packing=model.packing)
    return pa.Table.from_pylist(rows, schema=TOKEN_SCHEMA)


def tokens_dataset(cfg: TrainConfig) -> tuple[Any, Selection]:
    ds, sel = examples_dataset(cfg.data)
    ds = ds.map_batches(_tokenize_batch, fn_kwargs={"model": cfg.model}, batch_format="pyarrow", batch_size=64,
                        num_cpus=DATA_TASK_CPUS)
    return ds, sel


def n_examples(cfg: TrainConfig, sel: Selection) -> int:
    n = sel.n_turn_examples if cfg.data.format == "turn" else sel.n_selected
    return min(n, cfg.data.max_examples) if cfg.data.max_examples is not None else n


def _worker(config: dict[str, Any]) -> None:
    import ray.train

    from medaction.trainers.loop import train_loop
    from medaction.trainers.student import load_student

    cfg = msgspec.convert(config["cfg"], TrainConfig)
    shard = ray.train.get_dataset_shard("train")
    rank = ray.train.get_context().get_world_rank()

    # this worker's counts (dropped examples are logged by the data tasks)
    seen = {"left_truncated": 0, "record_shortened": 0, "record_items_dropped": 0}

    def batches(epoch: int):
        for b in shard.iter_batches(batch_size=cfg.optim.micro_batch, batch_format="pyarrow"):
            rows = b.to_pylist()
            seen["left_truncated"] += sum(r["status"] == "left_truncated" for r in rows)
            seen["record_shortened"] += sum(r["status"] == "record_shortened" for r in rows)
            seen["record_items_dropped"] += sum(r.get("record_dropped") or 0 for r in rows)
            yield rows

    def report(metrics: dict[str, Any], checkpoint: Path | None) -> None:
        ckpt = ray.train.Checkpoint.from_directory(str(checkpoint)) if checkpoint and rank == 0 else None
        extra = {"checkpoint_dir": str(checkpoint) if checkpoint else "",
                 "left_truncated_rank": seen["left_truncated"],
                 "record_shortened_rank": seen["record_shortened"],
                 "record_items_dropped_rank": seen["record_items_dropped"]}
        ray.train.report({**metrics, **extra}, checkpoint=ckpt)

    model, tok = load_student(cfg.model)
    train_loop(cfg, model, tok, batches, config["n_examples"], report)


def train_ray(cfg: TrainConfig) -> dict[str, Any]:
    """Run the SFT loop on `cfg.ray.workers` Ray Train workers; returns the last reported metrics."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    if cfg.ray.workers < 1:
        raise ValueError("ray.workers must be >= 1 for the Ray Train path")
    out = Path(cfg.output.dir).resolve()
    cfg = msgspec.structs.replace(cfg, output=msgspec.structs.replace(cfg.output, dir=str(out)))
    ds, sel = tokens_dataset(cfg)
    log.info("selection %s", sel.report())
    trainer = TorchTrainer(
        _worker,
        train_loop_config={"cfg": msgspec.to_builtins(cfg), "n_examples": n_examples(cfg, sel)},
        scaling_config=ScalingConfig(num_workers=cfg.ray.workers, use_gpu=cfg.ray.use_gpu,
                                     resources_per_worker={"CPU": cfg.ray.cpus_per_worker}),
        run_config=RunConfig(storage_path=str(out / "ray"), name="sft"),
        datasets={"train": ds},
    )
    result = trainer.fit()
    metrics = dict(result.metrics or {})
    metrics["selection"] = sel.report()
    metrics["ray_checkpoint"] = result.checkpoint.path if result.checkpoint else None
    return metrics
