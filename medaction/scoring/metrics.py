"""DTC, RAC and pruning (paper 3.3 Stage 3, eqs. 3-4), as pure functions on graph node ids and hop lookups.

Turns are 1-based in the paper; lists here are 0-based (index i = turn i+1). Conventions (DESIGN "Scoring"):
- Unlinked or unreachable entities are `cap + 1` hops away.
- DTC_t = hop(top-1 of b_t, s*). Scan back from T for the latest t* with DTC_t* <= DTC_1; keep turns 1..t*;
  no t* >= 2 (this includes one-turn trajectories) -> discard. If s* itself cannot be linked, DTC is undefined
  (None at every turn) and DTC pruning keeps the trajectory whole; RAC still applies.
- RAC_t (t >= 2) = mean over d in Delta b_t of min over a in tests(t-1) of hop(d, a), with Delta b_t the symmetric
  difference of the LINKED differentials (node ids; an unlinked diagnosis keys on its normalised text, so it is
  a change when it appears or disappears, at cap + 1 hops). Empty Delta b_t -> RAC_t = 0 (passes). Non-empty
  Delta b_t with no (linked) tests at t-1 -> RAC_t = cap + 1 (fails). RAC_1 = None.
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


def dtc_series(top1: Sequence[int | None], hop_to_truth: Callable[[int], int], cap: int) -> list[int]:
    """DTC_t for every turn; `top1[i]` is the linked node of b_t^(1) (None = unlinked -> cap + 1)."""
    return [cap + 1 if n is None else min(int(hop_to_truth(n)), cap + 1) for n in top1]


def dtc_cut(dtc: Sequence[int | None]) -> int:
    """Number of turns kept by the DTC backward scan (t*), or 0 to discard the trajectory."""
    if not dtc:
        return 0
    if any(v is None for v in dtc):
        return len(dtc)  # s* unlinked: DTC undefined, no DTC pruning
    first = dtc[0]
    for t in range(len(dtc), 1, -1):  # t = T .. 2 (1-based)
        if dtc[t - 1] <= first:  # type: ignore[operator]
            return t
    return 0


def rac_series(diffs: Sequence[Sequence[DiagKey]], tests: Sequence[Sequence[int]],
               hop_to_tests: Callable[[int, Sequence[int]], int], cap: int) -> list[float | None]:
    """RAC_t for every turn (None at turn 1). `diffs[i]`: keys of b_t; `tests[i]`: linked test nodes of a_t.

    `hop_to_tests(d, tests)` = min over a in tests of hop(d, a) (a multi-source BFS lookup).
    """
    out: list[float | None] = [None] if diffs else []
    for i in range(1, len(diffs)):
        delta = set(diffs[i]) ^ set(diffs[i - 1])
        if not delta:
            out.append(0.0)
            continue
        prev = tests[i - 1]
        if not prev:
            out.append(float(cap + 1))
            continue
        total = 0
        for d in delta:
            total += min(int(hop_to_tests(d, prev)), cap + 1) if isinstance(d, int) else cap + 1
        out.append(total / len(delta))
    return out


def rac_removed(rac: Sequence[float | None], kept: int, tau: float) -> set[int]:
    """1-based turns removed by RAC among the first `kept` turns: t-1 for each t in 2..kept with RAC_t > tau."""
    return {t - 1 for t in range(2, kept + 1) if rac[t - 1] is not None and rac[t - 1] > tau}  # type: ignore[operator]


def prune(dtc: Sequence[int | None], rac: Sequence[float | None], tau: float) -> tuple[tuple[int, ...], Verdict]:
    """DTC truncation/discard, then one RAC pass: (kept 1-based turns, verdict)."""
    n = len(dtc)
    cut = dtc_cut(dtc)
    if cut == 0:
        return (), "discarded"
    removed = rac_removed(rac, cut, tau)
    kept = tuple(t for t in range(1, cut + 1) if t not in removed)
    if not kept:
        return (), "discarded"
    return kept, ("kept" if len(kept) == n else "truncated")
