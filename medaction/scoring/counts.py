"""Decision counts over scored shard rows: who decided each trajectory (DTC/RAC or the fallback), what happened to
it, and how much could be measured at all (s* and top-1 link rates, the free-form share and its top-1 share).

One accumulator for the engine's run summary (fed row by row by the shard writer) and for `medaction score`;
docs/design.md "What cannot be measured" defines the terms.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


class DecisionCounts(msgspec.Struct, kw_only=True):
    trajectories: int = 0
    decided: dict[str, int] = {}  # decided_by -> trajectories ("" = not scored)
    verdicts: dict[str, int] = {}  # "decided_by/verdict" -> trajectories
    truth_scored: int = 0  # trajectories whose scorer tried to link s*
    truth_linked: int = 0
    turns: int = 0
    top1_turns: int = 0  # turns with a top-1 (parsed or extracted)
    top1_linked: int = 0
    by_turn: list[list[int]] = []  # per 1-based turn index: [turns, with a top-1, top-1 linked]
    free_trajectories: int = 0
    free_turns: int = 0
    free_top1: int = 0  # free-form turns that got a top-1
    free_extracted: int = 0  # ... of which from the extractor (no structured differential)

    def add_row(self, row: dict[str, Any]) -> None:
        self.trajectories += 1
        by = row.get("decided_by") or ""
        verdict = row.get("verdict") or "kept"
        self.decided[by] = self.decided.get(by, 0) + 1
        key = f"{by}/{verdict}"
        self.verdicts[key] = self.verdicts.get(key, 0) + 1
        if row.get("truth_linked") is not None:
            self.truth_scored += 1
            self.truth_linked += bool(row["truth_linked"])
        n = int(row.get("n_turns") or 0)
        linked = list(row.get("top1_linked") or ())
        source = list(row.get("top1_source") or ())
        free = row.get("mode") == "free"
        self.turns += n
        self.free_trajectories += free
        while len(self.by_turn) < n:
            self.by_turn.append([0, 0, 0])
        for i in range(n):
            lk = linked[i] if i < len(linked) else None
            src = source[i] if i < len(source) else ""
            has = lk is not None
            self.by_turn[i][0] += 1
            self.by_turn[i][1] += has
            self.by_turn[i][2] += bool(lk)
            self.top1_turns += has
            self.top1_linked += bool(lk)
            if free:
                self.free_turns += 1
                self.free_top1 += has
                self.free_extracted += src == "extracted"

    def _verdict(self, by: str | None, verdict: str) -> int:
        return sum(v for k, v in self.verdicts.items()
                   if k.rsplit("/", 1)[1] == verdict and (by is None or k.rsplit("/", 1)[0] == by))

    def report(self) -> dict[str, Any]:
        return {
            "trajectories": self.trajectories,
            "decided_by_dtc_rac": self.decided.get("dtc+rac", 0),
            "decided_by_fallback": self.decided.get("fallback", 0),
            "decided_by_other_filter": self.decided.get("correctness", 0) + self.decided.get("none", 0),
            "not_scored": self.decided.get("", 0),
            "kept_whole": self._verdict(None, "kept"),
            "truncated": self._verdict(None, "truncated"),
            "discarded": self._verdict(None, "discarded"),
            "dtc_rac": {v: self._verdict("dtc+rac", v) for v in ("kept", "truncated", "discarded")},
            "fallback": {v: self._verdict("fallback", v) for v in ("kept", "discarded")},
            "truth_link_rate": _rate(self.truth_linked, self.truth_scored),
            "top1_share": _rate(self.top1_turns, self.turns),
            "top1_link_rate": _rate(self.top1_linked, self.top1_turns),
            "top1_link_rate_by_turn": [_rate(r[2], r[1]) for r in self.by_turn],
            "free_trajectories": self.free_trajectories,
            "free_turn_share": _rate(self.free_turns, self.turns),
            "free_top1_share": _rate(self.free_top1, self.free_turns),
            "free_extracted_share": _rate(self.free_extracted, self.free_turns),
        }


def counts_from_rows(rows: Iterable[dict[str, Any]]) -> DecisionCounts:
    c = DecisionCounts()
    for r in rows:
        c.add_row(r)
    return c


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def summary_lines(rep: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines of a `report()` for the run summary table and `medaction score`."""
    if not rep or not rep.get("trajectories"):
        return [("filter decisions", "-")]
    d, f = rep["dtc_rac"], rep["fallback"]
    by_turn = " ".join(f"t{i + 1}={_pct(x)}" for i, x in enumerate(rep["top1_link_rate_by_turn"][:12]))
    return [
        ("decided by DTC/RAC", f"{rep['decided_by_dtc_rac']} (kept {d['kept']}, truncated {d['truncated']}, "
                               f"discarded {d['discarded']})"),
        ("decided by fallback", f"{rep['decided_by_fallback']} (kept {f['kept']}, discarded {f['discarded']})"),
        ("other filter / not scored", f"{rep['decided_by_other_filter']} / {rep['not_scored']}"),
        ("kept whole / truncated / discarded", f"{rep['kept_whole']} / {rep['truncated']} / {rep['discarded']}"),
        ("truth link rate", _pct(rep["truth_link_rate"])),
        ("top-1 link rate", f"{_pct(rep['top1_link_rate'])} of turns with a top-1 ({_pct(rep['top1_share'])} "
                            f"of turns have one)"),
        ("top-1 link rate per turn", by_turn or "-"),
        ("free-form share (turns)", f"{_pct(rep['free_turn_share'])}; {rep['free_trajectories']} trajectories"),
        ("free-form turns with a top-1", f"{_pct(rep['free_top1_share'])} (extracted from free text: "
                                         f"{_pct(rep['free_extracted_share'])})"),
    ]
