"""Diagnosis mentions in clinical free text, and the one text normaliser for diagnoses.

A ground truth or a model's answer is rarely a bare disease name: it arrives as a sentence ("The patient was
diagnosed with X based on ..."), as Markdown, as a numbered differential, with an abbreviation in brackets, or as
"X secondary to Y". `diagnosis_mentions` recovers the diagnosis phrases from the grammar of such phrasing (label
prefixes, reporting verbs, justification clauses, cause connectors), in the order the text gives them: the first
mention is the text's primary diagnosis. The judging rule these serve is in docs/eval.md.

Pure string processing (no model, no graph), so every layer may use it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import msgspec

__all__ = ["Mention", "abbreviates", "diagnosis_mentions", "normalise_diagnosis", "primary_mention"]


class Mention(msgspec.Struct, frozen=True, kw_only=True):
    text: str  # the diagnosis phrase as found (preamble, justification and Markdown removed)
    head: str  # the head entity: X of "X secondary to / due to / with / in the setting of Y"
    causes: tuple[str, ...] = ()  # the Y parts (causes, complications, settings), kept apart from the head
    abbreviation: str | None = None  # a bracketed abbreviation of the head: "(PTS)"
    aliases: tuple[str, ...] = ()  # other bracketed phrases that name the head ("(Takotsubo cardiomyopathy)")
    qualifiers: tuple[str, ...] = ()  # comma-separated descriptors after the head ("Stage IV", "likely viral")


# ---------------------------------------------------------------------------------------------- normaliser

# British -> American spellings (substring rules; applied to lower-case ASCII text).
_SPELLING = (
    ("haem", "hem"), ("oedema", "edema"), ("oesophag", "esophag"), ("tumour", "tumor"), ("leukaem", "leukem"),
    ("anaem", "anem"), ("paediatr", "pediatr"), ("ischaem", "ischem"), ("diarrhoea", "diarrhea"),
    ("oestrogen", "estrogen"), ("foetal", "fetal"), ("coeliac", "celiac"), ("caesarean", "cesarean"),
    ("orthopaed", "orthoped"), ("gynaecolog", "gynecolog"), ("dyspnoea", "dyspnea"), ("aetiolog", "etiolog"),
    ("sulph", "sulf"), ("fibre", "fiber"), ("centre", "center"), ("aemi", "emi"), ("aesthe", "esthe"),
    ("amoeb", "ameb"), ("paed", "ped"), ("rrhoea", "rrhea"), ("apnoea", "apnea"), ("faec", "fec"), ("caec", "cec"),
    ("foetus", "fetus"), ("isation", "ization"),
)
_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "κ": "kappa", "λ": "lambda", "μ": "mu"}
_UNI_PUNCT = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2010": "-", "\u2011": "-",
              "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " ", "\u2009": " "}
_POSSESSIVE = re.compile(r"(?<=[a-z])['\u2019]s?\b")  # "Graves'", "Crohn's" -> "graves", "crohn"
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _spelling(text: str) -> str:
    for a, b in _SPELLING:
        if a in text:
            text = text.replace(a, b)
    return text


@lru_cache(maxsize=65536)
def normalise_diagnosis(text: str) -> str:
    """The one normal form of a diagnosis string: ASCII, lower case, American spelling, possessives and
    punctuation dropped, single spaces. Equal diagnoses written differently on the surface normalise equal."""
    if text.isascii():  # fast path: nothing to transliterate
        t = text.lower()
    else:
        # Unicode punctuation becomes its ASCII form before folding, so "Ewing’s" loses its possessive and
        # "Creutzfeldt–Jakob" keeps two words (NFKD + ascii-ignore would delete the mark and join them)
        t = "".join(_GREEK.get(c, _UNI_PUNCT.get(c, c)) for c in text)
        t = unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode().lower()
    t = _POSSESSIVE.sub("", t)
    t = _spelling(t)
    return " ".join(_NON_ALNUM.sub(" ", t).split())


# ---------------------------------------------------------------------------------------------- Markdown

_FENCE = re.compile(r"```[a-z]*")
_EMPH = re.compile(r"(\*\*|__|\*|`|~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*")
_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u25aa\u25cf\u2013\u2014>]\s+|\(?(?:\d{1,2}|[a-hA-H])[.)]\s+|\d{1,2}\s*[:\-]\s+)")
_RULE = re.compile(r"^\s*(?:[-*_=]\s*){3,}$")
_ITALIC_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_([^_]+)_(?![A-Za-z0-9])")


def _strip_markdown(line: str) -> str:
    if _RULE.match(line):
        return ""
    line = _HEADING.sub("", line)
    line = _BULLET.sub("", line)
    line = _FENCE.sub(" ", line)
    line = _ITALIC_UNDERSCORE.sub(r"\1", line)
    line = _EMPH.sub("", line)
    line = _BULLET.sub("", line)  # a bullet inside bold: "**1. X**"
    return " ".join(line.split())


# ---------------------------------------------------------------------------------------------- sentences

# Abbreviations whose full stop does not end a sentence.
_NO_BREAK = ("e.g", "i.e", "vs", "dr", "st", "mr", "mrs", "ms", "no", "fig", "approx", "sp", "spp", "var",
             "ca", "cf", "al", "etc", "incl", "subsp", "ser", "gen")
_SENT_END = re.compile(r"(?<=[A-Za-z0-9)\]%])\.(?=\s+[\"'(\[]?[A-Z0-9])|[!?](?=\s)")


def _sentences(line: str) -> list[str]:
    out, start = [], 0
    for m in _SENT_END.finditer(line):
        before = line[start:m.start()]
        last = before.rsplit(None, 1)[-1].lower() if before.strip() else ""
        if last.rstrip(".") in _NO_BREAK or (len(last) == 1 and last.isalpha()):  # "E. coli", "vs."
            continue
        out.append(line[start:m.start()])
        start = m.end()
    out.append(line[start:])
    return [s.strip() for s in out if s.strip()]


# ---------------------------------------------------------------------------------------------- clause grammar

_HEDGE = (r"(?:(?:the\s+)?most\s+(?:likely|probable|consistent)(?:\s+diagnosis)?(?:\s+is)?|likely|probable|probably|"
          r"possible|possibly|suspected|presumed|presumptive|presumably|definite|confirmed|clinically|"
          r"highly\s+suggestive\s+of|suggestive\s+of|consistent\s+with|compatible\s+with|in\s+keeping\s+with|"
          r"findings\s+(?:are\s+)?(?:consistent|compatible)\s+with|features\s+of|picture\s+of|"
          r"a\s+case\s+of|case\s+of|(?:the\s+|a\s+)?(?:(?:final|clinical|definitive|confirmed)\s+)?diagnosis\s+of)")
_LEAD_HEDGE = re.compile(rf"^(?:{_HEDGE}\s*[:,]?\s+)+", re.I)

_DX_NOUN = r"(?:diagnos[ie]s|dx|impression|conclusion|answer|assessment|condition|disease)"
_DX_ADJ = (r"(?:final|most\s+likely|likely|probable|primary|principal|working|definitive|definite|leading|clinical|"
           r"provisional|main|top|underlying|ultimate|confirmed|established|correct|overall|unifying|differential|"
           r"pathological|histopathological|histological|clinicopathological|radiological)")
# "Final diagnosis:", "Diagnosis 1 -", "Most likely diagnosis:" (a label ending in a colon or dash)
_LABEL = re.compile(rf"^(?:the\s+)?(?:{_DX_ADJ}\s+)*{_DX_NOUN}(?:\s*(?:#?\d+|\([^)]*\)))?\s*(?::|\s[-\u2013\u2014]\s|$)\s*",
                    re.I)
# "Primary:", "Differentials:" (an adjective alone used as a label), "Case 1:", "Patient 2:"
_ADJ_LABEL = re.compile(rf"^(?:(?:{_DX_ADJ}|secondary|alternative|alternate|other|ddx)s?|(?:case|patient)\s*#?\d+)\s*:\s*",
                        re.I)
# "The (final) diagnosis is/was (that of / consistent with) X", "X is the final diagnosis" handled below
_DX_IS = re.compile(rf"^(?:the\s+|our\s+|my\s+|a\s+)?(?:{_DX_ADJ}\s+)*{_DX_NOUN}\s+"
                    r"(?:(?:in|for)\s+(?:this|these|the|both|all(?:\s+\w+)?|each(?:\s+of\s+the)?)\s+\w+\s+)?"
                    r"(?:is|was|remains|would\s+be|will\s+be|of\s+this\s+patient\s+(?:is|was)|here\s+is)"
                    r"(?:\s+(?:therefore|thus|then|ultimately|finally|determined\s+to\s+be|confirmed\s+(?:as|to\s+be)|"
                    r"made\s+as|established\s+as|that\s+of|one\s+of|as\s+follows))*\s*(?::?\s+|:?\s*$)", re.I)
# "The patient was (finally) diagnosed with / found to have X"
_SUBJECT = (r"(?:the\s+)?(?:patients?|pts?|child(?:ren)?|infants?|neonates?|m[ae]n|wom[ae]n|boys?|girls?|he|she|they|"
            r"cases?|individuals?|(?:\d+[- ](?:year|month|day|week)[- ]old\s+)?(?:males?|females?|m[ae]n|wom[ae]n|patients?))")
# any short subject before an auxiliary ("The newborn was", "The patient's fetus was"): the verb phrase marks it
_ANY_SUBJECT = r"(?:[\w'\u2019\-]+\s+){1,4}?(?=(?:was|were|has\s+been|had\s+been)\s)"
_DIAGNOSED = re.compile(rf"^(?:.*?\b{_SUBJECT}\s+|{_ANY_SUBJECT})?(?:was|were|is|has\s+been|had\s+been|had|has)?\s*"
                        r"(?:(?:finally|ultimately|definitively|eventually|subsequently|then|clinically|"
                        r"histologically|pathologically|successfully|correctly|confirmed\s+and)\s+)*"
                        r"(?:diagnosed\s+(?:with|as(?:\s+having)?)|found\s+to\s+have|confirmed\s+to\s+have|"
                        r"determined\s+to\s+have|shown\s+to\s+have|suffering\s+from|suffers\s+from|"
                        r"presented\s+with\s+a\s+diagnosis\s+of)\s+", re.I)
# "The patient has X", "She presented with X": the subject's condition, said plainly
_HAS = re.compile(rf"^{_SUBJECT}\s+(?:has|had|presents?\s+with|presented\s+with|developed)\s+", re.I)
# "X was diagnosed ...", "X is confirmed ...", "X was established as the diagnosis"
_PASSIVE_TAIL = re.compile(r"\s+(?:was|were|is|has\s+been|had\s+been|being)\s+(?:(?:finally|ultimately|definitively|"
                           r"eventually|subsequently|then|clinically|histologically|pathologically|also|"
                           r"successfully|later)\s+)*(?:diagnosed|confirmed|established|made|identified|suspected|"
                           r"considered|proven|verified|the\s+(?:final\s+|most\s+likely\s+)?diagnosis)\b.*$", re.I)
_IS_THE_DX = re.compile(rf"\s+(?:is|was|remains)\s+(?:the\s+)?(?:{_DX_ADJ}\s+)*{_DX_NOUN}\b.*$", re.I)
# Clauses that justify or describe rather than name: everything from them on is dropped.
_JUSTIFY = re.compile(
    r"(?:,\s*|\s+)(?:(?:as\s+)?(?:based\s+on|on\s+the\s+basis\s+of|confirmed\s+(?:by|with|via|through|on|after|"
    r"histologically|histopathologically|pathologically)|as\s+confirmed|as\s+evidenced|evidenced\s+by|"
    r"as\s+shown|shown\s+by|supported\s+by|as\s+supported|demonstrated\s+by|as\s+demonstrated|proven\s+by|"
    r"proved\s+by|established\s+(?:by|through|via|on)|diagnosed\s+(?:by|via|through|on|after|using)|"
    r"according\s+to|after\s+(?:excluding|exclusion|ruling)|following\s+(?:exclusion|the\s+exclusion|"
    r"histopatholog|biopsy|surgical)|given\s+the|indicated\s+by|as\s+indicated|as\s+suggested|suggested\s+by|"
    r"revealed\s+by|identified\s+(?:by|on|through|via)|(?:incidentally\s+)?(?:detected|discovered|found|noted)\s+"
    r"(?:during|on|at|in|by|after|incidentally)|which\s+(?:was|is|were|has|had|led|explains|"
    r"accounts|resolved)|that\s+(?:was|is)\s+(?:confirmed|diagnosed)|with\s+(?:confirmation|the\s+diagnosis)|"
    r"the\s+diagnosis\s+(?:was|is)|this\s+(?:was|is)|in\s+light\s+of|via|by\s+means\s+of|owing\s+to\s+the\s+(?:findings|results)))\b.*$",
    re.I,
)
# Cause / complication / setting connectors: the head ends where the first one starts.
_CONNECTOR = re.compile(
    r"\s*(?:,\s*)?\b(?:secondary\s+to|due\s+to|caused\s+by|induced\s+by|triggered\s+by|resulting\s+from|"
    r"as\s+a\s+(?:result|consequence|complication)\s+of|attributable\s+to|attributed\s+to|related\s+to|"
    r"associated\s+with|in\s+association\s+with|complicated\s+by|complicating|leading\s+to|resulting\s+in|"
    r"causing|with\s+(?:associated|concomitant|concurrent|secondary|coexisting)|with|without|"
    r"in\s+the\s+(?:setting|context|presence|background)\s+of|in\s+a\s+(?:setting|context|background)\s+of|"
    r"on\s+(?:a\s+)?(?:the\s+)?background\s+of|superimposed\s+on|in\s+(?:a\s+)?patients?\s+with|"
    r"in\s+(?:both|all|two|three|four|several)\s+(?:\w+\s+)?(?:patients|cases)\b|"
    r"presenting\s+(?:as|with|in|at)|manifesting\s+as|arising\s+(?:from|in|within|on)|originating\s+(?:from|in)|"
    r"located\s+(?:in|at|on)|invading|in\s+an?\s+(?:[a-z]+\s+){0,2}(?:\d+[- ]\w+[- ]old|young|elderly|older|adult|pediatric|"
    r"paediatric|child|infant|neonate|newborn|man|woman|male|female|boy|girl|patient|pregnant)|masquerading\s+as|mimicking|following|after|from|plus|"
    r"along\s+with|together\s+with|accompanied\s+by|concomitant\s+with|coexisting\s+with|"
    r"(?:most\s+)?consistent\s+with|compatible\s+with|suggestive\s+of)\b\s*",
    re.I,
)
# Separators of several diagnoses in one line ("X; Y", "X vs. Y", "X or Y").
_ALTERNATIVES = re.compile(r"\s*;\s*|\s+(?:vs\.?|versus|or|and/or)\s+|\s*/\s+|\s+/\s*", re.I)
_COMMA = re.compile(r"\s*(?<!\d),\s*|,(?!\d)\s*|\s+[\u2013\u2014]\s+|\s+-{1,2}\s+")  # commas and dash appositives
_PAREN = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]")
_ABBREV = re.compile(r"^(?=.*[A-Z])[A-Za-z0-9][A-Za-z0-9\-/&+.']{0,11}$")  # "PTS", "A-T", "IgAN", "HbSS"
_TRIM = " \t,;:.-\u2013\u2014\"'"
# heads that are no diagnosis: placeholders and pronouns left by a sentence that refers back ("This was ...")
_EMPTY_WORDS = frozenset("none unknown unclear n a na undetermined indeterminate other this it these that which "
                         "he she they there patient the patient diagnosis".split())
_PREPOSITION_START = re.compile(r"^(?:by|via|on|through|after|from|in|at|using|with|without|to|for)\b", re.I)
_PRONOUN_START = re.compile(r"^(?:this|these|that|those|it|which|such|all|both|each)\b", re.I)
_ARTICLE = re.compile(r"^(?:an?|the)\s+", re.I)
# a comma piece made only of adjectives ("Multi-segmental", "extensive", "very early onset") names no disease
_ADJECTIVAL = re.compile(r"^(?:(?:very|[a-z]{3,}ly)\s+)?(?:(?:[a-z]+-)*[a-z]+(?:al|ed|ive|ic|ous|ar|ary|ent|ant|ile)|"
                         r"acute|chronic|severe|mild|moderate|massive|diffuse|early|late|rare|large|small|giant)$", re.I)
_MAX_WORDS = 40  # longer clauses are prose, not a diagnosis name


def bracket_depths(text: str) -> list[int]:
    """The bracket depth before each character of `text` ("(" and "[" open, ")" and "]" close)."""
    depth, depth_at = 0, []
    for c in text:
        depth_at.append(depth)
        depth += 1 if c in "([" else -1 if c in ")]" else 0
    return depth_at


def _split_top(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Split on `pattern` only outside brackets."""
    depth_at = bracket_depths(text)
    out, start = [], 0
    for m in pattern.finditer(text):
        if m.start() >= start and depth_at[m.start()] <= 0 and m.start() > start:
            out.append(text[start:m.start()])
            start = m.end()
    out.append(text[start:])
    return [p for p in out if p.strip()]


