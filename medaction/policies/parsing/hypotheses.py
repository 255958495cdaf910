"""The parser's free-text path for hypotheses: the leading diagnosis (and a differential where the text has one)
from free-form reasoning, so DTC and RAC can score turns that carry no structured differential
(docs/design.md "What cannot be measured").

Rules, on untrusted text, bounded work (the tail of the text, where the current thinking is):
1. a differential written as a section or labelled list ("Differential diagnosis:" + list or "a, b and c"), a
   Markdown "Differential" section (read by the same helpers as the structured parser), or at least two
   bold-headed list items ("1. **Orbital cellulitis:** ...") that are not section words;
2. the leading hypothesis from explicit phrases, the LAST occurrence winning (thinking moves on): "most likely
   diagnosis is X", "leading/working diagnosis: X", "I suspect X", "X is the most likely" (strong), else the
   weaker "consistent with / suggestive of X".
Order: a strong leading hypothesis, then the differential, then a weak one (de-duplicated). Nothing found -> ().
"""

from __future__ import annotations

import re

from medaction.policies.parsing.fields import clean_item, dedupe_key, hypothesis_from_text, split_items
from medaction.policies.parsing.text import parse_markdown
from medaction.policies.types import Hypothesis

MAX_TEXT = 20_000  # chars of the reasoning tail examined
MAX_WORDS = 12  # a longer "diagnosis" is a sentence, not a name

_X = r"(?P<x>[^.;:\n]{2,160})"
_STRONG = [
    re.compile(r"\b(?:most|more)\s+(?:likely|probable)\s+(?:diagnosis|cause|explanation|etiology|aetiology|dx)"
               r"(?:\s+(?:here|in this case|for (?:this|the) patient))?\s*(?:is|remains|would be|seems to be|:)\s*"
               + _X, re.I),
    re.compile(r"\b(?:leading|working|top|primary|favou?red|presumptive|provisional)\s+"
               r"(?:diagnosis|hypothesis|consideration|candidate|differential)\s*(?:is|remains|would be|:|-)\s*"
               + _X, re.I),
    re.compile(r"\b(?:I|we)\s+(?:strongly\s+)?(?:suspect|favou?r|think (?:this|it) is|believe (?:this|it) is)\s+"
               + _X, re.I),
    re.compile(r"\b(?:the\s+)?diagnosis\s+is\s+(?:most\s+likely|probably|likely)\s+" + _X, re.I),
]
# "X is the most likely diagnosis": X is the clause before it
_X_FIRST = re.compile(r"(?:^|[.;:\n]\s*)(?P<x>[^.;:\n]{2,120}?)\s+(?:is|remains)\s+(?:the\s+)?(?:most\s+likely|"
                      r"leading|likeliest|most\s+probable)\b", re.I)
_WEAK = re.compile(r"\b(?:most\s+)?(?:consistent|compatible)\s+with\s+" + _X + r"|\b(?:suggestive|typical|"
                   r"characteristic|indicative)\s+of\s+" + _X.replace("?P<x>", "?P<y>"), re.I)
_DIFF_LABEL = re.compile(r"\bdifferentials?(?:[ \t]+diagnos[ie]s)?[ \t]*\**[ \t]*(?:(?:included|includes?|would include"
                         r"|consists of|is|are|were)\b|[:\-])[ \t]*\**[ \t]*(?P<x>[^\n]{0,600})", re.I)
# "1. **Orbital cellulitis:** reasons..." - a differential written as bold-headed list items
_BOLD_ITEM = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•+])\s+\*\*([^*\n]{2,80}?):?\*\*", re.M)
_SECTION_WORDS = re.compile(r"\b(?:consideration|rationale|exclusion|conclusion|summary|final|finding|assessment|"
                            r"plan|tests?|work-?up|step|history|examination|reasoning|differential|impression|"
                            r"evidence|management|treatment|next|initial|key|overview|other)s?\b", re.I)
_SENTENCE = re.compile(r"\.(?:\s|$)")
_LAST_AND = re.compile(r"\s+(?:and|or)\s+", re.I)
_LIST_ITEM = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•+])\s+(\S.*)$")
# Where a diagnosis phrase ends: a clause that explains or qualifies it
_STOP = re.compile(r"\s*(?:,|\(|\bgiven\b|\bbecause\b|\bbased on\b|\bwhich\b|\bsince\b|\bas evidenced\b|\bwith\b"
                   r"|\bbut\b|\bthough\b|\balthough\b|\bor\b|\bversus\b|\bvs\.?\b|\bhowever\b|\bthat\b|\bin this\b"
                   r"|\bfor this\b|\bfor the\b)", re.I)
