"""Scoring: graph stores and loaders, entity linking, DTC and RAC, the filter and its rule for what cannot be
measured, rewards, and the shard row schema. No Ray.

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.scoring name", {
    "ScoredTrajectory": "medaction.scoring.types:ScoredTrajectory",
    "Scorer": "medaction.scoring.base:Scorer",
    "SCORERS": "medaction.scoring.base:SCORERS",
    "build_scorer": "medaction.scoring.base:build_scorer",
    "KGScorer": "medaction.scoring.kg_scorer:KGScorer",
    "KGScorerConfig": "medaction.scoring.kg_scorer:KGScorerConfig",
    "GraphStore": "medaction.scoring.graph:GraphStore",
    "EntityLinker": "medaction.scoring.linker:EntityLinker",
    "DiagnosisLinker": "medaction.scoring.mention_linker:DiagnosisLinker",
    "decide": "medaction.scoring.filters:decide",
    "retention": "medaction.scoring.filters:retention",
    "RewardConfig": "medaction.scoring.rewards:RewardConfig",
    "trajectory_rewards": "medaction.scoring.rewards:trajectory_rewards",
    "to_row": "medaction.scoring.rows:to_row",
    "from_row": "medaction.scoring.rows:from_row",
    "SCHEMA": "medaction.scoring.rows:SCHEMA",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
