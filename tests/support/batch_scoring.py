"""Batch DTC/RAC on already-linked node ids: many trajectories, a few bitset BFS sweeps.

All hop distances a batch needs are computed up front with `hops.distance_matrix` (64 sources per sweep):
s* -> top-1 nodes for DTC, test nodes -> changed-diagnosis nodes for RAC. Every turn is then a lookup, and the
per-trajectory arithmetic is the same `metrics` code the online scorer uses. Used by bench/scoring.py and by
anyone re-scoring large sets whose entities are already linked.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from medaction.scoring.filters import decide
from medaction.scoring.graph import GraphStore
from medaction.scoring.hops import distance_matrix
from medaction.scoring.metrics import dtc_series, rac_series
from medaction.scoring.types import Verdict


class LinkedTrajectory(msgspec.Struct, frozen=True, kw_only=True):
    """One trajectory as node ids: s* node (None = unlinked), per turn the differential (top-1 first) and tests.

    A differential entry is a node id, or ("unlinked", normalised text) for an entry no node was found for (as in
    the online scorer): it counts as a change for RAC, and as DTC = cap + 1 when it is the top-1."""

    truth: int | None
    diffs: tuple[tuple[int | tuple[str, str], ...], ...]  # b_t per turn; () = empty differential
    tests: tuple[tuple[int, ...], ...]  # linked a_t per turn
    correct: bool | None = None


class BatchResult(msgspec.Struct, frozen=True, kw_only=True):
    dtc: tuple[int | None, ...]
    rac: tuple[float | None, ...]
    kept_turns: tuple[int, ...]
    verdict: Verdict
    decided_by: str = ""


def _column_lookup(nodes: np.ndarray) -> dict[int, int]:
    return {int(n): i for i, n in enumerate(nodes.tolist())}


def score_linked(trajs: Sequence[LinkedTrajectory], dtc_graph: GraphStore, rac_graph: GraphStore | None = None, *,
                 cap: int = 8, tau: float = 3.0, filter_name: str = "dtc+rac",
                 unmeasured: str = "correctness") -> list[BatchResult]:
    rac_graph = rac_graph or dtc_graph
    truths = np.unique([t.truth for t in trajs if t.truth is not None]).astype(np.int64)
    top1 = np.unique([d[0] for t in trajs for d in t.diffs if d and isinstance(d[0], int)]).astype(np.int64)
    m_dtc = distance_matrix(dtc_graph, truths, top1, cap)
    row_t, col_t = _column_lookup(truths), _column_lookup(top1)
    tests = np.unique([a for t in trajs for ts in t.tests for a in ts]).astype(np.int64)
    diags = np.unique([d for t in trajs for ds in t.diffs for d in ds if isinstance(d, int)]).astype(np.int64)
    m_rac = distance_matrix(rac_graph, tests, diags, cap)
    row_a, col_d = _column_lookup(tests), _column_lookup(diags)
    out: list[BatchResult] = []
    for t in trajs:
        if t.truth is None:
            dtc: list[int | None] = [None] * len(t.diffs)
        else:
            row = m_dtc[row_t[t.truth]]
            tops = [d[0] if d and isinstance(d[0], int) else None for d in t.diffs]
            dtc = list(dtc_series(tops, lambda n: int(row[col_t[n]]), cap))
        rac = rac_series(t.diffs, t.tests,
                         lambda d, srcs: int(m_rac[[row_a[a] for a in srcs], col_d[d]].min()), cap)
        d = decide(filter_name, dtc, rac, t.correct, tau, unmeasured)
        out.append(BatchResult(dtc=tuple(dtc), rac=tuple(rac), kept_turns=d.kept, verdict=d.verdict,
                               decided_by=d.decided_by))
    return out
