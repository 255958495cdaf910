"""Multi-teacher mixes: deterministic assignment and shares honoured over many cases."""

from __future__ import annotations

from collections import Counter

import msgspec
import pytest

from medaction.policies.mix import Mix, TeacherSpec, assign_teacher


def _mix() -> Mix:
    return Mix(teachers=(
        TeacherSpec(policy_id="api-mini", backend="openai_http", share=0.5),
        TeacherSpec(policy_id="open-large", backend="vllm", share=0.3),
        TeacherSpec(policy_id="baseline", backend="heuristic", share=0.2),
    ))


def test_shares_are_honoured_over_many_cases() -> None:
    mix = _mix()
    n_cases, roots = 4000, 3
    counts = Counter(assign_teacher(17, f"case-{i}", r, mix) for i in range(n_cases) for r in range(roots))
    n = n_cases * roots
    for t in mix.teachers:
        share = counts[t.policy_id] / n
        # binomial sd at n=12000 is <= 0.0046; 4 sd bound
        assert abs(share - t.share) < 0.02, (t.policy_id, share)


def test_assignment_is_deterministic_and_seed_dependent() -> None:
    mix = _mix()
    a = [assign_teacher(1, f"c{i}", 0, mix) for i in range(200)]
    assert a == [assign_teacher(1, f"c{i}", 0, mix) for i in range(200)]
    assert a != [assign_teacher(2, f"c{i}", 0, mix) for i in range(200)]
    roots = {assign_teacher(1, "c0", r, mix) for r in range(50)}
    assert len(roots) == 3  # roots of one case may go to different teachers


def test_unnormalised_shares_and_single_teacher() -> None:
    mix = Mix(teachers=(TeacherSpec(policy_id="a", backend="sim", share=3),
                        TeacherSpec(policy_id="b", backend="sim", share=1)))
    counts = Counter(assign_teacher(0, f"x{i}", 0, mix) for i in range(4000))
    assert abs(counts["a"] / 4000 - 0.75) < 0.03
    solo = Mix(teachers=(TeacherSpec(policy_id="only", backend="sim"),))
    assert {assign_teacher(5, f"x{i}", i, solo) for i in range(100)} == {"only"}


def test_bad_mixes_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Mix(teachers=(TeacherSpec(policy_id="a", backend="sim"), TeacherSpec(policy_id="a", backend="sim")))
    with pytest.raises(ValueError, match="share"):
        Mix(teachers=(TeacherSpec(policy_id="a", backend="sim", share=0),))
    with pytest.raises(ValueError, match="at least one"):
        Mix(teachers=())
    spec = msgspec.convert({"teachers": [{"policy_id": "a", "backend": "sim", "share": 2}]}, Mix)
    assert spec.teachers[0].share == 2
