"""Multi-teacher mixes: a run names several teachers, each with a share = the fraction of cases it builds trees for.

Each (teacher, case) decision is an independent deterministic draw from (run seed, case id, policy id), so a resumed
or re-sharded run makes the same choice on any worker without coordination, and two teachers with share 1.0 both
run every case (the paper distils every case with both of its teachers). The engine's admission step calls this.
"""

from __future__ import annotations

from collections.abc import Sequence

from medaction.tree.seeds import unit_draw


def teaches_case(run_seed: int, case_id: str, policy_id: str, share: float) -> bool:
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"teacher {policy_id!r}: share must be in [0, 1], got {share}")
    return share >= 1.0 or unit_draw(run_seed, case_id, policy_id, "#teacher") < share


def teachers_for_case(run_seed: int, case_id: str, shares: Sequence[tuple[str, float]]) -> list[str]:
    """The policy ids (in config order) that build a tree for this case."""
    ids = [pid for pid, _ in shares]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate teacher ids in {ids}")
    return [pid for pid, share in shares if teaches_case(run_seed, case_id, pid, share)]
