"""The fixed hard subset: a committed list of case ids chosen once by a rule that does not depend on the evaluated
model (docs/eval.md, "Hard subset"), so two evals of the same cases report Hard columns on the same cases.

`data/hard_<source>.json` is the list of a case source, written by `scripts/make_hard_subset.py` with its rule,
reference policy and source file (name + sha256) in the file. A source without such a file (AgentClinic: no
rare-disease flags) has no hard subset, and the report says so.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

DATA = Path(__file__).parent / "data"


class ReferencePolicy(msgspec.Struct, frozen=True, kw_only=True):
    backend: str
    seed: int
    max_turns: int
    mode: str
    oracle: str


class HardSet(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    source: str
    source_file: str
    source_sha256: str
    rule: str
    reference_policy: ReferencePolicy
    n_source_cases: int
    n_rare: int
    case_ids: tuple[str, ...]


def default_path(source: str) -> Path:
    return DATA / f"hard_{source}.json"


def load_hard_set(path: str | Path) -> HardSet:
    p = Path(path)
    try:
        return msgspec.json.decode(p.read_bytes(), type=HardSet)
    except (OSError, msgspec.DecodeError) as exc:
        raise ValueError(f"{p}: not a hard-subset list: {exc}") from None


def hard_set_for(source: str, path: str | Path = "") -> HardSet | None:
    """The given list, else the committed one of `source`, else None (the source has no hard subset)."""
    if path:
        return load_hard_set(path)
    p = default_path(source)
    return load_hard_set(p) if p.is_file() else None
