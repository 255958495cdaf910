"""DTC, RAC and pruning (paper 3.3 Stage 3, eqs. 3-4), as pure functions on graph node ids and hop lookups.

Turns are 1-based in the paper; lists here are 0-based (index i = turn i+1). Conventions (docs/design.md,
"What cannot be measured" and DESIGN "Scoring"):
- DTC_t = hop(top-1 of b_t, s*), capped: a linked top-1 that s* does not reach within `cap` hops is cap + 1.
  A turn whose top-1 is absent or unlinked has DTC_t = None (not measured); if s* itself is unlinked every DTC_t
  is None.
- The backward scan runs over LINKED turns only: DTC_1 is the value of the first linked turn f; t* is the latest
  linked turn after f with DTC_t* <= DTC_f; keep turns 1..t* (unlinked turns before t* stay, the ones after it go
  with the rest); no such t* -> discard. Unlinked turns neither anchor nor truncate the scan.
- Fewer than two linked turns (this includes an unlinked s* and one-turn trajectories) -> DTC cannot decide:
  `dtc_cut` returns None and the caller applies the fallback (filters.decide), never "keep on silence".
- RAC_t (t >= 2) = mean over d in Delta b_t of min over a in tests(t-1) of hop(d, a), with Delta b_t the symmetric
  difference of the LINKED differentials (node ids). An unlinked diagnosis is not part of Delta b_t: it can
  neither push RAC over tau nor pull it under (its distance to the tests cannot be measured). Empty Delta b_t ->
  RAC_t = 0 (passes). Non-empty Delta b_t with no tests ordered at t-1 -> RAC_t = cap + 1 (fails: the revision
  had no evidence). Tests ordered at t-1 but none linked -> RAC_t = None (not measured, removes nothing).
  RAC_1 = None.
- For every turn t >= 2 kept after DTC with RAC_t > tau, remove turn t-1; one pass over the original values.
- A turn carrying a final diagnosis: its top-1 is the final diagnosis and its differential is the final
  diagnosis followed by the rest of that turn's differential (see `turn_differential`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from medaction.policies.types import Turn
from medaction.scoring.types import Verdict

DiagKey = Hashable  # an int node id, or ("unlinked", normalised text)


def turn_differential(turn: Turn) -> list[str]:
    """b_t as strings, top-1 first. A final turn commits: its final diagnosis is b_t^(1)."""
    out: list[str] = []
    if turn.final_diagnosis and turn.final_diagnosis.strip():
        out.append(turn.final_diagnosis.strip())
    for h in turn.differential:
        d = h.diagnosis.strip()
        if d and d not in out:
            out.append(d)
    return out


def dtc_series(top1: Sequence[int | None], hop_to_truth: Callable[[int], int], cap: int) -> list[int | None]:
    """DTC_t for every turn; `top1[i]` is the linked node of b_t^(1) (None = absent/unlinked -> None)."""
    return [None if n is None else min(int(hop_to_truth(n)), cap + 1) for n in top1]


def linked_turns(dtc: Sequence[int | None]) -> int:
    """How many turns DTC measured (a linked top-1 and a linked s*)."""
    return sum(v is not None for v in dtc)


def measurable(dtc: Sequence[int | None]) -> bool:
    """DTC can decide only with an anchor and at least one later linked turn to compare with it."""
    return linked_turns(dtc) >= 2


def dtc_cut(dtc: Sequence[int | None]) -> int | None:
    """Turns kept by the DTC backward scan (t*), 0 to discard, None when DTC cannot decide (< 2 linked turns)."""
    linked = [i for i, v in enumerate(dtc) if v is not None]
    if len(linked) < 2:
        return None
    first = dtc[linked[0]]
    for i in reversed(linked[1:]):  # latest linked turn first; unlinked turns are skipped, never cut at
        if dtc[i] <= first:  # type: ignore[operator]
            return i + 1
    return 0


def rac_series(diffs: Sequence[Sequence[DiagKey]], tests: Sequence[Sequence[int]],
               hop_to_tests: Callable[[int, Sequence[int]], int], cap: int,
               ordered: Sequence[int] | None = None) -> list[float | None]:
    """RAC_t for every turn (None at turn 1). `diffs[i]`: keys of b_t (int = linked node; anything else, e.g.
    ("unlinked", text), is ignored); `tests[i]`: linked test nodes of a_t; `ordered[i]`: how many tests a_t
    ordered, linked or not (default: as many as linked, i.e. every ordered test linked).

    `hop_to_tests(d, tests)` = min over a in tests of hop(d, a) (a multi-source BFS lookup).
    """
    out: list[float | None] = [None] if diffs else []
    for i in range(1, len(diffs)):
        delta = {d for d in set(diffs[i]) ^ set(diffs[i - 1]) if isinstance(d, int)}
        if not delta:
            out.append(0.0)
            continue
        prev = tests[i - 1]
        if not prev:
            n_ordered = len(prev) if ordered is None else ordered[i - 1]
            out.append(None if n_ordered > 0 else float(cap + 1))
            continue
        total = sum(min(int(hop_to_tests(d, prev)), cap + 1) for d in delta)
        out.append(total / len(delta))
    return out


def rac_removed(rac: Sequence[float | None], kept: int, tau: float) -> set[int]:
    """1-based turns removed by RAC among the first `kept` turns: t-1 for each t in 2..kept with RAC_t > tau."""
    return {t - 1 for t in range(2, kept + 1) if rac[t - 1] is not None and rac[t - 1] > tau}  # type: ignore[operator]


def prune(dtc: Sequence[int | None], rac: Sequence[float | None],
          tau: float) -> tuple[tuple[int, ...], Verdict] | None:
    """DTC truncation/discard, then one RAC pass: (kept 1-based turns, verdict); None when DTC cannot decide."""
    n = len(dtc)
    cut = dtc_cut(dtc)
    if cut is None:
        return None
    if cut == 0:
        return (), "discarded"
    removed = rac_removed(rac, cut, tau)
    kept = tuple(t for t in range(1, cut + 1) if t not in removed)
    if not kept:
        return (), "discarded"
    return kept, ("kept" if len(kept) == n else "truncated")
