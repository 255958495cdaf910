"""The curated test vocabulary (data/test_synonyms.json) and text -> tagged representation for matching."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_MAX_NGRAM = 6
# Words that say "a test" without saying which one; they never decide a match.
GENERIC = frozenset(
    "test tests testing level levels study studies scan scans analysis analyses assay assays result results "
    "finding findings examination examinations exam exams measurement measurements value values profile count "
    "counts screen screening workup evaluation investigation investigations check order repeat report please "
    "obtain get perform performed request requested do run send the a an of for to and with on in at my patient "
    "patients any some also done initial follow up further routine basic complete full quantitative qualitative "
    "titer titre titers serum plasma".split()
)
_GREEK = {"β": "beta", "α": "alpha", "γ": "gamma", "δ": "delta", "κ": "kappa", "µ": "mu", "μ": "mu"}


@dataclass(frozen=True)
class Concept:
    id: str
    kind: str
    names: tuple[str, ...]
    parents: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    group: str = ""
    anatomy: tuple[str, ...] = ()
    specimen: str = ""


_KIND_SPECIMEN = {"lab": "blood", "urine": "urine"}


@dataclass(frozen=True)
class Tagged:
    """A phrase as the matcher sees it: test concepts (with ancestors), qualifiers and leftover content words."""

    concepts: frozenset[str]  # concept ids named directly
    expanded: frozenset[str]  # + their parents (a request for a parent matches a child)
    groups: frozenset[str]  # group kinds requested ("lab", "imaging")
    specimens: frozenset[str]
    anatomy: frozenset[str]
    words: frozenset[str]  # all content (non-generic) words, stemmed


def normalise(text: str) -> str:
    text = "".join(_GREEK.get(c, c) for c in text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"(?<=[a-z])'s\b", "", text)
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _stem(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss") and not w.endswith("us") and not w.endswith("is"):
        return w[:-1]
    return w


class Vocabulary:
    def __init__(self, data: dict[str, object]) -> None:
        self.concepts: dict[str, Concept] = {}
        self._phrases: dict[tuple[str, ...], tuple[str, str]] = {}  # tokens -> ("concept", id)
        self._qual: dict[tuple[str, ...], tuple[str, str]] = {}  # tokens -> ("specimens"|"anatomy", value)
        for raw in data["concepts"]:  # type: ignore[union-attr]
            c = Concept(
                id=raw["id"], kind=raw["kind"], names=tuple(raw["names"]), parents=tuple(raw.get("parents", ())),
                members=tuple(raw.get("members", ())), group=raw.get("group", ""),
                anatomy=tuple(raw.get("anatomy", ())),
                specimen=raw.get("specimen", _KIND_SPECIMEN.get(raw["kind"], "")),
            )
            self.concepts[c.id] = c
            for name in c.names:
                self._phrases.setdefault(tuple(normalise(name).split()), ("concept", c.id))
        self._near: dict[str, set[str]] = {}  # anatomy region -> regions it does not conflict with
        for group in data.get("anatomy_overlaps", ()):  # type: ignore[union-attr]
            for region in group:
                self._near.setdefault(region, set()).update(group)
        specimen_names = [n for ns in data["specimens"].values() for n in ns]  # type: ignore[union-attr]
        self._spec_words = [tuple(_stem(w) for w in normalise(n).split()) for n in specimen_names]
        for cls in ("specimens", "anatomy"):
            for value, names in data[cls].items():  # type: ignore[union-attr]
                for name in names:
                    self._qual.setdefault(tuple(normalise(name).split()), (cls, value))

    def near(self, regions: frozenset[str]) -> set[str]:
        out = set(regions)
        for r in regions:
            out |= self._near.get(r, set())
        return out

    def ancestors(self, cid: str) -> set[str]:
        out, todo = set(), [cid]
        while todo:
            c = todo.pop()
            if c in out or c not in self.concepts:
                continue
            out.add(c)
            todo.extend(self.concepts[c].parents)
        return out

    def members(self, cid: str) -> set[str]:
        c = self.concepts.get(cid)
        return set(c.members) if c else set()

    def tag(self, text: str) -> Tagged:
        toks = normalise(text).split()
        found = {"concept": set(), "specimens": set(), "anatomy": set()}  # type: dict[str, set[str]]
        # Two independent longest-match passes: "urine culture" is a concept AND says specimen=urine.
        for classes in (("concept",), ("specimens", "anatomy")):
            i = 0
            while i < len(toks):
                for n in range(min(_MAX_NGRAM, len(toks) - i), 0, -1):
                    hit = self._phrases.get(tuple(toks[i : i + n]), ("", ""))
                    hit = hit if hit[0] in classes else self._qual.get(tuple(toks[i : i + n]), ("", ""))
                    if hit[0] in classes:
                        found[hit[0]].add(hit[1])
                        i += n
                        break
                else:
                    i += 1
        concepts, specimens, anatomy = found["concept"], found["specimens"], found["anatomy"]
        # Specimen words ("blood", "urine") are qualifiers: they decide conflicts, never a match on their own.
        spec_words = {w for names in self._spec_words for w in names}
        words = {w for w in map(_stem, toks) if w not in GENERIC and w not in spec_words and not w.isdigit()}
        groups = {self.concepts[c].group for c in concepts if self.concepts[c].kind == "group"}
        tests = {c for c in concepts if self.concepts[c].kind != "group"}
        for c in tests:
            anatomy.update(self.concepts[c].anatomy)
        if not specimens:  # an explicit "urine WBC" beats the blood implied by WBC
            specimens = {self.concepts[c].specimen for c in tests if self.concepts[c].specimen}
        expanded: set[str] = set()
        for c in tests:
            expanded |= self.ancestors(c)
        return Tagged(frozenset(tests), frozenset(expanded), frozenset(groups), frozenset(specimens),
                      frozenset(anatomy), frozenset(words))

    def kind_of(self, tagged: Tagged) -> set[str]:
        return {self.concepts[c].kind for c in tagged.concepts}


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    path = resources.files("medaction.envs") / "data" / "test_synonyms.json"
    return Vocabulary(json.loads(path.read_text(encoding="utf-8")))
