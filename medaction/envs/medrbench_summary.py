"""Split a MedR-Bench `case_summary` into o1 (before "Ancillary Tests") and the ancillary block's test items.

Rules, not case fixes: leading noise (prompts, "#### Case 1", prose intros) is dropped up to the first
"Field: value" line; the ancillary block ends at the next section of the same or outer level, a heading or a rule;
bullets become items (a plain "Header:" bullet is a category for its children); an inline paragraph is split by
sentence/semicolon and a new item starts at each sentence naming a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from medaction.envs.test_cues import VERB_RE, find_cue, strip_status
from medaction.envs.types import TestItem

ANCILLARY_RE = re.compile(r"ancillary\s+tests?", re.IGNORECASE)
_ANC_HEAD_RE = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,2}[.)]\s+)?[*_#\s]*ancillary\s+tests?\b", re.IGNORECASE)
_BULLET_RE = re.compile(r"^(\s*)(?:[-*+•]|\d{1,2}[.)]|[a-z][.)])\s+(.*)$")
_SECTION_RE = re.compile(r"^\s*(?:[-*+•]\s+|\d{1,2}[.)]\s+)?\**\s*[A-Za-z][\w /&()'’,-]{0,60}?\s*\**\s*:")
_RULE_RE = re.compile(r"^\s*(?:#{1,6}\s|-{3,}\s*$|\*{3,}\s*$|_{3,}\s*$)")
_NAMED_RE = re.compile(r"^\s*\**\s*([^:*]{1,90}?)\s*\**\s*:\s*\**\s*(.*)$", re.DOTALL)
_LAB_FINDING_RE = re.compile(r"\b\w+(?:emia|aemia|cytosis|penia|philia|uria|globulinemia)\b", re.IGNORECASE)
_FUNCTION_WORDS = frozenset("on in at of for by via from with and or after before during upon to as".split())
_LEAD_RE = re.compile(r"^(?:on|in|at|after|from|by|via|during|upon)\s+", re.IGNORECASE)
_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"“])|;\s+")


@dataclass
class _Node:
    indent: int
    text: str
    bullet: bool = True
    children: list[_Node] = field(default_factory=list)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "").replace("__", "")).strip()


def split_summary(summary: str) -> tuple[str, int, list[str]] | None:
    """-> (o1 text, header indent, ancillary block lines incl. the header's own text), None if no ancillary section."""
    lines = summary.splitlines()
    # The section line itself ("- **Ancillary Tests:**"), not prose that mentions ancillary tests.
    idx = next((i for i, ln in enumerate(lines) if _ANC_HEAD_RE.match(ln)), None)
    if idx is None:
        idx = next((i for i, ln in enumerate(lines) if ANCILLARY_RE.search(ln)), None)
    if idx is None:
        return None
    head = lines[idx]
    start = next((i for i, ln in enumerate(lines[:idx]) if _SECTION_RE.match(ln)), idx)
    o1_lines = [ln.rstrip() for ln in lines[start:idx]]
    o1_lines = [ln for ln in o1_lines if not _RULE_RE.match(ln)]
    o1 = "\n".join(ln.replace("**", "") for ln in o1_lines).strip()

    header_bullet = _BULLET_RE.match(head)
    h_indent = len(head) - len(head.lstrip())
    tail = ANCILLARY_RE.split(head, maxsplit=1)[1]
    tail = re.sub(r"^[\s*_:)\]]*", "", tail)  # "**Ancillary Tests:** text" -> "text"
    # Header text goes one column in, so bullets below it ("CT imaging revealing:" + findings) nest under it.
    block = [" " * (h_indent + 1) + tail] if tail.strip() else []
    for ln in lines[idx + 1 :]:
        if not ln.strip():
            continue
        if _RULE_RE.match(ln):
            break
        indent = len(ln) - len(ln.lstrip())
        is_bullet = _BULLET_RE.match(ln) is not None
        if indent <= h_indent:
            # Same level as the header: a new section ends the block. Under a bullet-less "**Ancillary Tests:**"
            # header, bullets at the same indent are its children.
            if header_bullet is not None or not is_bullet:
                break
            ln = " " * (h_indent + 2) + ln.lstrip()
        block.append(ln)
    return o1, h_indent, block


def _tree(block: list[str]) -> list[_Node]:
    root = _Node(-1, "")
    stack = [root]
    for ln in block:
        m = _BULLET_RE.match(ln)
        indent = len(ln) - len(ln.lstrip())
        text = m.group(2) if m else ln.strip()
        if m is None and stack[-1] is not root and indent >= stack[-1].indent:
            stack[-1].text += " " + text  # continuation line of the previous bullet
            continue
        while stack[-1] is not root and stack[-1].indent >= indent:
            stack.pop()
        node = _Node(indent, text, bullet=m is not None)
        stack[-1].children.append(node)
        stack.append(node)
    return root.children


def _name_of(segment: str) -> str:
    """A test name for an unnamed finding: the subject of 'X revealed ...', else the first test cue."""
    segment = (_segments(segment) or [segment])[0]  # the name is in the first sentence
    verb = VERB_RE.search(segment)
    if verb is not None:
        subject = strip_status(_LEAD_RE.sub("", segment[: verb.start()].strip(" ,.:")))
        head, _, tail = subject.rpartition(", ")
        if head and find_cue(head) is None and find_cue(tail) is not None:
            subject = strip_status(tail)  # "After treatment, a follow-up MRI" -> "follow-up MRI"
        words = len(subject.split())
        if subject and ":" not in subject and (words <= 6 or (words <= 10 and find_cue(subject) is not None)):
            return _cap(subject)
    cue = find_cue(segment)
    if cue is None:
        # "Leukocytosis, anemia, ..." names lab abnormalities, not a test: file it as laboratory findings.
        return "Laboratory findings" if _LAB_FINDING_RE.search(segment) else "Clinical findings"
    before = segment[: cue.start()].split()
    prev = before[-1] if before else ""
    phrase = cue.group(0)
    if prev and re.fullmatch(r"[A-Za-z][\w-]*", prev) and strip_status(prev + " x") != "x" \
            and prev.lower() not in _FUNCTION_WORDS:
        phrase = f"{prev} {phrase}"
    return _cap(strip_status(phrase) or phrase)


def _cap(s: str) -> str:
    s = s.strip(" ,.;:")
    return s[:1].upper() + s[1:]


def _split_named(text: str) -> tuple[str, str] | None:
    """'CT Scan: findings' -> ('CT Scan', 'findings') when the part before ':' reads as a name, not a sentence."""
    m = _NAMED_RE.match(text)
    if m is None:
        return None
    name, rest = _clean(m.group(1)), _clean(m.group(2))
    if name.count("(") != name.count(")") or name.count("[") != name.count("]"):
        return None  # "Elevated LDH (LDH: 241 U/L)": the colon sits inside a parenthesis, not after a name
    if not name or len(name.split()) > 12 or VERB_RE.search(" " + name) is not None and find_cue(name) is None:
        return None
    return name, rest


def _segments(text: str) -> list[str]:
    return [s.strip() for s in _SPLIT_RE.split(_clean(text)) if s and s.strip(" .;")]


def _paragraph_items(text: str, category: str) -> list[TestItem]:
    """Inline paragraph -> items: a sentence that names a test starts an item; others extend the previous one."""
    items: list[tuple[str, list[str]]] = []
    for seg in _segments(text):
        if find_cue(seg) is not None or not items:
            items.append((_name_of(seg), [seg]))
        else:
            items[-1][1].append(seg)
    return [TestItem(name=n, category=category, result=" ".join(parts)) for n, parts in items]


def _items(nodes: list[_Node], category: str) -> list[TestItem]:
    out: list[TestItem] = []
    for node in nodes:
        text = _clean(node.text)
        named = _split_named(text)
        if node.children:
            head = named[0] if named else text.rstrip(":")
            sentence_head = bool(named and named[1]) or VERB_RE.search(" " + head) is not None
            if sentence_head:
                # "CT imaging revealing:" + findings below -> one test whose result includes the children.
                child_text = "; ".join(_clean(c.text) for c in _flatten(node.children))
                name, body = named if named and named[1] else (_name_of(head), head)
                body = body.rstrip(":") + (": " if child_text else "") + child_text
                out.append(TestItem(name=name, category=category, result=body.strip()))
            else:
                out.extend(_items(node.children, head))
            continue
        if named is not None and named[1]:
            out.append(TestItem(name=named[0], category=category, result=named[1]))
        elif named is None and text:
            if not node.bullet and len(_segments(text)) > 1:
                out.extend(_paragraph_items(text, category))
            else:
                out.append(TestItem(name=_name_of(text), category=category, result=text))
    return out


def _flatten(nodes: list[_Node]) -> list[_Node]:
    out: list[_Node] = []
    for n in nodes:
        out.append(n)
        out.extend(_flatten(n.children))
    return out


def ancillary_items(block: list[str]) -> list[TestItem]:
    return _items(_tree(block), "")
