"""The deterministic oracle f: free-text test requests -> documented menu results, or UNAVAILABLE.

Matching (TestMatcher): normalise, tag with the curated vocabulary (concepts with parents and panel members,
specimen and anatomy qualifiers), then per menu item:
- a conflicting specimen or anatomy (urine vs blood, head vs chest) never matches;
- shared concept, or one is a panel holding the other ("CBC" <-> "Hemoglobin") -> strong match;
- a group request ("blood work", "imaging") -> strong match on items of that kind;
- otherwise token-set overlap of content words -> weak match (used only if nothing matched strongly);
- optionally, an injected TextEncoder: cosine similarity when nothing matched lexically.
Several items may match. Everything is a pure function of (menu, request): deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from medaction.envs.types import UNAVAILABLE, Environment, OracleReply, TestItem
from medaction.envs.vocab import Tagged, Vocabulary, default_vocabulary


EXACT, RELATED, WEAK = 3, 2, 1
MAX_REQUEST_CHARS = 300


class TextEncoder(Protocol):
    """Any sentence encoder: one row per text (rows need not be normalised)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class _Entry:
    names: tuple[Tagged, ...]  # name and aliases, with the category's qualifiers added
    categories: tuple[Tagged, ...]  # each level of the category path
    kinds: frozenset[str]


def _with_qualifiers(t: Tagged, extra: Sequence[Tagged]) -> Tagged:
    # The category's specimen wins: "WBC" filed under "Urinalysis" is a urine WBC.
    cat_spec = set().union(*(e.specimens for e in extra)) if extra else set()
    spec = cat_spec or set(t.specimens)
    anat = set(t.anatomy).union(*(e.anatomy for e in extra)) if extra else set(t.anatomy)
    return Tagged(t.concepts, t.expanded, t.groups, frozenset(spec), frozenset(anat), t.words)


def _word_match(r: frozenset[str], f: frozenset[str]) -> bool:
    if not r or not f:
        return False
    inter = len(r & f)
    if inter == 0:
        return False
    cr, cf = inter / len(r), inter / len(f)
    return (cf == 1.0 and cr >= 0.5) or (cr == 1.0 and cf >= 0.5) or 3 * inter >= len(r) + len(f)  # F1 >= 2/3


