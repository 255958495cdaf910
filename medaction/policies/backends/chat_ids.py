"""Messages -> prompt token ids with a tokenizer's chat template: shared by the in-process backends (hf, vLLM,
SGLang) so the three render prompts identically (and branches keep identical, cacheable prefixes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medaction.policies.types import Message


def prompt_ids(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    """Chat-template ids with the generation prompt; a tokenizer without a template gets a plain transcript."""
    chat = [{"role": m.role, "content": m.content} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
        # transformers 5 returns a BatchEncoding here; 4.x returned a plain list
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    else:
        text = "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant: "
        ids = tokenizer(text)["input_ids"]
    return list(ids)
