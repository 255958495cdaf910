"""Policies: the Policy protocol and its table of backends (backends/), prompts, the context builder and the
turn parser (parsing/). No Ray.

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.policies name", {
    "Policy": "medaction.policies.base:Policy",
    "PolicyError": "medaction.policies.base:PolicyError",
    "BACKENDS": "medaction.policies.base:BACKENDS",
    "build": "medaction.policies.base:build",
    "available": "medaction.policies.base:available",
    "Message": "medaction.policies.types:Message",
    "SamplingParams": "medaction.policies.types:SamplingParams",
    "Completion": "medaction.policies.types:Completion",
    "Hypothesis": "medaction.policies.types:Hypothesis",
    "Turn": "medaction.policies.types:Turn",
    "parse_turn": "medaction.policies.parsing.parser:parse_turn",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