def _clean_clause(text: str) -> str:
    t = text.strip(_TRIM)
    for _ in range(3):  # labels and hedges nest: "Final diagnosis: most likely X"
        before = t
        t = _LABEL.sub("", t).strip(_TRIM)
        t = _ADJ_LABEL.sub("", t).strip(_TRIM)
        t = _DX_IS.sub("", t).strip(_TRIM)
        t = _DIAGNOSED.sub("", t).strip(_TRIM)
        t = _HAS.sub("", t).strip(_TRIM)
        t = _LEAD_HEDGE.sub("", t).strip(_TRIM)
        if t == before:
            break
    t = _PASSIVE_TAIL.sub("", t)
    t = _IS_THE_DX.sub("", t)
    t = _JUSTIFY.sub("", " " + t)  # the leading space lets a clause that is all justification vanish
    t = re.sub(r"^(?:an?|the)\s+", "", t, flags=re.I)
    return t.strip(_TRIM)


@lru_cache(maxsize=65536)
def abbreviates(abbr: str, name: str) -> bool:
    """`abbr` is built from `name`'s words in order, each word giving its first letter and maybe a few more of its
    letters ("SCID" <- "severe combined immunodeficiency", "GPA" <- "granulomatosis with polyangiitis")."""
    abbr = normalise_diagnosis(abbr).replace(" ", "")
    words = [w for w in normalise_diagnosis(name).split() if w not in {"of", "and", "the", "with", "in", "to"}]
    if not abbr or not words or len(words) > len(abbr) or len(abbr) > 3 * len(words) + 2:
        return False

    @lru_cache(maxsize=None)
    def fit(i: int, j: int) -> bool:  # abbr[i:] from words[j:]
        if j == len(words):
            return i == len(abbr)
        w = words[j]
        if i >= len(abbr) or abbr[i] != w[0]:
            return False
        k, pos = i + 1, 1
        if fit(k, j + 1):
            return True
        while k < len(abbr):  # extra letters of the same word, in order
            pos = w.find(abbr[k], pos) + 1
            if pos == 0:
                return False
            k += 1
            if fit(k, j + 1):
                return True
        return False

    return fit(0, 0)


