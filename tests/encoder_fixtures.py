"""A real (if simple) TextEncoder for tests that inject one: hashed character trigrams, no model weights."""

from __future__ import annotations

import zlib

import numpy as np


class TrigramEncoder:
    """Bag of character trigrams of the lowercased text, hashed into `dim` buckets. `pad` adds word-boundary spaces
    so the first and last characters form trigrams of their own."""

    def __init__(self, dim: int = 512, *, pad: bool = True) -> None:
        self.dim = dim
        self.pad = pad

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim))
        for i, t in enumerate(texts):
            s = f"  {t.lower()} " if self.pad else t.lower()
            for j in range(len(s) - 2):
                out[i, zlib.crc32(s[j : j + 3].encode()) % self.dim] += 1
        return out
