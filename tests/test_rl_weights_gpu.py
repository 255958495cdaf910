"""Live LoRA loading in the GPU engines (policies/backends/weights.py): vLLM's LoRARequest and SGLang's adapter API.
Run only where the package and a CUDA GPU are present (extras `vllm` / `sglang`); skip with a reason elsewhere.

Model: MEDACTION_GPU_TEST_MODEL (offline dir or HF id), default Qwen/Qwen2.5-0.5B-Instruct. The adapter is made
here with peft (B filled with a constant so the adapter really changes the function)."""

from __future__ import annotations

import importlib.util
import os

import pytest

from medaction.policies.types import Message, SamplingParams

MODEL = os.environ.get("MEDACTION_GPU_TEST_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
MSGS = (Message("system", "You are a physician."), Message("user", "Fever and cough: name one test."))
LORA_KW = {
    "vllm": {"enable_lora": True, "max_lora_rank": 8, "max_loras": 2},
    "sglang": {"enable_lora": True, "max_lora_rank": 8, "lora_target_modules": ["q_proj", "v_proj"],
               "max_loras_per_batch": 2},
}


def _need(pkg: str) -> None:
    if importlib.util.find_spec(pkg) is None:
        pytest.skip(f"{pkg} not installed (pip install 'medaction[{pkg}]'; it pins its own torch)")
    import torch

    if not torch.cuda.is_available():
        pytest.skip(f"{pkg} backend needs a CUDA GPU; none visible")


def _adapter(path, fill: float) -> str:  # type: ignore[no-untyped-def]
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    m = get_peft_model(AutoModelForCausalLM.from_pretrained(MODEL),
                       LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "lora_B" in name:
                p.fill_(fill)
    m.save_pretrained(path)
    return str(path)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["vllm", "sglang"])
async def test_gpu_engine_loads_adapters_live(name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _need(name)
    from medaction.policies.base import build
    from medaction.policies.backends.weights import WeightUpdate, apply_update

    pol = build(name, {"model": MODEL, "engine_kwargs": LORA_KW[name]})
    try:
        params = SamplingParams(temperature=0.0, max_tokens=24)
        base = (await pol.complete(MSGS, session="g", seed=1, params=params)).text
        await apply_update(pol, WeightUpdate(version=1, path=_adapter(tmp_path / "v1", 0.02)))
        v1 = (await pol.complete(MSGS, session="g", seed=1, params=params)).text
        await apply_update(pol, WeightUpdate(version=2, path=_adapter(tmp_path / "v2", 0.0)))
        v2 = (await pol.complete(MSGS, session="g", seed=1, params=params)).text
        assert v1 != base  # the adapter is applied to requests after the update
        assert v2  # the second version serves (a zero adapter; LoRA kernels may round differently from base)
        live = pol.lora_request.lora_int_id if name == "vllm" else pol.lora_name
        assert live in (2, "v2")  # later requests use the newest adapter
    finally:
        pol.shutdown()
