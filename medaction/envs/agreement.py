"""Field-level agreement between two environment sets for the same case ids (extracted vs. a reference importer).

Per case: o1 token F1 (multiset of lowercase word tokens, SQuAD style), menu precision/recall/F1 where an
extracted test name counts when the reference's TestMatcher maps it to a reference item (the oracle's own matching,
so "agreement" means "the oracle would answer it"), and diagnosis token F1 with a match flag at `dx_threshold`.
Means are over the cases present in both sets; `coverage` is the share of reference cases that were extracted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import msgspec

from medaction.envs.types import Environment, TestItem

_TOKEN_RE = re.compile(r"[a-z0-9]+")


class Matcher(Protocol):
    def match(self, request: str) -> tuple[int, ...]: ...


MatcherFactory = Callable[[Sequence[TestItem]], Matcher]


def _default_matcher(tests: Sequence[TestItem]) -> Matcher:
    from medaction.envs.oracle import TestMatcher  # the oracle's matcher: same rule the rollouts are answered by

    return TestMatcher(tuple(tests))


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower())


def token_f1(pred: str, ref: str) -> float:
    p, r = Counter(tokens(pred)), Counter(tokens(ref))
    if not p and not r:
        return 1.0
    common = sum((p & r).values())
    if common == 0:
        return 0.0
    prec, rec = common / sum(p.values()), common / sum(r.values())
    return 2 * prec * rec / (prec + rec)


class CaseAgreement(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    o1_f1: float
    menu_precision: float
    menu_recall: float
    menu_f1: float
    dx_f1: float
    dx_match: bool
    n_pred_tests: int
    n_ref_tests: int


class Agreement(msgspec.Struct, frozen=True, kw_only=True):
    n_reference: int
    n_extracted: int
    n_both: int
    coverage: float  # n_both / n_reference
    o1_f1: float
    menu_precision: float
    menu_recall: float
    menu_f1: float
    dx_f1: float
    dx_match_rate: float
    cases: tuple[CaseAgreement, ...] = ()

    def lines(self) -> list[str]:
        return [
            f"cases: reference {self.n_reference}, extracted {self.n_extracted}, both {self.n_both} "
            f"(coverage {self.coverage:.2f})",
            f"o1 token F1            {self.o1_f1:.3f}",
            f"menu P / R / F1        {self.menu_precision:.3f} / {self.menu_recall:.3f} / {self.menu_f1:.3f}",
            f"diagnosis token F1     {self.dx_f1:.3f}   match rate {self.dx_match_rate:.3f}",
        ]


def case_agreement(
    pred: Environment, ref: Environment, *, matcher: MatcherFactory = _default_matcher, dx_threshold: float = 0.5
) -> CaseAgreement:
    m = matcher(ref.tests)
    hits = [set(m.match(t.name)) for t in pred.tests]
    covered = set().union(*hits) if hits else set()
    prec = sum(1 for h in hits if h) / len(hits) if hits else 0.0
    rec = len(covered) / len(ref.tests) if ref.tests else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    dx = token_f1(pred.diagnosis, ref.diagnosis)
    return CaseAgreement(
        case_id=ref.case_id, o1_f1=token_f1(pred.initial_observation, ref.initial_observation),
        menu_precision=prec, menu_recall=rec, menu_f1=f1, dx_f1=dx, dx_match=dx >= dx_threshold,
        n_pred_tests=len(pred.tests), n_ref_tests=len(ref.tests),
    )


def agreement(
    extracted: Iterable[Environment],
    reference: Iterable[Environment],
    *,
    matcher: MatcherFactory = _default_matcher,
    dx_threshold: float = 0.5,
) -> Agreement:
    """Compare by case id. Per-case menu F1 is averaged over cases (as the benchmark averages per case)."""
    preds = {e.case_id: e for e in extracted}
    refs = {e.case_id: e for e in reference}
    rows = tuple(
        case_agreement(preds[k], refs[k], matcher=matcher, dx_threshold=dx_threshold) for k in refs if k in preds
    )
    n = len(rows)

    def mean(f: Callable[[CaseAgreement], float]) -> float:
        return sum(f(r) for r in rows) / n if n else 0.0

    return Agreement(
        n_reference=len(refs), n_extracted=len(preds), n_both=n, coverage=n / len(refs) if refs else 0.0,
        o1_f1=mean(lambda r: r.o1_f1), menu_precision=mean(lambda r: r.menu_precision),
        menu_recall=mean(lambda r: r.menu_recall), menu_f1=mean(lambda r: r.menu_f1),
        dx_f1=mean(lambda r: r.dx_f1), dx_match_rate=mean(lambda r: float(r.dx_match)), cases=rows,
    )
