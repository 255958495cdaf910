"""Weight updates of a live policy without restarting it (docs/rl.md, "Weight updates"): a LoRA adapter or full
weights from a local path, tagged with a version.

`apply_update(policy, update)` dispatches on the backend: a policy with its own `load_weights(update)` method wins;
otherwise the built-in backends are handled here, each with its engine's own mechanism, imported lazily:
- `hf` (HFPolicy): LoRA = a peft adapter attached unmerged (`PeftModel.from_pretrained`, then `load_adapter` +
  `set_adapter` for later versions; the previous adapter is deleted), full = `from_pretrained(path)`; the swap
  holds the policy's forward lock, so no generation step ever mixes two versions.
- `vllm` (VLLMPolicy): LoRA = a `vllm.lora.request.LoRARequest(name, int_id, path)` attached to every later
  request (the engine must run with `enable_lora=True`, `max_lora_rank` >= the adapter's rank in
  `engine_kwargs`); requests already running keep the LoRARequest they started with. Full = `collective_rpc(
  "reload_weights")` after pointing the model config at the new path is engine-version specific: not offered.
- `sglang` (SGLangPolicy): LoRA = the engine's load_lora_adapter (name, path) then `lora_path=name` on later
  requests (the engine needs `enable_lora=True`, `max_lora_rank`/`lora_target_modules` in `engine_kwargs`), the
  previous adapter unloaded; full = update_weights_from_disk(path). Awaited through the engine's tokenizer manager.
Backends without weights (scripted, heuristic, sim, openai_http) refuse with PolicyError.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import msgspec

from medaction.policies.base import PolicyError

log = logging.getLogger(__name__)
WeightKind = Literal["lora", "full"]


class WeightUpdate(msgspec.Struct, frozen=True, kw_only=True):
    version: int  # > the live version; written on every turn the new weights produce
    path: str  # local dir: a peft adapter (kind "lora") or a transformers checkpoint (kind "full")
    kind: WeightKind = "lora"
    name: str = ""  # adapter name inside the engine; "" = f"v{version}"

    def adapter_name(self) -> str:
        return self.name or f"v{self.version}"


def check_update(update: WeightUpdate) -> None:
    if update.kind not in ("lora", "full"):
        raise PolicyError(f"weights: kind must be 'lora' or 'full', got {update.kind!r}")
    p = Path(update.path)
    marker = "adapter_config.json" if update.kind == "lora" else "config.json"
    if not (p / marker).is_file():
        raise PolicyError(f"weights: {update.path}: no {marker} (not a {update.kind} checkpoint dir)")


async def apply_update(policy: Any, update: WeightUpdate, *, on_live: Callable[[], None] | None = None) -> None:
    """Load `update` into `policy` in place. Raises PolicyError when the backend cannot take it.

    `on_live` is called at the moment the new weights serve (for hf: inside the forward lock, before any batch can
    run on them), so a caller that bumps its version there never labels new-weight output with the old version."""
    check_update(update)
    live = on_live or (lambda: None)
    own = getattr(policy, "load_weights", None)
    if own is not None:
        out = own(update)
        if inspect.isawaitable(out):
            await out
        live()
        return
    kind = type(policy).__name__
    if kind == "HFPolicy":
        await asyncio.to_thread(_hf_apply, policy, update, live)
    elif kind == "VLLMPolicy":
        _vllm_apply(policy, update)
        live()
    elif kind == "SGLangPolicy":
        await _sglang_apply(policy, update)
        live()
    else:
        raise PolicyError(f"weights: backend {kind} has no weights to update")


def _hf_apply(policy: Any, update: WeightUpdate, live: Callable[[], None]) -> None:
    name = update.adapter_name()
    with policy._lock:  # the forward lock: waits for the running batch, blocks the next one during the swap
        model = policy.model
        if update.kind == "full":
            import torch
            from transformers import AutoModelForCausalLM

            dtype = next(model.parameters()).dtype
            new = AutoModelForCausalLM.from_pretrained(update.path, dtype=dtype)
            policy.model = new.to(policy.device).eval()
            live()
            del model
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            return
        from peft import PeftModel

        if isinstance(model, PeftModel):
            old = model.active_adapter
            model.load_adapter(update.path, adapter_name=name, is_trainable=False)
            model.set_adapter(name)
            if old and old != name:
                model.delete_adapter(old)
        else:
            model = PeftModel.from_pretrained(model, update.path, adapter_name=name, is_trainable=False)
        policy.model = model.to(policy.device).eval()
        live()


def _vllm_apply(policy: Any, update: WeightUpdate) -> None:
    if update.kind == "full":
        raise PolicyError("weights: vllm backend takes LoRA adapters only here (start a new engine for full weights)")
    from vllm.lora.request import LoRARequest

    # int ids must be unique per adapter and > 0; the version is both
    policy.lora_request = LoRARequest(update.adapter_name(), max(1, update.version), update.path)


async def _sglang_apply(policy: Any, update: WeightUpdate) -> None:
    # Engine.load_lora_adapter / update_weights_from_disk call run_until_complete on the engine's loop, which is the
    # loop this coroutine runs on inside an async actor: await the tokenizer manager's coroutines instead.
    from sglang.srt.managers.io_struct import (
        LoadLoRAAdapterReqInput,
        UnloadLoRAAdapterReqInput,
        UpdateWeightFromDiskReqInput,
    )

    tm = policy.engine.tokenizer_manager
    if update.kind == "full":
        out = await tm.update_weights_from_disk(UpdateWeightFromDiskReqInput(model_path=update.path), None)
        ok = out[0] if isinstance(out, tuple) else getattr(out, "success", True)
        if not ok:
            raise PolicyError(f"weights: sglang update_weights_from_disk({update.path}) failed: {out}")
        return
    old = getattr(policy, "lora_name", None)
    out = await tm.load_lora_adapter(LoadLoRAAdapterReqInput(lora_name=update.adapter_name(),
                                                             lora_path=update.path), None)
    if getattr(out, "success", True) is False:
        raise PolicyError(f"weights: sglang load_lora_adapter({update.path}) failed: {out}")
    policy.lora_name = update.adapter_name()
    if old and old != policy.lora_name:
        try:
            await tm.unload_lora_adapter(UnloadLoRAAdapterReqInput(lora_name=old), None)
        except Exception as exc:  # noqa: BLE001 - a leaked old adapter costs memory, not correctness
            log.warning("sglang: could not unload adapter %s: %s", old, exc)
