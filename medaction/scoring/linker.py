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

from medaction.scoring.encoders import Encoder, normalise
from medaction.scoring.graph import GraphStore
from medaction.scoring.name_index import name_index

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
    method: str = "none"  # exact | abbreviation | span | encoder | none (mention_linker: head | alias | part | cause)
    mention: str = ""  # the phrase that was linked, where a mention was extracted first (mention_linker.py)


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
        self.index = name_index(graph, encoder, encoder_config)
        allowed_nodes = np.zeros(graph.n_nodes, dtype=bool)
        allowed_nodes[graph.nodes_of_types(self.types)] = True
        if extra_nodes is not None:
            allowed_nodes[np.asarray(extra_nodes, dtype=np.int64)] = True
        self._entry_mask = allowed_nodes[self.index.nodes]
        # Tie-break among nodes sharing a key: allowed-type priority, the node's own name over a synonym, then
        # the better connected node. Entries are visited best-first, so the first one to claim a key keeps it.
        entries = np.flatnonzero(self._entry_mask)
        nodes = self.index.nodes[entries]
        type_rank = np.array([rank.get(t, len(rank)) for t in graph.types], dtype=np.int64)[graph.type_code[nodes]]
        order = entries[np.lexsort((-graph.degree[nodes], ~self.index.is_name[entries], type_rank))]
        keys, all_nodes = self.index.keys, self.index.nodes
        self._exact: dict[str, int] = {}
        for j in order.tolist():
            self._exact.setdefault(keys[j], int(all_nodes[j]))
        self._max_span = max((len(k.split()) for k in self._exact), default=1)
        self._cache: dict[str, Link] = {}

    @property
    def encoder(self) -> Encoder:
        return self.index.encoder

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
        if not texts or not self._entry_mask.any():
            return [(None, 0.0)] * len(texts)
        matrix = self.index.matrix
        q = self.index.encoder.encode([self._query_text(t) for t in texts])
        out: list[tuple[int | None, float]] = []
        step = max(1, (1 << 25) // max(matrix.shape[0], 1))  # ~128 MB of float32 scores per block, any graph size
        for lo in range(0, q.shape[0], step):
            sims = q[lo:lo + step] @ matrix.T
            sims = sims.toarray() if hasattr(sims, "toarray") else np.asarray(sims)
            sims[:, ~self._entry_mask] = -1.0  # other node types share the index but are not allowed here
            best = sims.argmax(axis=1)
            out += [(int(self.index.nodes[j]), float(sims[i, j])) for i, j in enumerate(best)]
        return out

    # -- API ---------------------------------------------------------------------------------------------
    def link(self, text: str) -> Link:
        return self.link_many([text])[0]

    def link_many(self, texts: Sequence[str]) -> list[Link]:
        todo: list[str] = []
        spans: dict[str, tuple[int | None, float]] = {}
        for t in dict.fromkeys(texts):
            if t in self._cache:
                continue
            key = normalise(t)
            if not key or all(w in GENERIC for w in key.split()):  # "focal", "carcinoma": too broad to link
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