_LEAD_WORDS = re.compile(r"^(?:that\s+)?(?:this\s+is\s+|it\s+is\s+|the\s+patient\s+has\s+)?(?:an?\s+|the\s+)?"
                         r"(?:case\s+of\s+|diagnosis\s+of\s+)?", re.I)
# Words of the sentence, not the name, that trail a diagnosis ("I suspect hypothyroidism now", "... at this point")
_TRAIL_WORDS = re.compile(r"(?:\s+(?:now|here|instead|then|again|too|also|overall|at\s+this\s+(?:point|stage|time)"
                          r"|at\s+present|currently|clinically|most\s+likely|likely|probably))+\s*$", re.I)
_NOT_A_NAME = re.compile(r"^(?:unclear|uncertain|unknown|not\s|no\s|none\b|pending|undetermined|still\b|this\b|"
                         r"it\b|that\b|a\s+number\b|several\b|something\b|one\b|further\b)", re.I)


def _clean(x: str) -> str | None:
    x = _STOP.split(x, maxsplit=1)[0]
    x = clean_item(_LEAD_WORDS.sub("", x.strip())).strip(" *_\"'`").rstrip(".")
    x = _TRAIL_WORDS.sub("", x)
    if not x or _NOT_A_NAME.match(x) or len(x.split()) > MAX_WORDS or not re.search(r"[A-Za-z]{3}", x):
        return None
    return x


def _last(pattern: re.Pattern[str], text: str) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for m in pattern.finditer(text):
        raw = m.group("x") if m.groupdict().get("x") else m.groupdict().get("y")
        x = _clean(raw or "")
        if x is not None:
            best = (m.start(), x)
    return best


def _strong(text: str) -> str | None:
    strong = [hit for p in (*_STRONG, _X_FIRST) if (hit := _last(p, text)) is not None]
    return max(strong)[1] if strong else None  # the latest strong statement


def _weak(text: str) -> str | None:
    weak = _last(_WEAK, text)
    return weak[1] if weak else None


def leading_hypothesis(text: str) -> str | None:
    """The leading diagnosis stated in free text, or None (see the module docstring for the order)."""
    text = text[-MAX_TEXT:]
    return _strong(text) or _weak(text)


def differential_items(text: str) -> list[str]:
    """Diagnoses of a differential the text writes out (a labelled list or section), in order; [] if none."""
    text = text[-MAX_TEXT:]
    md = parse_markdown(text + "\n### Conclusion\n")  # a Differential section anywhere (the sentinel enables it)
    if md is not None and md[0].differential:
        return [h.diagnosis for h in md[0].differential]
    items: list[str] = []
    for m in _DIFF_LABEL.finditer(text):
        inline = m.group("x").strip()
        found: list[str] = []
        if inline:
            parts = split_items(_SENTENCE.split(inline, maxsplit=1)[0])
            if parts:  # "a, b and c": the last item holds two
                parts = parts[:-1] + _LAST_AND.split(parts[-1])
            found = [x for i in parts if (x := _clean(i))]
        else:
            following = text[m.end():].splitlines()[1:40]
            for line in following:
                lm = _LIST_ITEM.match(line)
                if lm:
                    h = hypothesis_from_text(lm.group(1))
                    if h is not None and (x := _clean(h.diagnosis)):
                        found.append(x)
                elif found and line.strip():
                    break
        if found:
            items = found  # the last differential written wins
    if not items:
        heads = [x for m in _BOLD_ITEM.finditer(text)
                 if not _SECTION_WORDS.search(m.group(1)) and (x := _clean(m.group(1)))]
        if len(heads) >= 2:
            items = heads
    return items


def extract_hypotheses(text: str) -> tuple[Hypothesis, ...]:
    """b_t from free-form reasoning: the leading hypothesis first, then the written differential."""
    if not isinstance(text, str) or not text.strip():
        return ()
    text = text[-MAX_TEXT:]
    try:
        strong, diff = _strong(text), differential_items(text)
        weak = None if strong else _weak(text)
    except Exception:  # noqa: BLE001 - untrusted text must never break scoring
        return ()
    # an explicit "most likely X" leads; a written differential outranks a mere "consistent with X"
    order = ([strong] if strong else []) + diff + ([weak] if weak else [])
    out: list[Hypothesis] = []
    seen: set[str] = set()
    for d in order:
        k = dedupe_key(d)
        if k and k not in seen:
            seen.add(k)
            out.append(Hypothesis(d, 0.0))
    return tuple(out[:32])