def _name_span(text: str) -> int:
    """End of a name that contains a connector word but is spelled out by the abbreviation after it
    ("Granulomatosis with polyangiitis (GPA)", "Rash and mucositis with ... (X)"): 0 when there is none."""
    m = _PAREN.search(text)
    if m is None or not _ABBREV.match(m.group(1).strip(_TRIM)) or len(m.group(1).split()) != 1:
        return 0
    before = text[:m.start()]
    first = _split_top(before, _CONNECTOR)
    if len(first) < 2 or abbreviates(m.group(1), first[0]):
        return 0
    words = before.split()  # the abbreviation may spell only the last words ("Renal-limited [GPA words]")
    for k in range(len(words)):
        tail = " ".join(words[k:])
        if len(_split_top(tail, _CONNECTOR)) < 2:
            break
        if abbreviates(m.group(1), tail):
            return m.end()
    return 0


def _parse(text: str) -> Mention | None:
    span = _name_span(text)
    head_part = _split_top(text, _CONNECTOR)
    if span:
        rest = text[span:]
        lead = _CONNECTOR.match(rest)
        if lead and lead.end() > 0 and rest.strip():  # "(GPA) with X": X is a complication
            head_part = [text[:span], *_split_top(rest[lead.end():], _CONNECTOR)]
        else:
            tail = _split_top(rest, _CONNECTOR)
            head_part = [text[:span] + (tail[0] if tail else ""), *tail[1:]]
    parts = [p.strip(_TRIM) for p in head_part if p.strip(_TRIM)]
    if not parts:
        return None
    head_raw, causes = parts[0], parts[1:]
    pieces = [p.strip(_TRIM) for p in _split_top(head_raw, _COMMA)]
    lead: list[str] = []
    while len(pieces) > 1 and _ADJECTIVAL.match(pieces[0]):  # "Multi-segmental, extensive, X": X is the head
        lead.append(pieces.pop(0))
    head_raw, qualifiers = (pieces[0], pieces[1:] + lead) if pieces else (head_raw, lead)
    abbreviation: str | None = None
    aliases: list[str] = []
    for m in _PAREN.finditer(head_raw):
        inner = m.group(1).strip(_TRIM)
        if not inner:
            continue
        if abbreviation is None and _ABBREV.match(inner) and len(inner.split()) == 1:
            abbreviation = inner
        elif len(inner.split()) <= 8:
            aliases.append(inner)
    head = _ARTICLE.sub("", " ".join(_PAREN.sub(" ", head_raw).split()).strip(_TRIM))
    # a head that is only the abbreviation: "PTS (Parsonage-Turner syndrome)" keeps the long form as head
    if not head and aliases:
        head = aliases.pop(0)
    if not head or _PRONOUN_START.match(head) or _PREPOSITION_START.match(head):
        return None
    causes_clean = tuple(c for c in (" ".join(_PAREN.sub(" ", c).split()).strip(_TRIM) for c in causes) if c)
    quals = tuple(q for q in (" ".join(_PAREN.sub(" ", q).split()).strip(_TRIM) for q in qualifiers) if q)
    return Mention(text=text, head=head, causes=causes_clean, abbreviation=abbreviation, aliases=tuple(aliases),
                   qualifiers=quals)


