"""`sglang`: SGLang's offline `Engine` in-process (RadixAttention prefix cache on by default).

Per-request seed via `sampling_params["sampling_seed"]` (honoured by SGLang's sampler; bitwise reproducibility also
needs `enable_deterministic_inference`, passable in `engine_kwargs`); `meta_info.cached_tokens` is reported.
Imported lazily: lives behind the `sglang` extra, which cannot share an environment with the `vllm` extra.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec

from medaction.policies.base import Backend, PolicyError
from medaction.policies.backends.chat_ids import prompt_ids
from medaction.policies.parsing.reasoning import split_think
from medaction.policies.types import Completion, Message, SamplingParams


class SGLangConfig(msgspec.Struct, frozen=True, kw_only=True):
    model: str = ""  # HF model id or local dir (required)
    tp_size: int = 1
    mem_fraction_static: float = 0.8
    context_length: int = 16384
    engine_kwargs: dict[str, Any] = {}  # any other sglang ServerArgs field, passed through


class SGLangPolicy:
    def __init__(self, config: SGLangConfig) -> None:
        if not config.model:
            raise ValueError("sglang: config.model (HF id or local dir) is required")
        try:
            import sglang
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise PolicyError(
                f"sglang backend needs the `sglang` extra (pip install 'medaction[sglang]'): {exc}"
            ) from None
        self.config = config
        self.engine = sglang.Engine(
            model_path=config.model, tp_size=config.tp_size, mem_fraction_static=config.mem_fraction_static,
            context_length=config.context_length, **config.engine_kwargs,
        )
        self.tokenizer = AutoTokenizer.from_pretrained(config.model)
        self.lora_name: str | None = None  # set by policies/backends/weights.py on a LoRA update; used by later requests

    def __repr__(self) -> str:
        return f"SGLangPolicy(model={self.config.model!r})"

    def shutdown(self) -> None:
        self.engine.shutdown()

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        ids = prompt_ids(self.tokenizer, messages)
        sp: dict[str, Any] = {
            "temperature": params.temperature, "top_p": params.top_p, "max_new_tokens": params.max_tokens,
            "sampling_seed": int(seed) & 0x7FFF_FFFF,
        }
        if params.stop:
            sp["stop"] = list(params.stop)
        t0 = time.perf_counter()
        try:
            lora = {"lora_path": self.lora_name} if self.lora_name else {}
            out = await self.engine.async_generate(input_ids=ids, sampling_params=sp, **lora)
        except Exception as exc:  # noqa: BLE001 - engine errors become policy errors
            raise PolicyError(f"sglang: generation failed: {type(exc).__name__}: {exc}") from None
        if isinstance(out, list):
            out = out[0]
        meta = out.get("meta_info") or {}
        # meta_info.finish_reason is {"type": "stop" | "length" | "abort", ...} (None while streaming)
        finish = meta.get("finish_reason")
        finish_type = finish.get("type") if isinstance(finish, dict) else finish
        reasoning, text = split_think(str(out.get("text", "")))  # no reasoning parser offline: thoughts inline
        return Completion(
            text=text,
            reasoning=reasoning,
            finish_reason=str(finish_type or ""),
            prompt_tokens=int(meta.get("prompt_tokens", len(ids)) or 0),
            completion_tokens=int(meta.get("completion_tokens", 0) or 0),
            cached_tokens=int(meta.get("cached_tokens", 0) or 0),
            latency_s=time.perf_counter() - t0,
        )


BACKEND = Backend(config_type=SGLangConfig, factory=SGLangPolicy)
