"""Graph store: an undirected graph as CSR numpy arrays plus a node table (paper 3.3 Stage 3, DESIGN "Scoring").

The arrays (int32 `indptr`/`indices`, int8 `type_code`) are plain numpy so `ray.put` shares them zero-copy with
workers; the node table is an Arrow table (index, id, type, name, source, synonyms). Caches (id -> index dict,
pair-distance LRU) are rebuilt lazily on the receiving side and never pickled.
"""

from __future__ import annotations

import json
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NODE_SCHEMA = pa.schema(
    [
        ("index", pa.int32()),
        ("id", pa.string()),
        ("type", pa.string()),
        ("name", pa.string()),
        ("source", pa.string()),
        ("synonyms", pa.list_(pa.string())),
    ]
)
FORMAT_VERSION = 1
_PAIR_CACHE_SIZE = 200_000


class GraphError(ValueError):
    """A graph file is missing, malformed or inconsistent (the message names the file and the field)."""


class GraphNotFound(GraphError, FileNotFoundError):
    """No built store at the path (FileNotFoundError so callers with a fallback scorer can catch it)."""


class GraphStore:
    """CSR adjacency (symmetric, no self loops, no duplicate edges) + node table. Node index = CSR row."""

    def __init__(self, *, name: str, indptr: np.ndarray, indices: np.ndarray, nodes: pa.Table,
                 meta: dict[str, Any] | None = None) -> None:
        self.name = name
        if indptr.size and int(indptr[-1]) >= 2**31:
            raise GraphError(f"graph {name!r}: {int(indptr[-1])} CSR entries exceed int32")
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int32)
        self.indices = np.ascontiguousarray(indices, dtype=np.int32)
        if self.indptr.ndim != 1 or self.indptr.size != nodes.num_rows + 1:
            raise GraphError(f"graph {name!r}: indptr has {self.indptr.size} entries for {nodes.num_rows} nodes")
        if int(self.indptr[-1]) != self.indices.size:
            raise GraphError(f"graph {name!r}: indptr[-1]={int(self.indptr[-1])} != len(indices)={self.indices.size}")
        self.nodes = nodes.cast(NODE_SCHEMA) if nodes.schema != NODE_SCHEMA else nodes
        self.meta = dict(meta or {})
        types = self.nodes.column("type").to_pylist()  # to_numpy() on strings would import pandas
        self.types: tuple[str, ...] = tuple(sorted(set(types)))
        if len(self.types) > 127:
            raise GraphError(f"graph {name!r}: {len(self.types)} node types; at most 127 supported")
        lut = {t: i for i, t in enumerate(self.types)}
        self.type_code = np.fromiter((lut[t] for t in types), dtype=np.int8, count=len(types))
        self._reset_caches()

    # -- basics ---------------------------------------------------------------------------------------------
    def _reset_caches(self) -> None:
        self._id_index: dict[str, int] | None = None
        self._pair_cache: OrderedDict[tuple[int, int, int], int] = OrderedDict()
        self._degree: np.ndarray | None = None
        self.__dict__.pop("_name_indexes", None)  # linker indexes (name_index.py), rebuilt on demand

    @property
    def n_nodes(self) -> int:
        return self.nodes.num_rows

    @property
    def n_edges(self) -> int:
        """Undirected edges (each stored twice in CSR)."""
        return self.indices.size // 2

    @property
    def degree(self) -> np.ndarray:
        if self._degree is None:
            self._degree = np.diff(self.indptr).astype(np.int64)
        return self._degree

    def describe(self) -> str:
        counts = np.bincount(self.type_code, minlength=len(self.types))
        by_type = ", ".join(f"{t} {int(c):,}" for t, c in sorted(zip(self.types, counts), key=lambda x: -x[1]))
        return f"{self.name}: {self.n_nodes:,} nodes, {self.n_edges:,} undirected edges ({by_type})"

    def neighbors(self, i: int) -> np.ndarray:
        return self.indices[self.indptr[i]:self.indptr[i + 1]]

    def index_of(self, node_id: str) -> int | None:
        if self._id_index is None:
            ids = self.nodes.column("id").to_pylist()
            self._id_index = {v: k for k, v in enumerate(ids)}
        return self._id_index.get(node_id)

    def node(self, i: int) -> dict[str, Any]:
        return self.nodes.slice(i, 1).to_pylist()[0]

    def type_codes(self, types: tuple[str, ...] | list[str] | None) -> np.ndarray:
        """Codes of the given type names that exist in this graph (all types when None)."""
        if types is None:
            return np.arange(len(self.types), dtype=np.int8)
        return np.array([self.types.index(t) for t in types if t in self.types], dtype=np.int8)

    def nodes_of_types(self, types: tuple[str, ...] | list[str] | None) -> np.ndarray:
        return np.flatnonzero(np.isin(self.type_code, self.type_codes(types)))

    # -- pair distance (capped bidirectional BFS, LRU-cached) -----------------------------------------------
    def hop(self, a: int, b: int, cap: int) -> int:
        """Shortest-path hops between nodes a and b; cap + 1 when farther than cap or unreachable."""
        from medaction.scoring.hops import bidirectional_hop

        key = (a, b, cap) if a <= b else (b, a, cap)
        hit = self._pair_cache.get(key)
        if hit is not None:
            self._pair_cache.move_to_end(key)
            return hit
        d = bidirectional_hop(self, a, b, cap)
        self._pair_cache[key] = d
        if len(self._pair_cache) > _PAIR_CACHE_SIZE:
            self._pair_cache.popitem(last=False)
        return d

    # -- shipping to Ray workers: arrays + Arrow table only, caches rebuilt there --------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "indptr": self.indptr, "indices": self.indices, "nodes": self.nodes,
                "meta": self.meta, "types": self.types, "type_code": self.type_code}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_caches()

    # -- persistence ---------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write graph.npz (arrays), nodes.parquet (node table) and meta.json; atomically per file."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / "graph.npz.tmp.npz"
        np.savez(tmp, indptr=self.indptr, indices=self.indices)
        tmp.replace(d / "graph.npz")
        pq.write_table(self.nodes, d / "nodes.parquet.tmp")
        (d / "nodes.parquet.tmp").replace(d / "nodes.parquet")
        kept = {k: v for k, v in self.meta.items() if k != "store_dir"}  # store_dir is set by load()
        meta = {**kept, "name": self.name, "format_version": FORMAT_VERSION, "n_nodes": self.n_nodes,
                "n_edges": self.n_edges, "describe": self.describe()}
        (d / "meta.json.tmp").write_text(json.dumps(meta, indent=1, sort_keys=True))
        (d / "meta.json.tmp").replace(d / "meta.json")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> GraphStore:
        d = Path(directory)
        for f in ("graph.npz", "nodes.parquet", "meta.json"):
            if not (d / f).is_file():
                raise GraphNotFound(f"{d / f}: missing (build the store with `medaction kg build`)")
        try:
            meta = json.loads((d / "meta.json").read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise GraphError(f"{d / 'meta.json'}: not JSON ({exc})") from exc
        if not isinstance(meta, dict):
            raise GraphError(f"{d / 'meta.json'}: expected a JSON object, got {type(meta).__name__}")
        if meta.get("format_version") != FORMAT_VERSION:
            raise GraphError(f"{d / 'meta.json'}: field format_version={meta.get('format_version')!r}, "
                             f"expected {FORMAT_VERSION}; rebuild the store")
        try:
            with np.load(d / "graph.npz", allow_pickle=False) as z:  # never unpickle user files
                for key in ("indptr", "indices"):
                    if key not in z.files:
                        raise GraphError(f"{d / 'graph.npz'}: array {key!r} missing")
                indptr, indices = z["indptr"], z["indices"]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # truncated/damaged: one line
            if isinstance(exc, GraphError):
                raise
            raise GraphError(f"{d / 'graph.npz'}: unreadable ({' '.join(str(exc).split())[:200]})") from None
        try:
            nodes = pq.ParquetFile(d / "nodes.parquet").read()  # read_table would import pandas (~1.5 s)
        except (pa.ArrowException, OSError) as exc:
            raise GraphError(f"{d / 'nodes.parquet'}: unreadable ({' '.join(str(exc).split())[:200]})") from None
        missing = [f.name for f in NODE_SCHEMA if f.name not in nodes.column_names]
        if missing:
            raise GraphError(f"{d / 'nodes.parquet'}: columns {missing} missing")
        meta["store_dir"] = str(d.resolve())  # where derived caches (linker indexes) may live
        return cls(name=meta.get("name", d.name), indptr=indptr, indices=indices,
                   nodes=nodes.select(NODE_SCHEMA.names), meta=meta)


def csr_from_edges(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric, deduplicated, self-loop-free CSR from an edge list (either direction or both)."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise GraphError(f"edge endpoint out of range [0, {n})")
    keep = src != dst
    u = np.concatenate([src[keep], dst[keep]])
    v = np.concatenate([dst[keep], src[keep]])
    key = np.unique(u * n + v)  # sorted by (u, v): rows come out in CSR order
    u, v = key // n, key % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    return indptr.astype(np.int32), v.astype(np.int32)


def node_table(ids: list[str], types: list[str], names: list[str], sources: list[str],
               synonyms: list[list[str]] | None = None) -> pa.Table:
    n = len(ids)
    return pa.Table.from_arrays(
        [pa.array(np.arange(n, dtype=np.int32)), pa.array(ids, pa.string()), pa.array(types, pa.string()),
         pa.array(names, pa.string()), pa.array(sources, pa.string()),
         pa.array(synonyms if synonyms is not None else [[] for _ in range(n)], pa.list_(pa.string()))],
        schema=NODE_SCHEMA,
    )
