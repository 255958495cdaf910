"""Train -> serve -> roll out: LoRA on the offline SmolLM2 for a few steps, then the `hf` policy loads the adapter."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch

from medaction.trainers.config import load_config
from medaction.trainers.local import train_local
from tests.support.synthetic import synthetic_shards

pytestmark = pytest.mark.slow


def test_smollm2_lora_then_hf_policy_generates(tmp_path: Path) -> None:
    from medaction.policies.backends.hf import HFConfig, HFPolicy
    from medaction.policies.types import Message, SamplingParams

    shards = synthetic_shards(tmp_path / "shards", n_cases=4, n_turns=2, n_shards=1)
    cfg = load_config(None, [f"data.shards=['{shards[0]}']", "data.free_share=0.0", "model.loader='smollm2'",
                             "model.max_length=160", "optim.global_batch=4", "optim.micro_batch=2",
                             "optim.lr=1e-3", "optim.max_steps=2", "optim.cpu_threads=1", "lora.r=8",
                             f"output.dir='{tmp_path / 'out'}'"])
    result = train_local(cfg)
    assert result["step"] == 2 and result["tokenisation"]["examples"] == 8
    adapter = Path(result["checkpoint"]) / "model"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()

    tuned = HFPolicy(HFConfig(adapter_dir=str(adapter), threads=1, device="cpu"))
    base = HFPolicy(HFConfig(threads=1, device="cpu"))
    x = torch.tensor([tuned.encode([Message("user", "Case 1: fever and cough.")])])
    with torch.no_grad():
        assert not torch.allclose(tuned.model(x).logits, base.model(x).logits, atol=1e-4)  # the adapter is applied
    msgs = [Message("system", "You are a diagnostician."), Message("user", "Case 2: joint pain. Answer with JSON.")]
    out = asyncio.run(tuned.complete(msgs, session="c2", seed=1, params=SamplingParams(temperature=0.0,
                                                                                      max_tokens=6)))
    assert out.text and 0 < out.completion_tokens <= 6
