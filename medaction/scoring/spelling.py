"""Spelling slips in diagnosis words: an unknown word's nearest vocabulary word, when it is a slip of that word
("Hirschprung" -> "hirschsprung") and not another word form ("irritable" is not "irritability")."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Any


class SpellingFixer:
    """Nearest vocabulary word (char n-gram cosine >= `similarity`) for each unknown word, cached per word; the
    n-gram index over the vocabulary is built on the first lookup."""

    def __init__(self, vocab: Iterable[str], similarity: float) -> None:
        self.similarity = similarity
        self._vocab = sorted(w for w in set(vocab) if len(w) >= 4 and not w.isdigit())
        self._index: Any = None
        self._cache: dict[str, str | None] = {}

    def seen(self, word: str) -> bool:
        return word in self._cache

    def fix(self, words: list[str]) -> dict[str, str | None]:
        todo = [w for w in dict.fromkeys(words) if w not in self._cache]
        if todo:
            if self._index is None:
                from medaction.scoring.encoders import LexicalEncoder

                enc = LexicalEncoder(self._vocab)
                self._index = (enc, enc.encode(self._vocab).T.tocsr())
            enc, mat_t = self._index
            for lo in range(0, len(todo), 512):  # blocks keep the dense score matrix small
                block = todo[lo:lo + 512]
                sims = (enc.encode(block) @ mat_t).toarray()
                best = sims.argmax(axis=1)
                for i, w in enumerate(block):
                    cand = self._vocab[int(best[i])]
                    # n-gram cosine finds the neighbour; the edit ratio keeps it to spelling slips ("Hirschprung"),
                    # not other word forms ("irritable" is not "irritability")
                    ok = (len(w) >= 5 and sims[i, best[i]] >= self.similarity and cand[0] == w[0]
                          and SequenceMatcher(None, w, cand).ratio() >= 0.88)
                    self._cache[w] = cand if ok else None
        return {w: self._cache[w] for w in words}
