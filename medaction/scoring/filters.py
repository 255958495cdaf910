"""Trajectory filters (paper RQ4) and retention statistics.

- `none`: every trajectory kept whole.
- `correctness`: kept whole iff the final diagnosis matches s*, else discarded.
- `dtc+rac` (ours): DTC truncation/discard, then the single RAC pass (metrics.prune).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from medaction.scoring.metrics import prune
from medaction.scoring.types import ScoredTrajectory, Verdict

FilterFn = Callable[[Sequence[int | None], Sequence[float | None], "bool | None", float],
                    tuple[tuple[int, ...], Verdict]]


def _none(dtc, rac, correct, tau):  # type: ignore[no-untyped-def]
    return tuple(range(1, len(dtc) + 1)), "kept"


def _correctness(dtc, rac, correct, tau):  # type: ignore[no-untyped-def]
    return (tuple(range(1, len(dtc) + 1)), "kept") if correct and dtc else ((), "discarded")


def _dtc_rac(dtc, rac, correct, tau):  # type: ignore[no-untyped-def]
    return prune(dtc, rac, tau)


FILTERS: dict[str, FilterFn] = {"none": _none, "correctness": _correctness, "dtc+rac": _dtc_rac}


def get_filter(name: str) -> FilterFn:
    if name not in FILTERS:
        raise KeyError(f"unknown filter {name!r}; known: {', '.join(FILTERS)}")
    return FILTERS[name]


def retention(scored: Iterable[ScoredTrajectory]) -> dict[str, float | int]:
    """Trajectory and turn retention: counts per verdict, kept turns / all turns."""
    c = {"trajectories": 0, "kept": 0, "truncated": 0, "discarded": 0, "turns": 0, "kept_turns": 0}
    for st in scored:
        c["trajectories"] += 1
        c[st.verdict] += 1
        c["turns"] += len(st.trajectory.nodes)
        c["kept_turns"] += len(st.kept_turns)
    out: dict[str, float | int] = dict(c)
    out["trajectory_retention"] = (c["kept"] + c["truncated"]) / c["trajectories"] if c["trajectories"] else 0.0
    out["turn_retention"] = c["kept_turns"] / c["turns"] if c["turns"] else 0.0
    return out
