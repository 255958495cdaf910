"""Shared types of the evaluation layer: per-case results, per-run metrics and the summary across runs."""

from __future__ import annotations

import msgspec


class CaseResult(msgspec.Struct, frozen=True, kw_only=True):
    """One case in one run, judged. Precision/recall are per case (MedR-Bench averages them over cases)."""

    case_id: str
    run: int
    seed: int
    predicted_tests: tuple[str, ...]  # union of tests ordered before the final turn, in first-ordered order
    pred_matched: tuple[bool, ...]  # per predicted test: matched to some menu item
    menu_matched: tuple[bool, ...]  # per menu item: matched by some predicted test
    menu: tuple[str, ...]
    precision: float  # 0.0 when nothing was ordered (counted, not dropped)
    recall: float
    final_diagnosis: str  # "" when the trajectory never committed
    truth: str
    correct: bool
    n_turns: int
    stop: str
    tests_per_turn: tuple[int, ...]  # tests ordered at turn t (index t-1)
    dtc: tuple[int | None, ...] = ()
    rac: tuple[float | None, ...] = ()
    rare: bool = False


class RunMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """Table-2 numbers for one run: P, R averaged over cases; F1 of those averages; diagnosis accuracy."""

    run: int
    seed: int
    n_cases: int
    precision: float
    recall: float
    f1: float
    accuracy: float
    n_no_tests: int  # cases where nothing was ordered: counted with P = R = 0
    n_no_final: int  # cases that never committed to a final diagnosis: counted Wrong


class Stat(msgspec.Struct, frozen=True):
    mean: float
    std: float  # sample standard deviation over runs (0 with one run)
    n: int


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """Mean and spread over runs of each Table-2 metric, with what produced them (always named)."""

    label: str
    policy: str
    judge: str
    graph: str
    cases: str
    n_cases: int
    runs: tuple[RunMetrics, ...]
    precision: Stat
    recall: Stat
    f1: Stat
    accuracy: Stat
