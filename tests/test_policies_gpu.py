"""vLLM / SGLang backends: run only where the package and a CUDA GPU are present (extras `vllm` / `sglang`).

Model: MEDACTION_GPU_TEST_MODEL (a local dir or HF id available offline), default Qwen/Qwen2.5-0.5B-Instruct."""

from __future__ import annotations

import importlib.util
import os

import pytest

from medaction.policies.base import build
from medaction.policies.types import Message, SamplingParams

MODEL = os.environ.get("MEDACTION_GPU_TEST_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
MSGS = (Message("system", "You are a physician. " * 40), Message("user", "Fever and cough: name one test."))


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def _need(pkg: str) -> None:
    if importlib.util.find_spec(pkg) is None:
        pytest.skip(f"{pkg} not installed (pip install 'medaction[{pkg}]'; it pins its own torch)")
    if not _cuda():
        pytest.skip(f"{pkg} backend needs a CUDA GPU; none visible")


def test_backends_are_registered_without_importing_engines() -> None:
    from medaction.policies.base import available, config_type

    assert {"vllm", "sglang"} <= set(available())
    assert config_type("vllm")().enable_prefix_caching is True


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["vllm", "sglang"])
async def test_gpu_backend_generates_with_seed_and_cache(name: str) -> None:
    _need(name)
    pol = build(name, {"model": MODEL})
    try:
        params = SamplingParams(temperature=0.8, max_tokens=16)
        a = await pol.complete(MSGS, session="g", seed=3, params=params)
        b = await pol.complete(MSGS, session="g", seed=3, params=params)
        assert a.text and a.text == b.text
        assert 0 < a.completion_tokens <= 16 and a.prompt_tokens > 100
        assert b.cached_tokens > 0  # prefix caching reused the shared system prompt
    finally:
        pol.shutdown()


def test_missing_model_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="config.model"):
        build("vllm", {})
