"""Where an actor group runs on a multi-node cluster (docs/cluster.md, "What runs where").

`resources` names custom node resources (e.g. `{"gpu_node": 0.01}`, set on a node by `ray start --resources`) that
every actor of the group needs, so a group can be pinned to a node type. `spread` puts the group's actors on
different nodes, so that losing one node loses one replica / oracle shard / scorer, not all of them: the group
gets a placement group with one bundle per actor and the SPREAD strategy. When a node dies Ray re-places its
bundles on surviving nodes and the actors restart there (max_restarts). Ray's plain "SPREAD" scheduling strategy
and soft node affinity were tried first: both let a busy node's actors spill onto another node, so a group could
end up on one node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

# A bundle cannot be empty: an actor that asks for nothing (the oracle, scorer, API-client replicas) reserves this.
_MIN_CPU = 0.001
# Groups made by this process; Ray drops them when the job ends, `release_groups` when one run in a longer-lived
# process (an eval sweep, a notebook) ends.
_GROUPS: list[Any] = []


def group_options(resources: Mapping[str, float] | None, spread: bool, n: int, *, num_cpus: float = 0.0,
                  num_gpus: float = 0.0) -> list[dict[str, Any]]:
    """Extra `.options(...)` for each of the `n` actors of a group (which also asks for num_cpus / num_gpus)."""
    custom = {str(k): float(v) for k, v in (resources or {}).items()}
    base: dict[str, Any] = {"resources": custom} if custom else {}
    if not spread or n < 2:
        return [dict(base) for _ in range(n)]
    bundle = {"CPU": max(num_cpus, _MIN_CPU), **custom}
    if num_gpus:
        bundle["GPU"] = num_gpus
    pg = placement_group([dict(bundle) for _ in range(n)], strategy="SPREAD")
    _GROUPS.append(pg)
    return [{**base, "scheduling_strategy": PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=i)}
            for i in range(n)]


def release_groups() -> None:
    """Remove the placement groups made so far (after their actors were killed: the run is over)."""
    while _GROUPS:
        try:
            remove_placement_group(_GROUPS.pop())
        except Exception:  # noqa: BLE001 - already gone with its job
            pass
