"""The phrases of one diagnosis mention the linker tries, most direct first: the whole mention, its longer
prefixes, the head with its qualifiers, an abbreviation's long form, the disease after "metastasis of", the head,
a compound's disease ("Immunotherapy-related colitis" -> colitis), aliases, "A/B" and "A and B" parts. Each comes
with how it was found (head, cause, alias, abbreviation, part); mention_linker.py matches them to graph nodes."""

from __future__ import annotations

import re

from medaction.envs.mentions import Mention, abbreviates, bracket_depths, normalise_diagnosis
from medaction.scoring.diagnosis_words import METASTASIS, MODIFIERS, NODE_EXTRA, ORGAN, STOP, TAIL
from medaction.scoring.linker import GENERIC

_AND = re.compile(r"\s+(?:and|&|plus)\s+", re.I)
_CUT = re.compile(r"\s*(?:[,;(]|\s(?:secondary to|due to|caused by|with|without|associated with|complicated by|"
                  r"in the setting of|in a|likely|probably|presenting|leading to|resulting in|following|after|"
                  r"from|and)\s)", re.I)
_SLASH = re.compile(r"\s*/\s*")
_METASTASIS_OF = re.compile(r"\b(?:metastas[ie]s|seeding|deposits?|spread|extension|recurrence|relapse|reactivation)"
                            r"\s+(?:of|from)\s+(?:an?\s+|the\s+)?(.+)$", re.I)
_METASTATIC_TO = re.compile(r"^((?:metastatic|metastasizing|disseminated)\s.+?)\s+(?:to|into)\s+(?:the\s+)?\S.*$",
                            re.I)
_COMPOUND = re.compile(r"^.+?-(?:related|induced|associated|mediated|triggered|dependent)\s+(.+)$", re.I)
_ALIAS_TAIL = re.compile(r"\s+[-\u2013\u2014]\s+\S+$")  # "Idiopathic basal ganglia calcification - IBGC"


def phrases_to_try(m: Mention, abbrev: dict[str, str]) -> list[tuple[str, str]]:
    """(phrase, how) pairs to link for one mention, most direct first; `abbrev` maps an abbreviation to its long
    form (data/abbreviations.tsv)."""
    head = m.head
    # the whole mention first: a node name may itself hold "with" or commas ("Giant axonal neuropathy,
    # autosomal dominant"); a node must still cover every non-droppable word, so causes never sneak in
    tries: list[tuple[str, str]] = [(m.text, "head")]
    to = _METASTATIC_TO.match(head)
    if to:  # "metastatic lung adenocarcinoma to the pancreas": the organ reached is no site of the disease
        tries.insert(0, (to.group(1), "head"))
    depth = bracket_depths(m.text)
    # cut points outside brackets only: "Aspergillosis (pulmonary, cardiac ...)" is not cut after "(pulmonary"
    cuts = [c.start() for c in _CUT.finditer(m.text) if c.start() > 0 and depth[c.start()] <= 0]
    # prefixes longer than the head first ("X with Y secondary to Z" -> "X with Y"), shorter ones after it
    tries += [(m.text[:c], "head") for c in reversed(cuts) if c > len(head)]
    tries += [(" ".join([head, *m.qualifiers[:k]]), "head") for k in range(len(m.qualifiers), 0, -1)]
    key = normalise_diagnosis(head)
    if key in abbrev:  # the head is only an abbreviation: "HCM"
        tries.append((abbrev[key], "abbreviation"))
    met = _METASTASIS_OF.search(head)
    if met:  # "seeding of prostate adenocarcinoma": the disease follows
        tries.append((met.group(1), "cause"))
    words = {ORGAN.get(w, w) for w in key.split()}
    if m.causes and words and words <= (METASTASIS | MODIFIERS | STOP):
        tries.append((m.causes[0], "cause"))  # "pancreatic metastasis from lung adenocarcinoma"
    tries.append((head, "head"))
    tries += [(m.text[:c], "head") for c in reversed(cuts) if c <= len(head)]  # "X presenting atypically as Y"
    if "-" in head:
        tries.append((re.sub(r"(?<=\w)-(?=\w)", "", head), "head"))  # "Ileo-ileal" = "ileoileal"
    compound = _COMPOUND.match(head)
    if compound:  # "Immunotherapy-related colitis": the prefix is a cause
        tries.append((compound.group(1), "head"))
    tries += [(_ALIAS_TAIL.sub("", a), "alias") for a in m.aliases]
    # "(PML)": its expansion, when it shares a word with the head and is not just the head's own initials
    # ("Cough-variant asthma (CVA)" is no stroke, "goblet cell adenocarcinoma (GCA)" no giant cell arteritis)
    head_words = head.split()
    own = m.abbreviation and any(abbreviates(m.abbreviation, " ".join(head_words[k:]))
                                 for k in range(len(head_words)))
    if m.abbreviation and not own:
        long = abbrev.get(normalise_diagnosis(m.abbreviation))
        if long and set(long.split()) & (set(key.split()) - STOP - NODE_EXTRA - GENERIC):
            tries.append((long, "abbreviation"))
    for sep in (_SLASH, _AND):
        parts = sep.split(head)
        # "X involving the skin and bone marrow": after a locative word the parts are sites, not diagnoses
        if len(parts) > 1 and not (TAIL - {"of"}) & set(normalise_diagnosis(parts[0]).split()[1:]):
            tries += [(p, "part") for p in parts]
    return tries
