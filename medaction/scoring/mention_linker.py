"""Diagnosis linker: free clinical text -> its diagnosis mention -> one graph node, or unlinked.

Steps (docs/notes/linking.md): `diagnosis_mentions` finds the primary mention of a sentence ("The patient was
diagnosed with X based on ...", Markdown, "X secondary to Y"); its head X is linked, never its cause Y (except
"metastasis from Y", where Y is the disease). A node's exact name wins; otherwise linking is a word-set match
against node names and synonyms:

- every content word of the node's name must appear in the phrase (so "Positive tuberculin skin test" never
  links "intestinal tuberculosis", "Postpoliomyelitis syndrome" never links "postpolypectomy syndrome");
- every phrase word the node lacks must be droppable - a modifier (laterality, severity, course, onset, stage or
  grade value) or a site (organ words, "of the ..." tails) - so "gastric schwannoma" links "Schwannoma" but a
  strict match never turns "COVID-19 pneumonia" into "Pneumonia";
- the head noun stays, a dropped organ word must not form a concept the graph knows ("pulmonary hypertension" is
  not "Hypertension"), and dropping words never lands on a broad node ("Hernia", "Carcinoma");
- the candidate covering most phrase words wins; ties go to the allowed-type priority (diseases before
  phenotypes), a node's own name over a synonym, then the better connected node.

Words are compared after light normalisation: American spelling, singular forms, Roman numerals, organ
adjectives mapped to their nouns ("pulmonary" = "lung"), code-system residuals dropped from node names
("unspecified", "without complications"). An unknown word is replaced by its nearest vocabulary word when that
is a spelling slip ("Hirschprung"). A head that is only an abbreviation is expanded from data/abbreviations.tsv;
aliases in brackets, "A/B" and "A and B" parts are tried after the head. Results are cached per distinct text.

Only when no phrase links strictly does the head back off to the parent the graph has (`backoff`, method
"parent"): the words before its head noun may go ("collecting duct renal cell carcinoma" -> "Renal cell
carcinoma"), never onto a bare class, another kind of thing, or across a hyphenated or possessive eponym; a
pathogen names its infectious disease ("Listeria meningitis" -> Listeriosis); later levels name the head noun's
parent classes ("prostatic adenocarcinoma" -> "Prostate cancer"). Parent links measure DTC; they never make an
answer correct by sharing a node (kg_scorer.py). Last, a disorder named by its gene in a genetic context links the
gene's disease (method "gene"). The word lists live in diagnosis_words.py, the phrases tried per mention in
mention_phrases.py, spelling fixes in spelling.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from medaction.envs.mentions import Mention, diagnosis_mentions, normalise_diagnosis
from medaction.scoring.diagnosis_words import (
    ADJ_WORD, ADVERB, BESIDE, BONES, BROAD, CAUSE_MARK, CLASS, DISSEMINATED, FREE, HYPHENATED, KEEP_AFTER,
    LESION_SITE, MODIFIERS, NODE_EXTRA, ORGAN, ORGAN_CANCER, PARENT_WORD, POSSESSIVE, RESIDUAL, SITE_PREFIX, SITES,
    STAGE, STAGE_VALUE, STOP, TAIL, TNM, canon_map, head_noun, infection_forms, last_word, numerals, singulars,
)
from medaction.scoring.encoders import Encoder
from medaction.scoring.encoders import normalise as enc_normalise
from medaction.scoring.gene_disorders import GeneDiseases
from medaction.scoring.graph import GraphStore
from medaction.scoring.linker import GENERIC, EntityLinker, Link
from medaction.scoring.mention_phrases import phrases_to_try
from medaction.scoring.spelling import SpellingFixer

_BOLD = re.compile(r"\*\*([^*\n]{3,200})\*\*")
_GENE_CONTEXT = 400  # characters of the source text searched for gene symbols (its first sentences)


class DiagnosisLinker:
    """Links diagnosis texts (sentences, answers, differential entries) to nodes of the allowed types."""

    def __init__(self, graph: GraphStore, *, types: Sequence[str] | None = None, encoder: str | Encoder = "lexical",
                 threshold: float = 0.5, encoder_config: dict[str, Any] | None = None,
                 typo_similarity: float = 0.45, base: EntityLinker | None = None, backoff: bool = True) -> None:
        """`types` in priority order; `typo_similarity` is the char n-gram cosine a vocabulary word needs to stand
        in for an unknown head word. `encoder`/`threshold` configure the base name index (shared per graph)."""
        self.base = base or EntityLinker(graph, types=types, encoder=encoder, threshold=threshold,
                                         encoder_config=encoder_config)
        self.graph = graph
        self.backoff = backoff
        self.abbrev = self.base.abbrev
        keys: list[str] = []
        # each entry's last words, over every spelling of its word set ("Uterine leiomyoma", "Leiomyoma, uterine"):
        # what kind of thing it names (the back-off keeps it)
        lasts: list[set[str | None]] = []
        nodes: list[int] = []
        words: list[frozenset[str]] = []
        raw = list(self.base._exact.items())  # key -> best node for that key (type priority applied)
        vocab = {w for k, _ in raw for w in normalise_diagnosis(k).split()}
        self._canon = canon_map(vocab)
        rank: dict[tuple[str, ...], int] = {}
        for key, node in raw:
            toks = tuple(self._canon_word(w) for w in numerals(RESIDUAL.sub("", normalise_diagnosis(key)).split()))
            content = frozenset(toks) - NODE_EXTRA
            if not content:
                continue
            sig = tuple(sorted(content))
            # one entry per content word set: the first claim (best type/name/degree order) keeps it
            if sig in rank:
                lasts[rank[sig]].add(last_word(list(toks)))
                continue
            rank[sig] = len(keys)
            keys.append(key)
            nodes.append(node)
            words.append(content)
            lasts.append({last_word(list(toks))})
        self._keys, self._nodes, self._words, self._lasts = keys, np.asarray(nodes, dtype=np.int64), words, lasts
        # "Extrapulmonary tuberculosis": the disease at any site but the named one (rest words, node index, site)
        self._extra: list[tuple[frozenset[str], int, str]] = []
        for i, ws in enumerate(words):
            for w in ws:
                site = ORGAN.get(w[5:], w[5:]) if w.startswith("extra") else ""
                if site in SITES and len(ws) > 1:
                    self._extra.append((ws - {w}, i, site))
        self._post: dict[str, list[int]] = {}
        for i, ws in enumerate(words):
            for w in ws:
                self._post.setdefault(w, []).append(i)
        self._vocab = frozenset(self._post)
        self._spelling = SpellingFixer(self._vocab | NODE_EXTRA, typo_similarity)
        self._cache: dict[str, Link] = {}
        self._phrase_cache: dict[tuple[str, int], tuple[int | None, float, str]] = {}
        self._disease_codes = set(graph.type_codes(["disease"]).tolist())
        self._gene_diseases = GeneDiseases(graph, self._is_disease)
        self._ids: list[str] | None = None  # node id / name columns, read once when the first link is made
        self._names: list[str] = []

    # -- words ----------------------------------------------------------------------------------------------
    def _canon_word(self, w: str) -> str:
        w = ORGAN.get(w, w)
        return self._canon.get(w, w)

    def _query_word(self, w: str) -> str:
        w = ORGAN.get(w, w)
        if w in self._canon:
            return self._canon[w]
        for s in singulars(w):
            if s in self._canon or s in self._post:
                return self._canon.get(s, s)
        return w

    def _site(self, raw: str, w: str) -> bool:
        if raw in SITES or w in SITES:
            return True
        bare = SITE_PREFIX.sub("", raw)  # "intraplacental", "periorbital", "retroperitoneal"
        return bare != raw and (bare in SITES or ORGAN.get(bare, "") in SITES)

    def _tokens(self, phrase: str, level: int = 0) -> tuple[list[str], set[str], set[str], set[str]]:
        """Canonical head tokens, the subset that may be dropped, and the dropped ones that name a site.
        Back-off (`level` >= 1) also lets every word before the head noun go (subtype, pathogen, eponym words:
        "collecting duct renal cell carcinoma" -> "renal cell carcinoma"); those count as sites for the
        known-concept check. Level 2 also names the head noun's parent class ("adenocarcinoma" -> "carcinoma").
        The fourth value is the words that really name a site (for the tie-break and "extra<site>" nodes)."""
        raw = numerals(normalise_diagnosis(BESIDE.sub(r"\1", phrase)).split())
        toks = [self._query_word(w) for w in raw]
        droppable: set[str] = set()
        sites: set[str] = set()
        staged: set[int] = set()  # positions of stage values
        # a locative tail after the head noun names a site: "X of the external auditory canal", "X in the gallbladder"
        tail = next((i for i, r in enumerate(raw) if r in TAIL and 0 < i < len(raw) - 1), len(raw))
        if set(toks[tail:]) & BONES and "bone" not in toks:  # "fibrous dysplasia of the rib": of bone
            raw, toks = [*raw, "bone"], [*toks, "bone"]
        for i, (w, r) in enumerate(zip(toks, raw)):
            prev = raw[i - 1] if i else ""
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            if i > tail:
                droppable.add(w)  # locative tail: droppable, never a compound with the head ("of the artery")
                if self._site(r, w):
                    sites.add(w)
            elif self._site(r, w):
                droppable.add(w)
                sites.add(w)
            elif r in FREE or w in FREE or r in STOP or r in CAUSE_MARK or ADVERB.match(r):
                droppable.add(w)
            elif nxt in CAUSE_MARK and i + 2 < len(raw) and raw[i + 2] not in STOP:
                droppable.add(w)  # "alcohol-related cirrhosis", "immunotherapy-induced colitis": a cause (but
                # "thymoma associated with myasthenia gravis" names the thymoma)
            elif (prev in STAGE and (prev not in KEEP_AFTER or level) or i - 1 in staged) and STAGE_VALUE.match(r):
                # (a type number names a subtype: kept, except when backing off to the family: "Dentinogenesis
                # imperfecta type II" -> "Dentinogenesis imperfecta")
                droppable.add(w)  # "stage IV", "grade 3", "WHO II" (not "grade glioma" of "high-grade glioma")
                staged.add(i)  # the values go on: "Gleason 3+4=7"
            elif (len(r) <= 4 and any(c.isdigit() for c in r) and any(c.isalpha() for c in r)) or TNM.match(r):
                droppable.add(w)  # "T4", "pT1", "N0", "M1c", "2nd", "IB", "pT2N0R0"
        # the sites the phrase places the disease at: its locative tail's, if it has any ("mammary analogue
        # secretory carcinoma of the salivary gland" is at the salivary gland, not the breast)
        named = {w for i, w in enumerate(toks) if i > tail} & sites or set(sites)
        if level >= 1:
            for _ in range(level - 1):  # level 2 names the head noun's parent class, level 3 its grandparent
                toks = [PARENT_WORD.get(w, w) for w in toks]
            noun = head_noun(toks[:tail], droppable - sites)
            cut = toks.index(noun) if noun in toks[:tail] else -1
            kept = {w for w in toks[cut:] if w not in droppable}
            # a hyphenated name is one unit: "Guillain-Barre syndrome" never backs off to "Barre ..."
            units = [{self._query_word(w) for w in normalise_diagnosis(u).split()}
                     for u in HYPHENATED.findall(phrase)]
            bound = set().union(*(u for u in units if u & kept)) if units else set()
            # an eponym in the possessive names the entity: "Wernicke's encephalopathy" is no bare "Encephalopathy"
            bound |= {self._query_word(w) for w in POSSESSIVE.findall(phrase.lower())}
            for w in toks[:cut]:
                if w not in droppable and w not in STOP and w not in bound:
                    droppable.add(w)
                    sites.add(w)
        return toks, droppable, sites, named

    # -- matching ---------------------------------------------------------------------------------------------
    def _match_phrase(self, phrase: str, level: int = 0) -> tuple[int | None, float, str]:
        """Best node for one phrase: (node, score, key). Score = share of the head's words the node covers."""
        hit = self._phrase_cache.get((phrase, level))
        if hit is None:
            hit = self._match_uncached(phrase, level, split=False)
            if hit[0] is None:  # a closed compound the graph spells open: "postpartum" = "post-partum"
                hit = self._match_uncached(phrase, level, split=True)
            self._phrase_cache[(phrase, level)] = hit
        return hit

    def _match_uncached(self, phrase: str, level: int, split: bool) -> tuple[int | None, float, str]:
        words = normalise_diagnosis(phrase).split()
        if len(words) == 1 and ADJ_WORD.match(words[0]):
            return None, 0.0, ""  # an adjective alone ("Gastrointestinal") names no diagnosis
        exact = self.base._exact.get(enc_normalise(phrase))
        if exact is not None and not set(words) <= GENERIC:
            return exact, 1.0, phrase  # the name itself: "Caroli disease" is not "Caroli syndrome"
        toks, droppable, sites, named = self._tokens(phrase, level)
        if not toks:
            return None, 0.0, ""
        if split:
            parts = {w: ps for w in toks if w not in droppable and (ps := self._split_compound(w))}
            if not parts:
                return None, 0.0, ""
            toks = [p for w in toks for p in parts.get(w, [w])]
        unknown = [w for w in toks if w not in self._vocab and w not in droppable and w not in NODE_EXTRA
                   and w not in STOP and not w.isdigit()]
        if unknown:
            fixed = self._spelling.fix(unknown)
            toks = [fixed.get(w) or w for w in toks]
        head = set(toks)
        required = head - droppable - NODE_EXTRA
        content = (head - STOP - NODE_EXTRA) or (head - STOP)
        if not required or not content or content <= GENERIC:  # "carcinoma", "acute infection": too broad
            return None, 0.0, ""
        posts = [self._post.get(w) for w in required]
        if any(p is None for p in posts):
            return None, 0.0, ""
        noun = head_noun(toks, droppable - sites)
        last = last_word(toks) if level else None
        ranked: list[tuple[float, int, int]] = []
        for i in min(posts, key=len):  # type: ignore[arg-type]
            ws = self._words[i]
            if required <= ws and ws <= head and (noun is None or noun in ws):
                # back-off keeps the kind of thing named: a "double superior vena cava" is no "SVC syndrome"
                if last is not None and last not in self._lasts[i]:
                    continue
                # ties: the node that drops sites, not disease words ("rheumatoid nodule", not "pulmonary nodule")
                ranked.append((-len(ws & content) / len(content), len((content - ws) - named - FREE), i))
        for neg_cover, _, i in sorted(ranked):
            ws = self._words[i]
            if content - ws and (ws - FREE) <= BROAD:
                continue  # dropping words never lands on a broad node ("Hernia", "Fetal anomaly", "Carcinoma")
            if level:  # a backed-off subtype lands on a named entity: "Inguinal hernia", "Brain abscess", never
                core = {w for w in ws if w not in FREE and w not in SITES}  # "Neoplasm of the liver" or "Sarcoma"
                organ_cancer = core <= ORGAN_CANCER and ws & SITES and ws & SITES <= named
                if (core <= GENERIC and not organ_cancer) or (core <= CLASS and not ws & SITES):
                    continue
            # a dropped site word must not be part of a concept the graph knows: "pulmonary hypertension" is
            # not "hypertension" when "pulmonary arterial hypertension" exists
            # - unless a backed-off site variant lands on a one-word disease: "pulmonary aspergillosis" ->
            # Aspergillosis although "Invasive pulmonary aspergillosis" exists
            if any(self._has_superset(ws | {d}) for d in (content - ws) & sites) and not (
                    level and len(ws) == 1 and self._is_disease(int(self._nodes[i]))):
                continue
            return int(self._nodes[i]), -neg_cover, self._keys[i]
        if level:
            for rest, i, site in self._extra:  # "testicular tuberculosis" -> "Extrapulmonary tuberculosis"
                if required <= rest <= head and named - rest and site not in head:
                    return int(self._nodes[i]), len(rest) / len(content), self._keys[i]
        return None, 0.0, ""

    def _match_infection(self, phrase: str) -> tuple[int | None, float]:
        """A site's infection named by its pathogen links the infectious disease, at the phrase's site when the
        graph names one: "Listeria monocytogenes meningitis" -> Listeriosis, "Pulmonary Nocardia infection" ->
        Nocardiosis, "tuberculous orchitis" -> Extrapulmonary tuberculosis ("extra<site>" nodes: the lesion counts
        as a site other than the one excluded, unless it names that organ: "tuberculous pneumonia" is pulmonary)."""
        toks, _, sites, named = self._tokens(phrase)
        noun = head_noun(toks, set())
        words = set(toks) | {LESION_SITE[w] for w in toks if w in LESION_SITE}
        spread = words & DISSEMINATED
        for k, w in enumerate(toks):
            if (w == noun and not (sites & set(toks[k + 1:]) or spread)) or toks[k + 1:k + 2] == ["like"]:
                continue  # the disease word as the head names itself ("Aspergillosis"); "sarcoidosis-like" is not it
            named_here = w.endswith(("osis", "iasis"))
            if not named_here and (self._site(w, w) or w in ORGAN.values()):
                continue  # an organ is no pathogen ("endometrium" is not "endometriosis")
            for disease in ([w] if named_here else infection_forms(w)):
                if disease not in self._post:
                    continue
                # nodes naming the disease with only words the phrase has ("Pulmonary tuberculosis"); a pathogen
                # may add free qualifiers, fewest first ("hydatid cyst" -> "Cystic echinococcosis")
                fits = [(len(extra), -len(self._words[i]), i) for i in self._post[disease]
                        if (extra := self._words[i] - {disease} - words) <= (set() if named_here else FREE)]
                if fits:
                    i = min(fits)[2]
                    return int(self._nodes[i]), len(self._words[i] & words) / max(len(set(toks) - STOP), 1)
                lesion = {noun} - {w} - CLASS - FREE - {None}
                at = (named | spread | {LESION_SITE.get(x, x) for x in lesion}) - {disease}
                for rest, i, site in self._extra:  # "Extrapulmonary tuberculosis": any site but the lung
                    if rest == {disease} and at and site not in words:
                        return int(self._nodes[i]), 1 / max(len(set(toks) - STOP), 1)
        return None, 0.0

    def _is_disease(self, node: int) -> bool:
        return int(self.graph.type_code[node]) in self._disease_codes

    def _split_compound(self, w: str) -> list[str] | None:
        for i in range(3, len(w) - 2):
            if w[:i] in self._vocab and w[i:] in self._vocab:
                return [w[:i], w[i:]]
        return None

    def _has_superset(self, words: set[str]) -> bool:
        posts = [self._post.get(w, ()) for w in words]
        return any(words <= self._words[i] for i in min(posts, key=len))

    def _link_mention(self, m: Mention, context: str = "") -> tuple[int | None, float, str, str]:
        """(node, score, method, phrase) for one mention; `context` is the text it came from (its gene names)."""
        tries = phrases_to_try(m, self.abbrev)
        for phrase, how in tries:
            node, score, _ = self._match_phrase(phrase)
            if node is not None:
                return node, score, ("exact" if score == 1.0 and how == "head" else how), phrase
        if self.backoff:  # nothing names the mention itself: its parent concept, when the graph lacks the subtype;
            # only the head itself backs off (a longer phrase's words would reach its other diseases: "X with Y")
            heads = list(dict.fromkeys(p for p, how in tries if how in ("head", "cause") and len(p) <= len(m.head)))
            for phrase in heads:  # a pathogen names the disease: "Listeria meningitis" -> Listeriosis
                node, score = self._match_infection(phrase)
                if node is not None:
                    return node, score, "parent", phrase
            for level in (1, 2, 3):
                for phrase in heads:
                    node, score, _ = self._match_phrase(phrase, level)
                    if node is not None:
                        return node, score, "parent", phrase
        node = self._match_gene(m, context)
        if node is not None:
            return node, 0.5, "gene", m.head
        return None, 0.0, "none", m.head

    def _match_gene(self, m: Mention, context: str) -> int | None:
        """A disorder named by its gene, in the mention or the sentence around it ("Vanishing white matter disease,
        confirmed by a mutation in EIF2B5"): the gene's only disease in the graph, or the one whose name shares the
        most head words, then has the fewest others ("Bethlem myopathy" among COL6A2's diseases)."""
        toks = [self._query_word(w) for w in normalise_diagnosis(m.head).split()]
        head = set(toks) - STOP - NODE_EXTRA - GENERIC - FREE
        noun = head_noun(toks, set(FREE))
        for symbol, diseases in self._gene_diseases.named_in(context[:_GENE_CONTEXT] or m.text):
            # the only disease, unless the head names a finding the graph knows ("NF1-associated glaucoma" is a
            # glaucoma): then, as for several diseases, the name must share a head word
            if len(diseases) == 1 and not (noun and any(self._words[i] == {noun} for i in self._post.get(noun, ()))):
                return diseases[0]
            # the symbol itself in a disease name shows no fit; numbers are subtype labels, not name words
            named = {w for w in head if not w.isdigit()} - {symbol.lower()}
            fit = sorted(((-len(named & (ws := self._node_words(j))), len(ws - named), j) for j in diseases))
            # the name covers at least half the head's words, and no other disease fits as well
            if fit and -fit[0][0] * 2 >= max(len(named), 1) and (len(fit) == 1 or fit[1][:2] != fit[0][:2]):
                return fit[0][2]
        return None

    def _node_words(self, node: int) -> set[str]:
        assert self._names
        return {self._query_word(w) for w in normalise_diagnosis(self._names[node]).split()}

    # -- API --------------------------------------------------------------------------------------------------
    def link(self, text: str) -> Link:
        return self.link_many([text])[0]

    def link_many(self, texts: Sequence[str]) -> list[Link]:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if self._ids is None and todo:
            self._ids = self.graph.nodes.column("id").to_pylist()
            self._names = self.graph.nodes.column("name").to_pylist()
        # spelling fixes for every unknown word of the batch in one encoder pass (then cached per word)
        words = {self._query_word(w) for t in todo for w in normalise_diagnosis(t).split()}
        unknown = [w for w in words if w not in self._vocab and w not in MODIFIERS and w not in STOP
                   and w not in NODE_EXTRA and not any(c.isdigit() for c in w) and not self._spelling.seen(w)]
        if unknown:
            self._spelling.fix(unknown)
        for t in todo:
            ms = diagnosis_mentions(t) if t and t.strip() else []
            if not ms:
                self._cache[t] = Link(text=t, node=None)
                continue
            m = ms[0]
            node, score, method, phrase = self._link_mention(m, t)
            if node is None:  # a sentence whose grammar hid the diagnosis: its **bold** span names it
                for span in _BOLD.findall(t)[:1]:  # the first bold span only: later ones are secondary
                    for bm in diagnosis_mentions(span)[:1]:
                        node, score, method, phrase = self._link_mention(bm, t)
                    if node is not None:
                        method = "bold"
                        break
            if node is None:
                self._cache[t] = Link(text=t, node=None, mention=m.head)
                continue
            self._cache[t] = Link(text=t, node=node, node_id=self._ids[node], name=self._names[node],  # type: ignore[index]
                                  score=score, method=method, mention=phrase)
        return [self._cache[t] for t in texts]
