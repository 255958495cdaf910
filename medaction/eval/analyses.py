"""Fig.-5-style analyses over judged cases (all runs pooled): DTC per turn, RAC pass rate per turn, turns per
case, tests per turn, stop reasons, and the evaluated cases on the fixed hard list (eval/hard_set.py)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence

import msgspec

from medaction.eval.metrics import stat
from medaction.eval.types import CaseResult


class TurnStat(msgspec.Struct, frozen=True):
    turn: int  # 1-based
    mean: float
    std: float
    n: int


class Analyses(msgspec.Struct, frozen=True, kw_only=True):
    dtc_per_turn: tuple[TurnStat, ...]
    rac_pass_per_turn: tuple[TurnStat, ...]  # mean = pass rate (RAC_t <= tau), std = binomial s.e.
    rac_tau: float
    tests_per_turn: tuple[TurnStat, ...]
    turns_per_case: float
    turns_per_case_std: float
    tests_per_active_turn: float  # mean tests per turn that ordered (the paper's "tests per turn", 1.57 on MedR)
    turn_histogram: dict[int, int]
    stop_reasons: dict[str, int]


def _per_turn(values: dict[int, list[float]]) -> tuple[TurnStat, ...]:
    out = []
    for t in sorted(values):
        s = stat(values[t])
        out.append(TurnStat(t, s.mean, s.std, s.n))
    return tuple(out)


def dtc_per_turn(results: Sequence[CaseResult]) -> tuple[TurnStat, ...]:
    """Mean and spread of DTC_t across trajectories; undefined values (None: unlinked/unscored) are skipped."""
    vals: dict[int, list[float]] = defaultdict(list)
    for r in results:
        for i, d in enumerate(r.dtc):
            if d is not None:
                vals[i + 1].append(float(d))
    return _per_turn(vals)


def rac_pass_per_turn(results: Sequence[CaseResult], tau: float = 3.0) -> tuple[TurnStat, ...]:
    """Share of turns t >= 2 with RAC_t <= tau (the paper's RAC filter keeps those); None (undefined) skipped."""
    vals: dict[int, list[float]] = defaultdict(list)
    for r in results:
        for i, x in enumerate(r.rac):
            if x is not None and i >= 1:
                vals[i + 1].append(1.0 if x <= tau else 0.0)
    out = []
    for t in sorted(vals):
        v = vals[t]
        p = sum(v) / len(v)
        out.append(TurnStat(t, p, math.sqrt(p * (1 - p) / len(v)), len(v)))
    return tuple(out)


def analyse(results: Sequence[CaseResult], *, rac_tau: float = 3.0) -> Analyses:
    tpt: dict[int, list[float]] = defaultdict(list)
    active: list[int] = []
    for r in results:
        for i, k in enumerate(r.tests_per_turn):
            tpt[i + 1].append(float(k))
            if k:
                active.append(k)
    turns = stat([float(r.n_turns) for r in results])
    return Analyses(
        dtc_per_turn=dtc_per_turn(results),
        rac_pass_per_turn=rac_pass_per_turn(results, rac_tau),
        rac_tau=rac_tau,
        tests_per_turn=_per_turn(tpt),
        turns_per_case=turns.mean if results else 0.0,
        turns_per_case_std=turns.std if results else 0.0,
        tests_per_active_turn=sum(active) / len(active) if active else 0.0,
        turn_histogram=dict(sorted(Counter(r.n_turns for r in results).items())),
        stop_reasons=dict(Counter(r.stop for r in results).most_common()),
    )


def select_hard(results: Sequence[CaseResult], hard_ids: Collection[str]) -> tuple[str, ...]:
    """The evaluated cases that are on the committed hard list. Only the list decides (never the evaluated model's
    turns), so two evals of the same cases have the same hard subset."""
    listed = set(hard_ids)
    return tuple(sorted({r.case_id for r in results if r.case_id in listed}))
