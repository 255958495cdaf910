"""One index of node names + synonyms per (graph, encoder), shared by every linker on that graph.

Linkers for different type sets (diagnoses, tests) filter the shared entries by a mask, so the encoder is fitted
and the ~55k HPO names are encoded once per process. Where the graph came from a store directory, the encoded
index (and the lexical encoder's vocabulary) is cached beside it (`linker-<encoder>.npz`, plain arrays, no pickle),
keyed by the graph's identity and INDEX_VERSION, so the main job and Ray workers load it instead of re-encoding.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from medaction.scoring.encoders import Encoder, LexicalEncoder, build_encoder, normalise
from medaction.scoring.graph import GraphStore


INDEX_VERSION = 2  # bump when normalise() or the entry rules change: invalidates cached indexes


class NameIndex:
    def __init__(self, graph: GraphStore, encoder: str | Encoder, encoder_config: dict[str, Any] | None = None,
                 cache_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._graph = graph
        # the graph's identity: a store's describe() plus its array sizes (a rebuilt store has a new stamp)
        ident = f"v{INDEX_VERSION}|{graph.describe()}|{graph.indices.size}|{graph.meta.get('source_stamp', '')}"
        self._digest = hashlib.sha1(ident.encode()).hexdigest()[:16]
        if not self._load_entries():
            self._build_entries()
        self._encoder_spec, self._encoder_config = encoder, dict(encoder_config or {})
        self._encoder: Encoder | None = None if isinstance(encoder, str) else encoder
        self._matrix: Any = None

    def _build_entries(self) -> None:
        names = self._graph.nodes.column("name").to_pylist()
        syns = self._graph.nodes.column("synonyms").to_pylist()
        texts: list[str] = []
        keys: list[str] = []
        nodes: list[int] = []
        is_name: list[bool] = []
        for node, (name, syn) in enumerate(zip(names, syns)):
            for k, text in enumerate([name, *(syn or [])]):
                key = normalise(text) if text else ""
                if key:
                    texts.append(text)
                    keys.append(key)
                    nodes.append(node)
                    is_name.append(k == 0)
        self._texts: list[str] | None = texts
        self.keys = keys
        self.nodes = np.asarray(nodes, dtype=np.int64)
        self.is_name = np.asarray(is_name, dtype=bool)
        if self._cache_dir is not None:
            _savez(self._cache_dir / "linker-entries.npz", digest=np.array(self._digest), keys=_pack(keys),
                   texts=_pack(texts), nodes=self.nodes, is_name=self.is_name)

    def _load_entries(self) -> bool:
        f = self._cache_dir / "linker-entries.npz" if self._cache_dir else None
        if f is None or not f.is_file():
            return False
        try:
            with np.load(f, allow_pickle=False) as z:
                if str(z["digest"]) != self._digest:
                    return False
                self.keys = _unpack(z["keys"])
                self.nodes, self.is_name = z["nodes"], z["is_name"]
            self._texts = None  # loaded only if an encoder must be fitted or run on them
            return True
        except (KeyError, ValueError, OSError):
            return False

    @property
    def texts(self) -> list[str]:
        if self._texts is None:
            with np.load(self._cache_dir / "linker-entries.npz", allow_pickle=False) as z:  # type: ignore[operator]
                self._texts = _unpack(z["texts"])
        return self._texts

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._load_or_build()
        return self._encoder  # type: ignore[return-value]

    @property
    def matrix(self) -> Any:
        if self._matrix is None:
            self._load_or_build()
        return self._matrix

    def _cache_file(self) -> Path | None:
        if self._cache_dir is None or not isinstance(self._encoder_spec, str) or self._encoder_config:
            return None  # model-directory encoders are keyed by more than their name: not cached
        return self._cache_dir / f"linker-{self._encoder_spec}.npz"

    def _load_or_build(self) -> None:
        f = self._cache_file()
        if f is not None and f.is_file():
            try:
                self._load(f)
                return
            except (KeyError, ValueError, OSError):
                pass  # stale or partial cache: rebuild below
        if self._encoder is None:
            self._encoder = build_encoder(str(self._encoder_spec), self.texts, **self._encoder_config)
        self._matrix = self._encoder.encode(self.texts)
        if f is not None:
            self._save(f)

    def _save(self, f: Path) -> None:
        arrays: dict[str, np.ndarray] = {"digest": np.array(self._digest)}
        m = self._matrix
        if hasattr(m, "tocsr"):
            m = m.tocsr()
            arrays.update(data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape))
        else:
            arrays["dense"] = np.asarray(m)
        if isinstance(self._encoder, LexicalEncoder):
            vocab = sorted(self._encoder.vocab, key=self._encoder.vocab.__getitem__)
            arrays.update(vocab=np.array(vocab), idf=self._encoder.idf, ngram=np.array(self._encoder.ngram))
        _savez(f, **arrays)

    def _load(self, f: Path) -> None:
        with np.load(f, allow_pickle=False) as z:
            if str(z["digest"]) != self._digest:
                raise ValueError("index cache is for other entries")
            if "dense" in z.files:
                matrix: Any = z["dense"]
            else:
                from scipy import sparse

                matrix = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            if self._encoder is None:
                if self._encoder_spec == "lexical":
                    self._encoder = LexicalEncoder.from_state(z["vocab"].tolist(), z["idf"], tuple(z["ngram"]))
                else:
                    self._encoder = build_encoder(str(self._encoder_spec), [], **self._encoder_config)
        self._matrix = matrix


def _pack(strings: list[str]) -> np.ndarray:
    """Strings as one UTF-8 byte array ("\\x1f"-separated): a numpy unicode array would pad every entry."""
    return np.frombuffer("\x1f".join(strings).encode(), dtype=np.uint8)


def _unpack(blob: np.ndarray) -> list[str]:
    return blob.tobytes().decode().split("\x1f") if blob.size else []


def _savez(f: Path, **arrays: np.ndarray) -> None:
    tmp = f.with_name(f.name + ".tmp.npz")
    try:
        np.savez(tmp, **arrays)
        tmp.replace(f)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only store still works, just without the cache


def name_index(graph: GraphStore, encoder: str | Encoder, encoder_config: dict[str, Any] | None = None) -> NameIndex:
    """The graph's shared index for this encoder (cached on the graph object; never pickled with it)."""
    cache: dict[Any, NameIndex] = graph.__dict__.setdefault("_name_indexes", {})
    key = (encoder if isinstance(encoder, str) else id(encoder), tuple(sorted((encoder_config or {}).items())))
    if key not in cache:
        store_dir = graph.meta.get("store_dir")
        cache[key] = NameIndex(graph, encoder, encoder_config, Path(store_dir) if store_dir else None)
    return cache[key]
