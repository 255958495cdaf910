"""Field-level agreement between extracted environments and the MedR-Bench importer's, with the oracle's matcher."""

from __future__ import annotations

import itertools
from pathlib import Path

import msgspec
import pytest

from medaction.envs.agreement import agreement, token_f1
from medaction.envs.types import Environment, TestItem


def test_token_f1_values() -> None:
    assert token_f1("Acute appendicitis", "acute appendicitis.") == 1.0
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0
    assert token_f1("a b c d", "a b") == pytest.approx(2 * 0.5 * 1.0 / 1.5)


def test_agreement_identity_and_perturbations(medrbench_path: Path) -> None:
    from medaction.envs.load import iter_environments

    refs = list(itertools.islice(iter_environments("medrbench", medrbench_path), 6))
    same = agreement([msgspec.structs.replace(e, source="extracted") for e in refs], refs)
    assert same.n_both == 6 and same.coverage == 1.0
    assert (same.o1_f1, same.menu_precision, same.menu_recall, same.dx_match_rate) == (1.0, 1.0, 1.0, 1.0)

    a, b = refs[0], refs[1]
    assert len(a.tests) >= 2
    # a: first menu item dropped + one invented test; b: wrong diagnosis; case 3..6 not extracted
    pa = msgspec.structs.replace(a, tests=(*a.tests[1:], TestItem(name="Zzyzx quantum assay", result="r")))
    pb = msgspec.structs.replace(b, diagnosis="Completely unrelated thing")
    rep = agreement([pa, pb], refs)
    assert rep.n_both == 2 and rep.coverage == pytest.approx(2 / 6)
    ca, cb = rep.cases
    n = len(a.tests)
    assert ca.menu_precision == pytest.approx((n - 1) / n)
    assert ca.menu_recall <= 1.0 and cb.menu_f1 == 1.0  # b's menu is untouched
    assert not cb.dx_match and ca.dx_match and rep.dx_match_rate == 0.5
    assert "menu P / R / F1" in "\n".join(rep.lines())


def test_renamed_tests_still_match_through_the_oracle_matcher() -> None:
    ref = Environment(case_id="x", source="medrbench", initial_observation="o", diagnosis="d",
                      tests=(TestItem(name="Complete blood count", result="WBC 12"),
                             TestItem(name="Computed tomography of the abdomen", result="mass")))
    pred = msgspec.structs.replace(ref, source="extracted",
                                   tests=(TestItem(name="CBC", result="x"), TestItem(name="CT abdomen", result="y")))
    c = agreement([pred], [ref]).cases[0]
    assert (c.menu_precision, c.menu_recall) == (1.0, 1.0)
