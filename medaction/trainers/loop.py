"""The accelerate SFT loop: one copy, run locally or inside each Ray Train worker.

bf16 autocast on GPU, fp32 on CPU; gradient accumulation to the global batch (global = micro * accum * world);
cosine schedule with linear warm-up; LoRA (peft) by default or full fine-tuning; checkpoints every N optimizer
steps and at the end; resume from a checkpoint (optimizer, scheduler, RNG, adapter/weights and data position).
Data arrives as an injected `MicroBatches(epoch)` iterator so the same loop reads a local list or a streaming
Ray Data shard; metrics and checkpoints go through an injected `Reporter`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from medaction.trainers.config import TrainConfig
from medaction.trainers.tokens import collate

log = logging.getLogger(__name__)

MicroBatches = Callable[[int], Iterator[list[dict[str, Any]]]]  # epoch -> micro-batches of tokenised rows


class Reporter(Protocol):
    def __call__(self, metrics: dict[str, Any], checkpoint: Path | None) -> None: ...


class TrainResult(dict):  # plain dict of final metrics (JSON-able)
    pass


def accumulation(cfg: TrainConfig, world: int) -> int:
    per_step = cfg.optim.micro_batch * world
    if cfg.optim.global_batch % per_step:
        raise ValueError(f"optim.global_batch {cfg.optim.global_batch} is not a multiple of micro_batch "
                         f"{cfg.optim.micro_batch} x workers {world}")
    return cfg.optim.global_batch // per_step


def total_steps(cfg: TrainConfig, n_examples: int) -> int:
    per_epoch = max(1, math.ceil(n_examples / cfg.optim.global_batch))
    steps = per_epoch * cfg.optim.epochs
    return min(steps, cfg.optim.max_steps) if cfg.optim.max_steps else steps


def wrap_lora(model: Any, cfg: TrainConfig) -> Any:
    if not cfg.lora.enabled:
        return model
    from peft import LoraConfig, get_peft_model

    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    targets = [t for t in cfg.lora.target_modules if t in names]
    if not targets:
        raise ValueError(f"lora.target_modules {cfg.lora.target_modules} match no module of the student")
    lcfg = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=targets, task_type="CAUSAL_LM")
    return get_peft_model(model, lcfg)


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    ckpts = sorted(Path(out_dir).glob("checkpoint-*"))
    return ckpts[-1] if ckpts else None


def _resolve_resume(cfg: TrainConfig) -> Path | None:
    spec = cfg.output.resume_from
    if not spec:
        return None
    path = latest_checkpoint(cfg.output.dir) if spec == "latest" else Path(spec)
    if path is None or not (path / "trainer_state.json").is_file():
        raise FileNotFoundError(f"output.resume_from: no checkpoint at {spec!r} (dir {cfg.output.dir})")
    return path


def train_loop(cfg: TrainConfig, model: Any, tokenizer: Any, batches: MicroBatches, n_examples: int,
               report: Reporter) -> TrainResult:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_cosine_schedule_with_warmup

    mixed = "bf16" if torch.cuda.is_available() else "no"
    if cfg.optim.cpu_threads and not torch.cuda.is_available():
        torch.set_num_threads(cfg.optim.cpu_threads)
    acc = Accelerator(mixed_precision=mixed, cpu=not torch.cuda.is_available())
    set_seed(cfg.optim.seed)
    ga = accumulation(cfg, acc.num_processes)
    steps = total_steps(cfg, n_examples)
    warmup = math.ceil(cfg.optim.warmup_ratio * steps)

    model = wrap_lora(model, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    sched = get_cosine_schedule_with_warmup(opt, warmup, steps)
    model, opt, sched = acc.prepare(model, opt, sched)

    step, start_epoch, skip = 0, 0, 0
    resume = _resolve_resume(cfg)
    if resume is not None:
        acc.load_state(str(resume / "state"))
        st = json.loads((resume / "trainer_state.json").read_text())
        step, start_epoch, skip = st["step"], st["epoch"], st["micro_in_epoch"]
        log.info("resumed from %s at step %d (epoch %d, micro-batch %d)", resume, step, start_epoch, skip)

    pad = tokenizer.pad_token_id
    out_dir = Path(cfg.output.dir)
    tokens = 0
    t0 = time.perf_counter()
    last_loss = float("nan")

    def save(epoch: int, micro: int) -> Path:
        ckpt = out_dir / f"checkpoint-{step:06d}"
        acc.save_state(str(ckpt / "state"))  # collective: every process calls it
        if acc.is_main_process:
            acc.unwrap_model(model).save_pretrained(ckpt / "model")
            tokenizer.save_pretrained(ckpt / "model")
            state = {"step": step, "epoch": epoch, "micro_in_epoch": micro, "loss": last_loss}
            (ckpt / "trainer_state.json").write_text(json.dumps(state))
        acc.wait_for_everyone()
        return ckpt

    def metrics(epoch: int) -> dict[str, Any]:
        dt = time.perf_counter() - t0
        m = {"step": step, "epoch": epoch, "loss": last_loss, "lr": sched.get_last_lr()[0], "tokens": tokens,
             "steps_per_s": step_run / dt if dt else 0.0, "tokens_per_s": tokens / dt if dt else 0.0}
        if torch.cuda.is_available():
            m["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        return m

    step_run = 0
    done = step >= steps
    model.train()
    epoch = start_epoch
    for epoch in range(start_epoch, cfg.optim.epochs):
        if done:
            break
        micro, pending, loss_sum = 0, 0, 0.0
        for mb in batches(epoch):
            micro += 1
            if epoch == start_epoch and micro <= skip:
                continue  # resuming: these micro-batches were consumed before the checkpoint
            batch = {k: v.to(acc.device) for k, v in collate(mb, pad).items()}
            tokens += int(batch["attention_mask"].sum()) * acc.num_processes
            pending += 1
            sync = pending == ga
            ctx = acc.no_sync(model) if not sync else _nullcontext()
            with ctx, acc.autocast():
                loss = model(**batch).loss / ga
                acc.backward(loss)
            loss_sum += float(loss.detach())
            if not sync:
                continue
            step, step_run, last_loss = _optimizer_step(acc, model, opt, sched, cfg, step, step_run, loss_sum)
            pending, loss_sum = 0, 0.0
            ckpt = save(epoch, micro) if cfg.output.save_every and step % cfg.output.save_every == 0 else None
            if step % max(1, cfg.output.log_every) == 0 or ckpt is not None:
                report(metrics(epoch), ckpt)
            if step >= steps:
                done = True
                break
        if pending and not done:  # a partial accumulation at the epoch end still updates (rescaled)
            _finish_partial(acc, params, ga, pending)
            step, step_run, last_loss = _optimizer_step(acc, model, opt, sched, cfg, step, step_run,
                                                        loss_sum * ga / pending)
            done = step >= steps
        skip = 0
    # The end checkpoint records epoch = epochs: resuming from it has nothing left to run.
    final = save(cfg.optim.epochs, 0)
    m = metrics(epoch)
    report(m, final)
    acc.end_training()
    return TrainResult(m, checkpoint=str(final), total_steps=steps)


def _optimizer_step(acc: Any, model: Any, opt: Any, sched: Any, cfg: TrainConfig, step: int, step_run: int,
                    loss_sum: float) -> tuple[int, int, float]:
    if cfg.optim.max_grad_norm:
        acc.clip_grad_norm_(model.parameters(), cfg.optim.max_grad_norm)
    opt.step()
    sched.step()
    opt.zero_grad(set_to_none=True)
    return step + 1, step_run + 1, loss_sum


def _finish_partial(acc: Any, params: list[Any], ga: int, pending: int) -> None:
    """Rescale a partial accumulation to a mean over its micro-batches; all-reduce it by hand since the last
    backward ran under no_sync (workers see equal row counts, so they all reach this point together)."""
    import torch.distributed as dist

    world = acc.num_processes
    for p in params:
        if p.grad is None:
            continue
        if world > 1:
            dist.all_reduce(p.grad)
            p.grad.div_(world)
        p.grad.mul_(ga / pending)


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
