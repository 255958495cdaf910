"""Shared types of the scoring layer (paper 3.3 Stage 3)."""

from __future__ import annotations

from typing import Literal

import msgspec

from medaction.tree.types import Trajectory

Verdict = Literal["kept", "truncated", "discarded"]


class ScoredTrajectory(msgspec.Struct, frozen=True, kw_only=True):
    """DTC/RAC per turn (index i = turn i+1; None where undefined, e.g. RAC at turn 1) and the kept turns."""

    trajectory: Trajectory
    dtc: tuple[int | None, ...] = ()
    rac: tuple[float | None, ...] = ()
    kept_turns: tuple[int, ...] = ()  # 1-based turn numbers kept after pruning
    verdict: Verdict = "kept"
    correct: bool | None = None  # final diagnosis matches s* (correctness filter)
    graph: str = ""  # which graph scored this (named in every report)
    scorer: str = "identity"
    # What decided the verdict and what could be measured (docs/design.md "What cannot be measured"):
    decided_by: str = ""  # "dtc+rac" | "fallback" | "correctness" | "none"; "" = not scored (identity)
    truth_linked: bool | None = None  # s* linked to the DTC graph; None = not scored
    top1_linked: tuple[bool | None, ...] = ()  # per turn: top-1 linked / unlinked / None = no top-1 at all
    top1_source: tuple[str, ...] = ()  # per turn: "parsed" | "extracted" (from free text) | "" (none)
