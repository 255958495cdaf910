"""SFT configuration: a msgspec Struct tree read from TOML, with `--set a.b=c` overrides.

Paper appendix C defaults: lr 2e-4, 3 epochs, global batch 32; ~10% free-form trajectories mixed in (section 4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from medaction.config import load_config as load_struct

Filter = Literal["none", "correctness", "dtc+rac"]
Format = Literal["turn", "chat"]
Branches = Literal["all", "none", "only"]
Truncation = Literal["drop", "left", "middle"]
Unmeasured = Literal["correctness", "keep", "discard"]


class _Cfg(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Unknown keys are errors: a typo in a config must not silently fall back to a default."""


class DataConfig(_Cfg):
    shards: tuple[str, ...] = ()  # parquet files, directories (read recursively) or globs
    format: Format = "turn"  # turn: one example per kept turn (paper's unit); chat: one per trajectory
    filter: Filter = "dtc+rac"
    # rows DTC cannot measure, under dtc+rac (docs/design.md "What cannot be measured"): correctness | keep | discard
    unmeasured: Unmeasured = "correctness"
    failed_parse: bool = False  # True: turns whose parse failed may still be targets (default: never)
    dedupe: bool = True  # one example per (tree, node): branches share their prefix turns
    teachers: tuple[str, ...] = ()  # policy_id allow-list; empty = every teacher
    origins: tuple[str, ...] = ()  # "rollout" / "gold"; empty = all
    free_share: float | None = 0.1  # target share of free-form trajectories; None = keep as found
    branches: Branches = "all"
    max_trajectories: int | None = None  # data-size cap for scaling curves (applied after selection)
    max_examples: int | None = None
    seed: int = 0  # sub-sampling for free_share / caps is a deterministic hash of (seed, row key)


class ModelConfig(_Cfg):
    loader: str = "hf_dir"  # a registered student loader (see trainers/student.py)
    path: str = ""  # model dir for hf_dir; GGUF/dir override for smollm2
    max_length: int = 2048
    # never cuts the assistant span. middle: drop the fewest oldest test results of the record (system, o1 and the
    # latest result stay; trainers/tokens.py), left-cut only if still too long; left: cut prompt tokens from the
    # start; drop: drop the example
    truncation: Truncation = "middle"
    packing: bool = False


class LoraConfig(_Cfg):
    enabled: bool = True  # False = full fine-tuning
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class OptimConfig(_Cfg):
    lr: float = 2e-4
    epochs: int = 3
    global_batch: int = 32
    micro_batch: int = 4
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_steps: int | None = None  # stop early (smoke runs); schedule length still from the data unless set
    seed: int = 0
    # torch intra-op threads on CPU; 0 = torch's default. On a shared CPU, 1 avoids OpenMP spin-wait collapse
    # (measured here: 2 threads under load ran the tiny model ~30x slower than 1).
    cpu_threads: int = 0


class OutputConfig(_Cfg):
    dir: str = "runs/sft"
    save_every: int = 0  # optimizer steps between checkpoints; 0 = only at the end
    resume_from: str | None = None  # a checkpoint dir, or "latest" = newest under dir
    log_every: int = 1


class RayConfig(_Cfg):
    workers: int = 0  # 0 = local loop in this process; N >= 1 = ray.train TorchTrainer with N workers
    cpus_per_worker: float = 1.0
    use_gpu: bool = False


class TrainConfig(_Cfg):
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    lora: LoraConfig = LoraConfig()
    optim: OptimConfig = OptimConfig()
    output: OutputConfig = OutputConfig()
    ray: RayConfig = RayConfig()


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    return load_struct(path, overrides or [], TrainConfig)