def _dx_cue(sentence: str) -> bool:
    return bool(_DIAGNOSED.match(sentence) or _DX_IS.match(sentence) or _LABEL.match(sentence)
                or _PASSIVE_TAIL.search(sentence))


_MAX_CHARS = 8000  # model output is untrusted: a runaway answer is judged on its beginning


@lru_cache(maxsize=65536)
def _mentions(text: str) -> tuple[Mention, ...]:
    text = text[:_MAX_CHARS]
    out: list[Mention] = []
    seen: set[str] = set()
    for raw_line in text.replace("\r", "\n").split("\n"):
        line = _strip_markdown(raw_line)
        if not line:
            continue
        sents = _sentences(line)
        # the first sentence names the diagnosis; a later one only when it says so ("The diagnosis was X")
        chosen = sents[:1] + [s for s in sents[1:] if _dx_cue(s)]
        for sent in chosen:
            body = _clean_clause(sent)
            if not body:
                continue
            for alt in _split_top(body, _ALTERNATIVES):
                alt = _clean_clause(alt)
                if not alt or len(alt.split()) > _MAX_WORDS:
                    continue
                m = _parse(alt)
                if m is None or normalise_diagnosis(m.head) in _EMPTY_WORDS:
                    continue
                key = normalise_diagnosis(m.text)
                if key and key not in seen:
                    seen.add(key)
                    out.append(m)
    return tuple(out)


def diagnosis_mentions(text: str) -> list[Mention]:
    """The diagnosis mentions of `text` in order (the first is the primary diagnosis); [] when none is found."""
    return list(_mentions(text)) if text and text.strip() else []


def primary_mention(text: str) -> Mention | None:
    ms = _mentions(text) if text and text.strip() else ()
    return ms[0] if ms else None
