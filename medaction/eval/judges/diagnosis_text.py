"""Offline diagnosis equivalence from text: normalisation, aliases, head-phrase containment, close string match.

MedR-Bench's rule accepts aliases and a prediction that names the true disease plus extra complications; a
prediction that is only a broader class ("carcinoma" for "renal cell carcinoma") is Wrong. The rules below are the
offline stand-in for that rule; their agreement with hand labels is measured (tests/data/eval_judge_labels.jsonl).
"""

from __future__ import annotations

import difflib
import re

_ABBREV: dict[str, str] = {
    "mi": "myocardial infarction",
    "stemi": "st elevation myocardial infarction",
    "nstemi": "non st elevation myocardial infarction",
    "pe": "pulmonary embolism",
    "dvt": "deep vein thrombosis",
    "sle": "systemic lupus erythematosus",
    "tb": "tuberculosis",
    "ra": "rheumatoid arthritis",
    "ms": "multiple sclerosis",
    "als": "amyotrophic lateral sclerosis",
    "copd": "chronic obstructive pulmonary disease",
    "chf": "congestive heart failure",
    "uti": "urinary tract infection",
    "dka": "diabetic ketoacidosis",
    "gbs": "guillain barre syndrome",
    "hlh": "hemophagocytic lymphohistiocytosis",
    "ttp": "thrombotic thrombocytopenic purpura",
    "itp": "immune thrombocytopenia",
    "aml": "acute myeloid leukemia",
    "all": "acute lymphoblastic leukemia",
    "cml": "chronic myeloid leukemia",
    "cll": "chronic lymphocytic leukemia",
    "dlbcl": "diffuse large b cell lymphoma",
    "hcc": "hepatocellular carcinoma",
    "rcc": "renal cell carcinoma",
    "nsclc": "non small cell lung cancer",
    "ibd": "inflammatory bowel disease",
    "gerd": "gastroesophageal reflux disease",
    "aaa": "abdominal aortic aneurysm",
    "sah": "subarachnoid hemorrhage",
    "hiv": "human immunodeficiency virus infection",
    "cmv": "cytomegalovirus infection",
    "ebv": "epstein barr virus infection",
    "pcos": "polycystic ovary syndrome",
    "nms": "neuroleptic malignant syndrome",
    "sjs": "stevens johnson syndrome",
    "ards": "acute respiratory distress syndrome",
    "afib": "atrial fibrillation",
}
# Spelling variants mapped to one form (British/American, common synonyms of the same entity).
_VARIANTS: dict[str, str] = {
    "haem": "hem", "oedema": "edema", "oesophag": "esophag", "tumour": "tumor", "leukaem": "leukem",
    "anaem": "anem", "paediatric": "pediatric", "ischaem": "ischem", "diarrhoea": "diarrhea",
    "cancer": "carcinoma", "neoplasm": "tumor", "disorder": "disease", "myelogenous": "myeloid",
    "pulmonary": "lung", "renal": "kidney", "hepatic": "liver", "cerebral": "brain", "gastric": "stomach",
}
# Well-known clinical synonyms (one canonical form each). Not exhaustive: the linker's graph synonyms add more.
_SYNONYMS: dict[str, str] = {
    "frozen shoulder": "adhesive capsulitis",
    "chickenpox": "varicella",
    "chicken pox": "varicella",
    "shingles": "herpes zoster",
    "giant cell tumor of bone": "osteoclastoma",
    "exanthem subitum": "roseola infantum",
    "sixth disease": "roseola infantum",
    "pyogenic granuloma": "lobular capillary hemangioma",
    "wilms tumor": "nephroblastoma",
    "mono": "infectious mononucleosis",
    "glandular fever": "infectious mononucleosis",
    "heart attack": "myocardial infarction",
    "stroke": "cerebrovascular accident",
    "consumption": "tuberculosis",
    "kawasaki disease": "mucocutaneous lymph node syndrome",
    "grave disease": "graves disease",
    "hashimoto thyroiditis": "chronic lymphocytic thyroiditis",
    "lou gehrig disease": "amyotrophic lateral sclerosis",
    "pseudotumor cerebri": "idiopathic intracranial hypertension",
    "temporal arteritis": "giant cell arteritis",
    "whooping cough": "pertussis",
    "german measles": "rubella",
    "lockjaw": "tetanus",
    "hansen disease": "leprosy",
    "erythema infectiosum": "fifth disease",
    "scarlatina": "scarlet fever",
    "solitary fibrous tumor": "hemangiopericytoma",
    "pseudocyesis": "false pregnancy",
    "osteitis deformans": "paget disease of bone",
}
_GENERIC = {"carcinoma", "tumor", "lymphoma", "sarcoma", "infection", "abscess", "cyst", "mass", "lesion",
            "fracture", "metastasis", "inflammation", "hemorrhage", "injury", "leukemia", "anemia"}
