"""Supervised fine-tuning on shards: example selection, tokenisation, the accelerate trainer (LoRA), Ray Train, and
the GRPO loop on the rollout service.

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.trainers name", {
    "TrainConfig": "medaction.trainers.config:TrainConfig",
    "load_config": "medaction.trainers.config:load_config",
    "build_examples": "medaction.trainers.local:build_examples",
    "train_local": "medaction.trainers.local:train_local",
    "train_ray": "medaction.trainers.ray_train:train_ray",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
