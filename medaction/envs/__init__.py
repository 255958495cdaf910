"""Cases and environments: importers, the Environment + Oracle, report readers, leakage/overlap checks, and
the diagnosis text judgements every layer shares (one normaliser, mentions, one equivalence). No Ray.

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.envs name", {
    "Environment": "medaction.envs.types:Environment",
    "TestItem": "medaction.envs.types:TestItem",
    "OracleReply": "medaction.envs.types:OracleReply",
    "UNAVAILABLE": "medaction.envs.types:UNAVAILABLE",
    "iter_environments": "medaction.envs.load:iter_environments",
    "write_jsonl": "medaction.envs.load:write_jsonl",
    "default_cases_path": "medaction.envs.load:default_cases_path",
    "RecordError": "medaction.envs.errors:RecordError",
    "RejectLog": "medaction.envs.errors:RejectLog",
    "Oracle": "medaction.envs.oracle:Oracle",
    "TestMatcher": "medaction.envs.oracle:TestMatcher",
    "same_diagnosis": "medaction.envs.diagnosis:same_diagnosis",
    "diagnosis_mentions": "medaction.envs.mentions:diagnosis_mentions",
    "normalise_diagnosis": "medaction.envs.mentions:normalise_diagnosis",
    "Mention": "medaction.envs.mentions:Mention",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
