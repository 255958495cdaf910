"""Adapts the scoring layer's entity linker to the offline judge's `text -> node id | None` function.

Linked-node equality is a synonym table backed by the graph (names + synonyms of diseases and phenotype terms).
Only near-certain links count (exact/abbreviation matches or a span covering all content words; no encoder
neighbours: the judge's own close-string rule already covers near-identical spellings), because two different diagnoses that both link loosely to one broad node
("ectopic pregnancy" for "tubal ..." and "interstitial ...") must not be judged the same.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

DX_TYPES = ("disease", "phenotype")


class NoNeighbours:
    """An encoder that finds no neighbours (all similarities 0): the linker keeps its exact and span stages only."""

    name = "none"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.zeros((len(texts), 1), dtype=np.float32)


@lru_cache(maxsize=2)
def default_link_fn(graph: str = "hpo", threshold: float = 0.9) -> tuple[Callable[[str], str | None] | None, str]:
    try:
        importlib.import_module("medaction.scoring.linker")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("medaction."):
            return None, "unavailable"
        raise
    from medaction.scoring.linker import EntityLinker
    from medaction.scoring.store import load_graph

    store = load_graph(graph)
    linker = EntityLinker(store, types=DX_TYPES, encoder=NoNeighbours(), threshold=threshold)

    def link(text: str) -> str | None:
        hit = linker.link(text)
        return hit.node_id if hit.node is not None else None

    return link, f"{store.name} {'/'.join(DX_TYPES)} exact/span>={threshold:g}"
