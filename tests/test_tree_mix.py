"""Multi-teacher mixes: deterministic per-case choices and shares honoured over many cases."""

from __future__ import annotations

from collections import Counter

import pytest

from medaction.tree.mix import teachers_for_case, teaches_case

SHARES = (("api-mini", 0.5), ("open-large", 0.3), ("baseline", 1.0))


def test_shares_are_honoured_over_many_cases() -> None:
    n = 6000
    counts = Counter(pid for i in range(n) for pid in teachers_for_case(17, f"case-{i}", SHARES))
    for pid, share in SHARES:
        # binomial sd at n=6000 is <= 0.0065; 4 sd bound
        assert abs(counts[pid] / n - share) < 0.026, (pid, counts[pid] / n)
    assert counts["baseline"] == n  # share 1.0 teaches every case


def test_choices_are_deterministic_independent_and_seed_dependent() -> None:
    a = [tuple(teachers_for_case(1, f"c{i}", SHARES)) for i in range(300)]
    assert a == [tuple(teachers_for_case(1, f"c{i}", SHARES)) for i in range(300)]
    assert a != [tuple(teachers_for_case(2, f"c{i}", SHARES)) for i in range(300)]
    both = sum(1 for t in a if "api-mini" in t and "open-large" in t)
    assert 0.08 * 300 < both < 0.22 * 300  # independent draws: about 0.5 * 0.3 of cases get both


def test_bad_shares_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        teachers_for_case(0, "c", (("a", 1.0), ("a", 0.5)))
    with pytest.raises(ValueError, match="share"):
        teaches_case(0, "c", "a", 1.5)
    assert teaches_case(0, "c", "a", 0.0) is False
