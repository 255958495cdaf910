"""Per-node seeds: a stable hash of (run seed, case, policy, node path), so a node's sample does not depend on when
or where it ran. This is what makes an interrupted-and-resumed run give the same trajectory set."""

from __future__ import annotations

import hashlib

_MASK = (1 << 63) - 1  # fits int64 (parquet `seed` column) and every backend's seed argument


def node_seed(run_seed: int, case_id: str, policy_id: str, node_path: str) -> int:
    """Deterministic 63-bit seed. Fields are length-prefixed so ("a", "bc") and ("ab", "c") differ."""
    h = hashlib.blake2b(digest_size=8)
    for part in (str(run_seed), case_id, policy_id, node_path):
        data = part.encode()
        h.update(len(data).to_bytes(4, "little"))
        h.update(data)
    return int.from_bytes(h.digest(), "little") & _MASK


def unit_draw(run_seed: int, case_id: str, policy_id: str, salt: str) -> float:
    """A deterministic draw in [0, 1) for per-case decisions (teacher share, free-form mode)."""
    return node_seed(run_seed, case_id, policy_id, salt) / float(1 << 63)
