"""Trajectory filters (paper RQ4), the rule for what DTC cannot measure, and retention statistics.

- `none`: every trajectory kept whole.
- `correctness`: kept whole iff the final diagnosis matches s*, else discarded.
- `dtc+rac` (ours): DTC truncation/discard, then the single RAC pass (metrics.prune).

What cannot be measured (docs/design.md): a trajectory with fewer than two linked turns (an unlinked s*, an
unlinked or absent top-1 at all but one turn, a one-turn trajectory) gives DTC nothing to compare. It is never
kept on that silence: `dtc+rac` hands it to the fallback named by `unmeasured`:
- "correctness" (default): kept whole iff the final diagnosis matches s* (the shared diagnosis equivalence,
  `KGScorer.is_correct`), else discarded;
- "keep": kept whole (the old behaviour, for ablations);
- "discard": discarded.
The decision says who made it (`decided_by`: "dtc+rac", "fallback", or the filter name), so every count of
kept/truncated/discarded trajectories can be split by it. The scorer, `medaction score` and the SFT selection
(trainers/selection.py) all decide through `decide` / `fallback`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal, NamedTuple, get_args

from medaction.scoring.metrics import prune
from medaction.scoring.types import ScoredTrajectory, Verdict

Unmeasured = Literal["correctness", "keep", "discard"]
UNMEASURED: tuple[str, ...] = get_args(Unmeasured)

FilterFn = Callable[[Sequence[int | None], Sequence[float | None], "bool | None", float],
                    tuple[tuple[int, ...], Verdict]]


class Decision(NamedTuple):
    kept: tuple[int, ...]
    verdict: Verdict
    decided_by: str  # "dtc+rac" | "fallback" | "correctness" | "none"


def _whole(n: int) -> tuple[tuple[int, ...], Verdict]:
    return (tuple(range(1, n + 1)), "kept") if n else ((), "discarded")


def fallback(n_turns: int, correct: bool | None, unmeasured: str = "correctness") -> tuple[tuple[int, ...], Verdict]:
    """What happens to a trajectory DTC cannot measure (see the module docstring)."""
    if unmeasured == "keep":
        return _whole(n_turns)
    if unmeasured == "correctness":
        return _whole(n_turns) if correct is True else ((), "discarded")
    if unmeasured == "discard":
        return (), "discarded"
    raise ValueError(f"unmeasured: {unmeasured!r} not one of {', '.join(UNMEASURED)}")


def decide(name: str, dtc: Sequence[int | None], rac: Sequence[float | None], correct: bool | None, tau: float,
           unmeasured: str = "correctness") -> Decision:
    """Apply filter `name` to one trajectory's per-turn values."""
    n = len(dtc)
    if name == "none":
        return Decision(*_whole(n), "none")
    if name == "correctness":
        return Decision(*fallback(n, correct, "correctness"), "correctness")
    if name == "dtc+rac":
        pruned = prune(dtc, rac, tau)
        if pruned is None:
            return Decision(*fallback(n, correct, unmeasured), "fallback")
        return Decision(*pruned, "dtc+rac")
    raise KeyError(f"unknown filter {name!r}; known: {', '.join(FILTERS)}")


FilterName = Literal["none", "correctness", "dtc+rac"]
FILTERS: tuple[str, ...] = get_args(FilterName)


def get_filter(name: str, unmeasured: str = "correctness") -> FilterFn:
    """`decide` for one filter name as a (dtc, rac, correct, tau) -> (kept, verdict) function."""
    if name not in FILTERS:
        raise KeyError(f"unknown filter {name!r}; known: {', '.join(FILTERS)}")
    if unmeasured not in UNMEASURED:
        raise ValueError(f"unmeasured: {unmeasured!r} not one of {', '.join(UNMEASURED)}")

    def flt(dtc, rac, correct, tau):  # type: ignore[no-untyped-def]
        d = decide(name, dtc, rac, correct, tau, unmeasured)
        return d.kept, d.verdict

    return flt


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
