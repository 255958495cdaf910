"""Disorders named by their gene ("DNAJC12 deficiency", "Bethlem myopathy caused by a COL6A2 variant"): a gene
symbol in a genetic context, looked up among the graph's gene nodes, gives the diseases the graph links to that
gene. The diagnosis linker chooses among them (mention_linker.py; docs/notes/linking.md)."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from medaction.scoring.graph import GraphStore

GENE_SYMBOL = re.compile(r"\b[A-Z][A-Z0-9]{2,9}\b")  # HGNC style: "COL6A2", "SYNGAP1", "TET3"
# words that make a symbol a gene rather than a test or a spinal level ("AFP levels", "C2 to T4")
GENETIC = re.compile(r"\b(?:mutations?|variants?|variations?|genes?|deletions?|duplications?|deficiency|related|"
                     r"associated|pathogenic|homozygous|heterozygous|biallelic|hemizygous|de novo)\b", re.I)


class GeneDiseases:
    """Gene symbol -> the graph's diseases of that gene; the symbol table is built on first use."""

    def __init__(self, graph: GraphStore, is_disease: Callable[[int], bool]) -> None:
        self.graph = graph
        self.is_disease = is_disease
        self._genes: dict[str, int] | None = None

    def _table(self) -> dict[str, int]:
        if self._genes is None:
            codes = self.graph.type_codes(["gene"])
            genes = np.flatnonzero(np.isin(self.graph.type_code, codes)) if len(codes) else np.array([], dtype=np.int64)
            names = self.graph.nodes.column("name").to_pylist()
            self._genes = {names[int(i)]: int(i) for i in genes}
        return self._genes

    def named_in(self, text: str) -> list[tuple[str, list[int]]]:
        """(symbol, disease nodes) for each gene symbol of `text` in order, when the text speaks of genetics."""
        genes = self._table()
        if not genes or not GENETIC.search(text):
            return []
        out = []
        for symbol in GENE_SYMBOL.findall(text):
            g = genes.get(symbol)
            if g is not None:
                out.append((symbol, [int(j) for j in self.graph.neighbors(g) if self.is_disease(int(j))]))
        return out
