"""MedR-Bench metric arithmetic (paper section 4): per-case P/R, averaged; F1 of the averages; mean/spread over runs.

Kept free of judges and I/O so the arithmetic is tested on hand-computed examples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from medaction.eval.types import CaseResult, RunMetrics, Stat
from medaction.tree.types import Trajectory

_WS = re.compile(r"\s+")


def _norm(s: str) -> str:
    return _WS.sub(" ", s.strip().lower())


def predicted_tests(traj: Trajectory) -> tuple[str, ...]:
    """The union of tests ordered before the final turn, deduplicated case/space-insensitively, in order.

    A turn that commits to a final diagnosis orders nothing in this protocol, so its `tests` (if the model listed
    any beside the diagnosis) are not counted; every other turn's tests were sent to the oracle.
    """
    seen: set[str] = set()
    out: list[str] = []
    for node in traj.nodes:
        if node.turn.final_diagnosis:
            continue
        for t in node.turn.tests:
            key = _norm(t)
            if key and key not in seen:
                seen.add(key)
                out.append(t.strip())
    return tuple(out)


def final_diagnosis(traj: Trajectory) -> str:
    return next((n.turn.final_diagnosis for n in reversed(traj.nodes) if n.turn.final_diagnosis), "") or ""


def tests_per_turn(traj: Trajectory) -> tuple[int, ...]:
    return tuple(0 if n.turn.final_diagnosis else len(n.turn.tests) for n in traj.nodes)


def case_precision_recall(pred_matched: Sequence[bool], menu_matched: Sequence[bool]) -> tuple[float, float]:
    """P = matched predictions / predictions; R = matched menu items / menu items. No predictions -> (0, 0).

    An empty menu (a case with no documented tests) gives recall 0 when something was ordered: there is nothing
    to recall, and such cases are rare (4 AgentClinic cases); the loader's count of them is in the report.
    """
    if not pred_matched:
        return 0.0, 0.0
    p = sum(pred_matched) / len(pred_matched)
    r = sum(menu_matched) / len(menu_matched) if menu_matched else 0.0
    return p, r


def f1_of_averages(precision: float, recall: float) -> float:
    """F1 = 2PR/(P+R) of the averaged P and R (this reproduces the paper's Table 2), 0 when both are 0."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def run_metrics(results: Sequence[CaseResult], *, run: int, seed: int) -> RunMetrics:
    n = len(results)
    if n == 0:
        return RunMetrics(run=run, seed=seed, n_cases=0, precision=0.0, recall=0.0, f1=0.0, accuracy=0.0,
                          n_no_tests=0, n_no_final=0)
    p = sum(r.precision for r in results) / n
    rc = sum(r.recall for r in results) / n
    return RunMetrics(
        run=run,
        seed=seed,
        n_cases=n,
        precision=p,
        recall=rc,
        f1=f1_of_averages(p, rc),
        accuracy=sum(r.correct for r in results) / n,
        n_no_tests=sum(1 for r in results if not r.predicted_tests),
        n_no_final=sum(1 for r in results if not r.final_diagnosis),
    )


def stat(values: Sequence[float]) -> Stat:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    n = len(values)
    if n == 0:
        return Stat(math.nan, math.nan, 0)
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return Stat(m, sd, n)