class TestMatcher:
    """Deterministic request -> menu indices matcher (also used by the eval layer's offline judge)."""

    __test__ = False

    def __init__(
        self,
        tests: Sequence[TestItem],
        *,
        vocabulary: Vocabulary | None = None,
        encoder: TextEncoder | None = None,
        encoder_threshold: float = 0.8,
    ) -> None:
        self.tests = tuple(tests)
        self.vocab = vocabulary or default_vocabulary()
        self.encoder = encoder
        self.encoder_threshold = encoder_threshold
        self._entries = [self._entry(t) for t in self.tests]
        self._emb: np.ndarray | None = None

    def _entry(self, t: TestItem) -> _Entry:
        cats = tuple(self.vocab.tag(c) for c in t.category.split(" > ") if c.strip())
        names = tuple(_with_qualifiers(self.vocab.tag(n), cats) for n in (t.name, *t.aliases) if n.strip())
        kinds: set[str] = set()
        for tag in (*names, *cats):
            kinds |= self.vocab.kind_of(tag) | set(tag.groups)
        return _Entry(names, cats, frozenset(kinds))

    # --- one field ---------------------------------------------------------------------------------------
    def _conflict(self, r: Tagged, f: Tagged) -> bool:
        return bool(
            (r.specimens and f.specimens and not r.specimens & f.specimens)
            or (r.anatomy and f.anatomy and not self.vocab.near(r.anatomy) & f.anatomy)
        )

    def _concepts(self, r: Tagged, f: Tagged, *, reverse: bool) -> int | None:
        """EXACT/RELATED/0 when concepts decide; None when one side names no test concept."""
        if not r.concepts or not f.concepts:
            return None
        if r.concepts & f.expanded or any(self.vocab.members(c) & f.expanded for c in r.concepts):
            return EXACT  # the test asked for (or a narrower form), or an analyte of the panel asked for
        if reverse and (f.concepts & r.expanded or any(self.vocab.members(c) & r.concepts for c in f.concepts)):
            return RELATED  # the menu holds a broader test ("X-ray" for "abdominal x-ray") or the whole panel
        return 0

    def _score(self, r: Tagged, e: _Entry) -> int:
        """EXACT, RELATED, WEAK (word overlap only) or 0."""
        best = 0
        refused = False  # the item's own name names a different test: its category cannot pull it in
        for f in e.names:
            if self._conflict(r, f):
                continue
            decided = self._concepts(r, f, reverse=True)
            if decided:
                best = max(best, decided)
                continue
            # Only a rival of the same kind refuses ("CT angiography" is not the "ultrasound" of its category,
            # but "WBC" filed under "Urinalysis" is part of a urinalysis).
            # `decided == 0`: both sides name test concepts and they differ (None = one names none: no rival).
            refused |= decided == 0 and bool(self.vocab.kind_of(r) & self.vocab.kind_of(f))
            if decided is None and _word_match(r.words, f.words):
                best = max(best, WEAK)
        if best == EXACT:
            return best
        for c in ([] if refused else e.categories):  # "CBC" selects every analyte filed under Complete blood count
            if not self._conflict(r, c) and (self._concepts(r, c, reverse=False) or (
                not c.concepts and not c.groups and not r.concepts and _word_match(r.words, c.words)
            )):
                return EXACT
        if r.groups and not r.concepts and r.groups & e.kinds:
            if not any(self._conflict(r, f) for f in e.names):
                return EXACT
        return best

    # --- public ------------------------------------------------------------------------------------------
    def match(self, request: str) -> tuple[int, ...]:
        # Model output is untrusted: a "request" longer than any test name is cut, not scanned in full.
        r = self.vocab.tag(request[:MAX_REQUEST_CHARS])
        if not (r.concepts or r.groups or r.words):
            return ()
        scores = [self._score(r, e) for e in self._entries]
        top = max(scores, default=0)
        if top == 0:
            return self._encoder_match(request)
        hits = [i for i, s in enumerate(scores) if s == top]
        # Among equals, the request's other words decide: "lymph node biopsy" prefers "Lymph node biopsies"
        # to another biopsy; ties (a whole panel, a category) all stay.
        overlap = {i: max((len(r.words & f.words) for f in self._entries[i].names), default=0) for i in hits}
        most = max(overlap.values())
        return tuple(i for i in hits if overlap[i] == most)

    def _encoder_match(self, request: str) -> tuple[int, ...]:
        if self.encoder is None or not self.tests:
            return ()
        if self._emb is None:
            texts = [f"{t.name} ({t.category})" if t.category else t.name for t in self.tests]
            self._emb = _unit(np.asarray(self.encoder.encode(texts), dtype=np.float64))
        q = _unit(np.asarray(self.encoder.encode([request]), dtype=np.float64))[0]
        sims = self._emb @ q
        return tuple(int(i) for i in np.flatnonzero(sims >= self.encoder_threshold))


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


class Oracle:
    """Answers a turn's test requests from one environment's menu."""

    def __init__(self, env: Environment, *, encoder: TextEncoder | None = None) -> None:
        self.env = env
        self.matcher = TestMatcher(env.tests, encoder=encoder)

    def answer(self, requests: Sequence[str]) -> list[OracleReply]:
        return [self.answer_one(r) for r in requests]

    def answer_one(self, request: str) -> OracleReply:
        idx = self.matcher.match(request) if isinstance(request, str) else ()
        if not idx:
            return OracleReply(request=str(request), matched=(), result=UNAVAILABLE, available=False)
        items = [self.env.tests[i] for i in idx]
        if len(items) == 1:
            result = items[0].result
        else:
            result = "\n".join(f"{_label(t)}: {t.result}" for t in items)
        return OracleReply(request=request, matched=tuple(_label(t) for t in items), result=result, available=True)


def _label(t: TestItem) -> str:
    return f"{t.category} > {t.name}" if t.category else t.name
