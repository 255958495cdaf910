"""Trajectory trees: the one turn loop, branch strategies, the pure TreeScheduler, per-node seeds, the gym-style
ClinicalEnv. No Ray.

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.tree name", {
    "Node": "medaction.tree.types:Node",
    "Trajectory": "medaction.tree.types:Trajectory",
    "Usage": "medaction.tree.types:Usage",
    "RolloutState": "medaction.tree.loop:RolloutState",
    "initial_state": "medaction.tree.loop:initial_state",
    "build_messages": "medaction.tree.loop:build_messages",
    "run_turn": "medaction.tree.loop:run_turn",
    "rollout": "medaction.tree.loop:rollout",
    "TreeScheduler": "medaction.tree.scheduler:TreeScheduler",
    "TreeSpec": "medaction.tree.scheduler:TreeSpec",
    "STRATEGIES": "medaction.tree.branching:STRATEGIES",
    "build_strategy": "medaction.tree.branching:build_strategy",
    "node_seed": "medaction.tree.seeds:node_seed",
    "ClinicalEnv": "medaction.tree.rl_env:ClinicalEnv",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
