"""`vllm`: vLLM's V1 async engine (`vllm.v1.engine.async_llm.AsyncLLM`) in-process, for a GPU actor.

Prefix caching is on (branches of a tree share the system + o1 + record prefix), each request carries its own
seed, and `RequestOutput.num_cached_tokens` is reported as cached tokens. vLLM is imported lazily: it lives behind
the `vllm` extra, which pins its own torch; it cannot share an environment with the `sglang` extra.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec

from medaction.policies.base import Backend, PolicyError
from medaction.policies.backends.chat_ids import prompt_ids
from medaction.policies.parsing.reasoning import split_think
from medaction.policies.types import Completion, Message, SamplingParams


class VLLMConfig(msgspec.Struct, frozen=True, kw_only=True):
    model: str = ""  # HF model id or local dir (required)
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.85
    max_model_len: int = 16384
    dtype: str = "auto"
    enable_prefix_caching: bool = True
    max_num_seqs: int = 256
    engine_kwargs: dict[str, Any] = {}  # any other AsyncEngineArgs field, passed through


class VLLMPolicy:
    def __init__(self, config: VLLMConfig) -> None:
        if not config.model:
            raise ValueError("vllm: config.model (HF id or local dir) is required")
        try:
            from transformers import AutoTokenizer
            from vllm.engine.arg_utils import AsyncEngineArgs
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError as exc:
            raise PolicyError(f"vllm backend needs the `vllm` extra (pip install 'medaction[vllm]'): {exc}") from None
        self.config = config
        args = AsyncEngineArgs(
            model=config.model,
            tensor_parallel_size=config.tensor_parallel_size,
            gpu_memory_utilization=config.gpu_memory_utilization,
            max_model_len=config.max_model_len,
            dtype=config.dtype,
            enable_prefix_caching=config.enable_prefix_caching,
            max_num_seqs=config.max_num_seqs,
            **config.engine_kwargs,
        )
        self.engine = AsyncLLM.from_engine_args(args)
        self.tokenizer = AutoTokenizer.from_pretrained(config.model)
        self.lora_request: Any = None  # set by policies/backends/weights.py on a LoRA update; used by every later request

    def __repr__(self) -> str:
        return f"VLLMPolicy(model={self.config.model!r})"

    def shutdown(self) -> None:
        self.engine.shutdown()

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        from vllm import SamplingParams as VSamplingParams
        from vllm import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        ids = prompt_ids(self.tokenizer, messages)
        sp = VSamplingParams(
            temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
            stop=list(params.stop) or None, seed=int(seed) & 0x7FFF_FFFF,
            output_kind=RequestOutputKind.FINAL_ONLY,
        )
        t0 = time.perf_counter()
        final = None
        try:
            request_id = f"{session}-{uuid.uuid4().hex}"
            lora = {"lora_request": self.lora_request} if self.lora_request is not None else {}
            async for out in self.engine.generate(TokensPrompt(prompt_token_ids=ids), sp, request_id, **lora):
                final = out
        except Exception as exc:  # noqa: BLE001 - engine errors become policy errors; the loop keeps the trajectory
            raise PolicyError(f"vllm: generation failed: {type(exc).__name__}: {exc}") from None
        if final is None or not final.outputs:
            raise PolicyError("vllm: engine returned no output")
        gen = final.outputs[0]
        # The offline engine runs no reasoning parser: a reasoning model's thoughts are inline in gen.text.
        reasoning, text = split_think(gen.text or "")
        return Completion(
            text=text,
            reasoning=reasoning,
            finish_reason=str(gen.finish_reason or ""),  # CompletionOutput: "stop" | "length" | "abort" | None
            prompt_tokens=len(final.prompt_token_ids or ids),
            completion_tokens=len(gen.token_ids),
            cached_tokens=int(getattr(final, "num_cached_tokens", 0) or 0),
            latency_s=time.perf_counter() - t0,
        )


BACKEND = Backend(config_type=VLLMConfig, factory=VLLMPolicy)
