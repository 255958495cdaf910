"""choose_mode: deterministic per root line, and the free-form share holds over a run."""

from __future__ import annotations

import pytest

from medaction.tree.modes import choose_mode


def test_deterministic_and_depends_on_every_field() -> None:
    a = [choose_mode(1, f"case-{i}", "t", 0, 0.5) for i in range(200)]
    assert a == [choose_mode(1, f"case-{i}", "t", 0, 0.5) for i in range(200)]
    assert a != [choose_mode(2, f"case-{i}", "t", 0, 0.5) for i in range(200)]
    assert a != [choose_mode(1, f"case-{i}", "u", 0, 0.5) for i in range(200)]
    assert a != [choose_mode(1, f"case-{i}", "t", 1, 0.5) for i in range(200)]


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 1.0])
def test_free_share_is_honoured_over_a_run(share: float) -> None:
    # a run: 1,000 cases x 2 teachers x K=3 roots
    modes = [
        choose_mode(0, f"agentclinic-{c:04d}", p, k, share) for c in range(1000) for p in ("a", "b") for k in range(3)
    ]
    free = modes.count("free") / len(modes)
    assert set(modes) <= {"free", "structured"}
    assert abs(free - share) < 0.02, free  # binomial sd at 6,000 draws is <= 0.0065


def test_bad_share_raises() -> None:
    with pytest.raises(ValueError, match="free_share"):
        choose_mode(0, "c", "p", 0, 1.5)
