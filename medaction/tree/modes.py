"""Which prompt mode a root line uses: free-form at a configured share (paper RQ2, default 0.1), else structured.

Deterministic in (run seed, case, policy, root index), so a resumed run picks the same modes; a hash in [0, 1) per
root line makes the free share hold over a run in expectation without any global counter.
"""

from __future__ import annotations

from medaction.policies.types import Mode
from medaction.tree.seeds import unit_draw


def mode_draw(run_seed: int, case_id: str, policy_id: str, root_index: int) -> float:
    """A uniform draw in [0, 1) from the same length-prefixed hash that seeds nodes (one hashing mechanism)."""
    return unit_draw(run_seed, case_id, policy_id, f"#mode.{root_index}")


def choose_mode(run_seed: int, case_id: str, policy_id: str, root_index: int, free_share: float) -> Mode:
    if not 0.0 <= free_share <= 1.0:
        raise ValueError(f"free_share must be in [0, 1], got {free_share}")
    return "free" if mode_draw(run_seed, case_id, policy_id, root_index) < free_share else "structured"