_STOP = {"the", "a", "an", "of", "with", "and", "in", "to", "due", "secondary", "type", "disease", "syndrome",
         "likely", "probable", "possible", "suspected", "acute", "chronic", "left", "right", "bilateral",
         "primary", "on", "by", "or", "at", "from", "associated", "caused", "induced", "related", "patient"}
# Where the head diagnosis ends and qualifiers (cause, complications) begin.
_HEAD_SPLIT = re.compile(
    r"\b(?:secondary to|due to|caused by|associated with|complicated by|with|in the setting of|following|after)\b|[,;:(]"
)
_NON_WORD = re.compile(r"[^a-z0-9 ]+")
_PAREN = re.compile(r"\(([^)]*)\)")


def normalise(text: str) -> str:
    t = text.lower().replace("’", "'").replace("-", " ").replace("'s", "")
    t = _NON_WORD.sub(" ", t)
    for a, b in _VARIANTS.items():
        t = t.replace(a, b)
    words = [_ABBREV.get(w, w) for w in t.split()]
    t = " ".join(" ".join(words).split())
    for a, b in _SYNONYMS.items():
        t = re.sub(rf"\b{a}\b", b, t)
    return t


def _stem(w: str) -> str:
    """Plural strip, then a 7-character prefix ("tuberculous" ~ "tuberculosis", "thyroiditis" ~ "thyroid")."""
    for suf in ("ies", "es", "s"):
        if len(w) > 4 and w.endswith(suf) and not w.endswith(("ss", "is", "us")):
            w = w[: -len(suf)] + ("y" if suf == "ies" else "")
            break
    return w[:7]


def content_tokens(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in normalise(text).split() if w not in _STOP)


def variants(text: str) -> list[str]:
    """The text, its head phrase (before cause/complication qualifiers) and any parenthesised alias."""
    out = [text]
    inner = _PAREN.findall(text)
    out += [s for s in inner if len(s.strip()) > 1]
    head = _HEAD_SPLIT.split(text.lower(), maxsplit=1)[0]
    if head.strip():
        out.append(head)
        # a site qualifier ("Ewing sarcoma of the coracoid process") may be dropped unless what is left is generic
        core = re.split(r"\bof the\b", head, maxsplit=1)[0]
        toks = content_tokens(core)
        if core != head and toks and (len(toks) >= 2 or not toks <= {_stem(g) for g in _GENERIC}):
            out.append(core)
    return out


def text_equivalent(predicted: str, truth: str, *, ratio: float = 0.88) -> bool:
    """Alias/containment/close-string equivalence of two diagnosis strings (see module docstring)."""
    if not predicted.strip() or not truth.strip():
        return False
    for p in variants(predicted):
        pt = content_tokens(p)
        pn = normalise(p)
        for g in variants(truth):
            gt = content_tokens(g)
            gn = normalise(g)
            if not gt or not pt:
                continue
            if pn == gn or gt <= pt:  # same, or the prediction names the truth plus extra qualifiers
                return True
            # the prediction drops a minor modifier of the truth ("heat stroke" for "exertional heat stroke"):
            # at least two of its words, all in the truth, covering more than half of the truth's words
            if len(pt) >= 2 and pt <= gt and len(pt) / len(gt) > 0.5:
                return True
            if difflib.SequenceMatcher(None, pn, gn).ratio() >= ratio:  # spelling variants, word order
                return True
    return False
