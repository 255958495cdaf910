"""Entity linker: free text -> one graph node within allowed node types, with a score and a threshold.

Order (DESIGN "Scoring"): (1) exact match of the normalised text, or of its abbreviation expansion, against node
names and synonyms; (2) the most SPECIFIC contained match: the longest token span of the text that is a node
name/synonym, scored by how much of the text it covers, so "renal cell carcinoma of the kidney" links to
"renal cell carcinoma" and never to the broad "carcinoma" or "focal" alone; (3) the encoder's nearest neighbour
over the index of names + synonyms. The best of (2) and (3) wins; below `threshold` the entity is unlinked.
Results are cached per linker (one linker per run and type set); `link_many` encodes the misses in one batch.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

import msgspec
import numpy as np

from medaction.scoring.encoders import Encoder, build_encoder, normalise
from medaction.scoring.graph import GraphStore

# Words that never make a match on their own: spans made only of these are skipped.
GENERIC = frozenset(
    "of the a an and or in on with to for by from due secondary acute chronic disease disorder syndrome type "
    "left right bilateral primary infection deficiency abnormality abnormal focal benign malignant severe mild "
    "carcinoma cancer tumor tumour neoplasm lesion failure pain fulminant stage grade i ii iii iv typical atypical "
    "low high isolated unilateral complete incomplete infected traumatic recurrent persistent adult variant "
    "associated induced related".split()
)
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
# The head clause names the primary diagnosis: "Myocarditis associated with rhinovirus" -> "Myocarditis".
_CLAUSE = re.compile(r"\s(?:associated with|secondary to|due to|caused by|causing|complicated by|with|from|and|"
                     r"in the|of the (?:left|right))\s|[,;:.]\s|\s\(", re.IGNORECASE)


class Link(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    node: int | None  # graph row index; None = unlinked
    node_id: str = ""
    name: str = ""
    score: float = 0.0
    method: str = "none"  # exact | abbreviation | span | encoder | none


def load_abbreviations() -> dict[str, str]:
    text = (resources.files("medaction.scoring") / "data" / "abbreviations.tsv").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            k, _, v = line.partition("\t")
            out[normalise(k)] = normalise(v)
    return out


class EntityLinker:
    def __init__(self, graph: GraphStore, *, types: Sequence[str] | None = None, encoder: str | Encoder = "lexical",
                 threshold: float = 0.5, encoder_config: dict[str, Any] | None = None,
                 extra_nodes: np.ndarray | None = None) -> None:
        """`types` are allowed node types in priority order (earlier wins ties); `extra_nodes` adds node rows."""
        self.graph = graph
        self.types = tuple(types) if types else graph.types
        self.threshold = threshold
        self.abbrev = load_abbreviations()
        rank = {t: i for i, t in enumerate(self.types)}
        allowed = graph.nodes_of_types(self.types)
        if extra_nodes is not None:
            allowed = np.union1d(allowed, extra_nodes)
        names = graph.nodes.column("name").to_pylist()
        syns = graph.nodes.column("synonyms").to_pylist()
        deg = graph.degree
        type_of = [graph.types[c] for c in graph.type_code[allowed]]
        self._entry_text: list[str] = []
        self._entry_node: list[int] = []
        exact: dict[str, tuple[tuple[int, int, int], int]] = {}
        for node, t in zip(allowed.tolist(), type_of):
            for k, text in enumerate([names[node], *(syns[node] or [])]):
                key = normalise(text or "")
                if not key:
                    continue
                self._entry_text.append(text)
                self._entry_node.append(node)
                # tie-break: allowed-type priority, the node's own name over a synonym, then the better connected
                pref = (rank.get(t, len(rank)), 0 if k == 0 else 1, -int(deg[node]))
                if key not in exact or pref < exact[key][0]:
                    exact[key] = (pref, node)
        self._exact = {k: v[1] for k, v in exact.items()}
        self._max_span = max((len(k.split()) for k in self._exact), default=1)
        self._entry_node_arr = np.asarray(self._entry_node, dtype=np.int64)
        if isinstance(encoder, str):
            self.encoder = build_encoder(encoder, self._entry_text, **(encoder_config or {}))
        else:
            self.encoder = encoder
        self._index: Any = None  # encoded entries, built on the first encoder query
        self._cache: dict[str, Link] = {}

    # -- stages -----------------------------------------------------------------------------------------
    def _make(self, text: str, node: int | None, score: float, method: str) -> Link:
        if node is None or score < self.threshold:
            return Link(text=text, node=None, score=float(score), method="none")
        row = self.graph.node(node)
        return Link(text=text, node=int(node), node_id=row["id"], name=row["name"], score=float(score), method=method)

    def _variants(self, text: str) -> list[str]:
        """The text, without parentheticals, and its head clause (most specific first)."""
        bare = _PAREN.sub(" ", text)
        keys = [normalise(text), normalise(bare), normalise(_CLAUSE.split(f"{bare.strip()} ", 1)[0])]
        return [k for i, k in enumerate(keys) if k and k not in keys[:i]]

    def _query_text(self, text: str) -> str:
        """Encoder query: the head clause with abbreviations expanded ("BPPV" -> the full name)."""
        head = self._variants(text)[-1] if normalise(text) else text
        return " ".join(self.abbrev.get(w, w) for w in head.split()) or text

    def _exact_stage(self, text: str) -> Link | None:
        for key in self._variants(text):
            if all(w in GENERIC for w in key.split()):
                continue  # a head clause like "Acute" alone is never a diagnosis
            if key in self._exact:
                return self._make(text, self._exact[key], 1.0, "exact")
            expanded = " ".join(self.abbrev.get(w, w) for w in key.split())
            if expanded != key and expanded in self._exact:
                return self._make(text, self._exact[expanded], 1.0, "abbreviation")
        return None

    def _span_stage(self, text: str) -> tuple[int | None, float]:
        best: tuple[float, int | None] = (0.0, None)
        for key in self._variants(text):
            words = [self.abbrev.get(w, w) for w in key.split()]
            words = " ".join(words).split()
            content = [w for w in words if w not in GENERIC] or words
            for size in range(min(len(words), self._max_span), 0, -1):
                for i in range(len(words) - size + 1):
                    span = words[i:i + size]
                    if all(w in GENERIC for w in span):
                        continue
                    node = self._exact.get(" ".join(span))
                    if node is not None:
                        covered = sum(1 for w in span if w not in GENERIC) / len(content)
                        score = min(covered, 1.0) * 0.95  # a partial match never beats an exact one
                        if score > best[0]:
                            best = (score, node)
                if best[1] is not None:
                    break  # longest matching span wins: the most specific concept
        return best[1], best[0]

    def _encoder_stage(self, texts: list[str]) -> list[tuple[int | None, float]]:
        if not texts or not self._entry_text:
            return [(None, 0.0)] * len(texts)
        if self._index is None:
            self._index = self.encoder.encode(self._entry_text)
        q = self.encoder.encode([self._query_text(t) for t in texts])
        sims = q @ self._index.T
        sims = sims.toarray() if hasattr(sims, "toarray") else np.asarray(sims)
        best = sims.argmax(axis=1)
        return [(int(self._entry_node_arr[j]), float(sims[i, j])) for i, j in enumerate(best)]

    # -- API ---------------------------------------------------------------------------------------------
    def link(self, text: str) -> Link:
        return self.link_many([text])[0]

    def link_many(self, texts: Sequence[str]) -> list[Link]:
        todo: list[str] = []
        spans: dict[str, tuple[int | None, float]] = {}
        for t in dict.fromkeys(texts):
            if t in self._cache:
                continue
            if not normalise(t):
                self._cache[t] = Link(text=t, node=None)
                continue
            hit = self._exact_stage(t)
            if hit is not None and hit.node is not None:
                self._cache[t] = hit
                continue
            spans[t] = self._span_stage(t)
            if spans[t][0] is None or spans[t][1] < 0.95:
                todo.append(t)
        enc = dict(zip(todo, self._encoder_stage(todo)))
        for t, (snode, sscore) in spans.items():
            enode, escore = enc.get(t, (None, 0.0))
            if enode is not None and escore > sscore:
                self._cache[t] = self._make(t, enode, escore, "encoder")
            else:
                self._cache[t] = self._make(t, snode, sscore, "span")
        return [self._cache[t] for t in texts]
