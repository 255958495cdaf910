"""A minimal on-policy GRPO loop over the rollout service (docs/rl.md, "On-policy loop"): an example and a test
of the plumbing (rollout -> rewards -> update -> publish adapter -> next rollout on the new version), not a claim
that a 135M model learns diagnosis in a few steps.

Per iteration: `RolloutService.rollout` returns one group per case (G root trajectories, rewards from
scoring/rewards.py); each trajectory's return R_i gets the group-normalised advantage A_i = (R_i - mean_g) /
(std_g + eps); every turn of trajectory i is trained with the policy-gradient loss
    L = - sum_i A_i * mean_tokens log pi(turn text | turn prompt) / N_turns  (- entropy_coef * mean token entropy)
on the trainer's own LoRA copy of the policy model (one optimizer step per iteration: the batch is on-policy, so
the PPO ratio is 1 and clipping is moot), then the adapter is saved to `out_dir/adapter-v{n}` and pushed to the
live policy actors as version n (`RolloutService.update_weights`). The next rollout runs on version n.

The prompt of a turn is the recorded `node.messages`, tokenised and truncated exactly as the `hf` policy does
(policies/chat_ids.prompt_ids, keep the last `max_prompt_tokens`); the completion is the turn's text
re-tokenised (backends return text, not ids). A turn produced by the loop's repair retry was sampled from the
longer repair prompt, which the node does not record: it is trained on the original prompt (an approximation,
named in docs/rl.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from medaction.envs.types import Environment
from medaction.policies.backends.chat_ids import prompt_ids
from medaction.policies.types import Message, SamplingParams
from medaction.scoring.rewards import RewardConfig, group_advantages

log = logging.getLogger(__name__)


class GRPOConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    iterations: int = 3  # rollouts; an update + publish follows each one but the last (versions 0..iterations-1)
    group_size: int = 4
    max_turns: int = 2
    params: SamplingParams = SamplingParams(temperature=1.0, max_tokens=32)
    seed: int = 0
    seed_stride: int = 1  # run seed of iteration i = seed + i * seed_stride
    lr: float = 2e-3
    lora_r: int = 8
    lora_alpha: int = 16
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    entropy_coef: float = 0.0
    max_prompt_tokens: int = 256  # = the hf policy's max_prompt_tokens (both sides truncate alike)
    threads: int = 1  # torch threads of the trainer and of the policy actor
    max_batch: int = 8
    rewards: RewardConfig = RewardConfig()
    probe_seed: int = 1234  # a fixed prompt + seed sampled after every publish (shows the served policy changed)
    out_dir: str = "runs/grpo"


class IterationLog(msgspec.Struct, kw_only=True):
    iteration: int
    version: int  # weights version that produced this iteration's rollout
    returns: list[float]
    mean_return: float
    advantages: list[float]
    loss: float | None  # None on the last iteration (no update)
    trained_turns: int
    published: int | None  # the version pushed after this iteration
    lag: int | None
    rollout_s: float
    update_s: float
    probe: str  # probe completion on `version`
    rows: list[dict[str, Any]] = []


def turn_examples(batch: Any, max_prompt_tokens: int, tokenizer: Any, *, keep_zero: bool = False,
                  ) -> list[tuple[list[int], list[int], float]]:
    """(prompt ids, completion ids, advantage) for every turn of every trajectory with a non-zero advantage; with
    `keep_zero` (an entropy bonus is on) zero-advantage turns too, since the entropy term applies to every sample."""
    out = []
    for g in batch.groups:
        adv = group_advantages(g.returns)
        for tr, a in zip(g.trajectories, adv, strict=True):
            if a == 0.0 and not keep_zero:
                continue
            for n in tr.scored.trajectory.nodes:
                text = n.turn.raw
                if not text or not n.messages:
                    continue
                p = prompt_ids(tokenizer, n.messages)[-max_prompt_tokens:]
                c = tokenizer(text, add_special_tokens=False)["input_ids"]
                if tokenizer.eos_token_id is not None:
                    c = [*c, tokenizer.eos_token_id]
                out.append((p, c, a))
    return out


def pg_step(model: Any, opt: Any, examples: Sequence[tuple[list[int], list[int], float]], *,
            entropy_coef: float) -> float:
    """One optimizer step of L = -sum A * mean logp / N (- entropy_coef * entropy); per-example backward."""
    import torch

    model.train()
    opt.zero_grad(set_to_none=True)
    total = 0.0
    n = max(1, len(examples))
    for p, c, a in examples:
        ids = torch.tensor([p + c])
        logits = model(input_ids=ids).logits[0, len(p) - 1 : -1].float()
        logp = torch.log_softmax(logits, -1)
        tok = logp.gather(-1, torch.tensor(c).unsqueeze(-1)).squeeze(-1)
        loss = -a * tok.mean()
        if entropy_coef:
            loss = loss - entropy_coef * -(logp.exp() * logp).sum(-1).mean()
        (loss / n).backward()
        total += float(loss.detach()) / n
    if examples:
        torch.nn.utils.clip_grad_norm_([q for q in model.parameters() if q.requires_grad], 1.0)
        opt.step()
    model.eval()
    return total


def run_grpo(cases: Sequence[Environment], cfg: GRPOConfig = GRPOConfig(), *,
             on_iteration: Callable[[IterationLog], None] | None = None) -> list[IterationLog]:
    """The loop; needs Ray (started locally when absent) and the offline SmolLM2 (`hf` backend)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from medaction.engine.config import TeacherConfig
    from medaction.engine.rollout_service import RolloutService
    from medaction.trainers.config import ModelConfig
    from medaction.trainers.student import load_student

    torch.manual_seed(cfg.seed)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = load_student(ModelConfig(loader="smollm2"))
    model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                                             target_modules=list(cfg.target_modules), task_type="CAUSAL_LM"))
    model.eval()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.0)
    teacher = TeacherConfig(id="smollm2-grpo", backend="hf", max_concurrency=cfg.max_batch, config={
        "max_prompt_tokens": cfg.max_prompt_tokens, "threads": cfg.threads, "max_batch": cfg.max_batch})
    probe_msgs = (Message("system", "You are a physician."), Message("user", "A patient has fever and cough. "
                                                                              "Name one test to order."))
    logs: list[IterationLog] = []
    with RolloutService(teacher, rewards=cfg.rewards) as svc:
        for it in range(cfg.iterations):
            t0 = time.perf_counter()
            batch = svc.rollout(cases, group_size=cfg.group_size, params=cfg.params, max_turns=cfg.max_turns,
                                seed=cfg.seed + it * cfg.seed_stride, trainer_step=it)
            t1 = time.perf_counter()
            version = batch.stats["published_version"]
            probe, pv = svc.sample(probe_msgs, seed=cfg.probe_seed, params=cfg.params)
            if pv != version:  # nothing else publishes here: a mismatch is a bug in the version plumbing
                raise RuntimeError(f"grpo: probe served by version {pv}, rollout by {version}")
            returns = [r for g in batch.groups for r in g.returns]
            advs = [a for g in batch.groups for a in group_advantages(g.returns)]
            loss, trained, published = None, 0, None
            if it < cfg.iterations - 1:
                ex = turn_examples(batch, cfg.max_prompt_tokens, tok, keep_zero=cfg.entropy_coef > 0)
                trained = len(ex)
                loss = pg_step(model, opt, ex, entropy_coef=cfg.entropy_coef)
                published = version + 1
                path = out / f"adapter-v{published}"
                model.save_pretrained(path)
                svc.update_weights(str(path), version=published)
            rec = IterationLog(iteration=it, version=version, returns=returns,
                               mean_return=sum(returns) / max(1, len(returns)), advantages=advs, loss=loss,
                               trained_turns=trained, published=published, lag=batch.stats["max_lag"],
                               rollout_s=t1 - t0, update_s=time.perf_counter() - t1, probe=probe,
                               rows=batch.rows)
            log.info("grpo iteration %d: version %d mean return %.4f loss %s trained turns %d lag %s "
                     "rollout %.1fs update %.1fs", it, version, rec.mean_return, loss, trained, rec.lag,
                     rec.rollout_s, rec.update_s)
            logs.append(rec)
            if on_iteration is not None:
                on_iteration(rec)
    (out / "grpo_log.jsonl").write_text("".join(
        json.dumps({k: v for k, v in msgspec.to_builtins(r).items() if k != "rows"}) + "\n" for r in logs))
    return logs
