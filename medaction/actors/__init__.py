"""Ray actors wrapping the pure layers (oracle, policy, scorer, shard writer), the router and the one client for a
set of policy replicas.

Public names are listed below and imported on first use (medaction/registry.py, `exports`)."""

from medaction.registry import Registry, exports

_PUBLIC: Registry[object] = Registry("medaction.actors name", {
    "OracleActor": "medaction.actors.oracle:OracleActor",
    "PolicyActor": "medaction.actors.policy:PolicyActor",
    "start_policy_actors": "medaction.actors.policy:start_policy_actors",
    "ScorerActor": "medaction.actors.scorer:ScorerActor",
    "ShardWriter": "medaction.actors.writer:ShardWriter",
    "ShardWriterImpl": "medaction.actors.writer:ShardWriterImpl",
    "RemotePolicy": "medaction.actors.replicas:RemotePolicy",
    "ReplicaSet": "medaction.actors.replicas:ReplicaSet",
    "ROUTERS": "medaction.actors.router:ROUTERS",
    "Router": "medaction.actors.router:Router",
})
__all__ = _PUBLIC.names()
__getattr__, __dir__ = exports(_PUBLIC)
