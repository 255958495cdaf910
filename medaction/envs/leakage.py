"""Stage-1 validation: the hidden evidence (menu results, diagnosis) must not leak into o1.

Checks, each reported as a `Finding` with the offending o1 span:
- lexical: a run of >= `min_run` consecutive content tokens shared by a result (or the diagnosis) and o1, or the
  whole result/diagnosis when it is shorter than that;
- semantic (optional, injected `TextEncoder`): an o1 sentence whose cosine similarity to a result or the
  diagnosis is >= `threshold`;
- structure: every menu item has a result, the diagnosis is non-empty and (optionally, injected `linker`) linkable,
  duplicate tests (same normalised name and category) are reported; `merge_duplicate_tests` merges them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import msgspec
import numpy as np

from medaction.envs.oracle import TextEncoder
from medaction.envs.types import Environment, TestItem
from medaction.envs.vocab import normalise

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_STOP = frozenset("a an the of and or with without in on at to for by from is was were be been no not".split())
_SENT = re.compile(r"[^.!?\n;]+[.!?;]?")


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    kind: str  # result_in_o1 | diagnosis_in_o1 | empty_result | empty_diagnosis | unlinkable_diagnosis | duplicate_test
    case_id: str
    item: str = ""  # menu item (or "diagnosis")
    span: tuple[int, int] = (0, 0)  # character offsets in o1
    text: str = ""  # the offending o1 text
    score: float = 0.0
    method: str = "lexical"  # lexical | encoder | structure


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _longest_shared_run(needle: str, o1_toks: list[tuple[str, int, int]]) -> tuple[int, int, int]:
    """(length in tokens, o1 char start, o1 char end) of the longest token run of `needle` found in o1."""
    n = [t for t, _, _ in _tokens(needle)]
    h = [t for t, _, _ in o1_toks]
    best = (0, 0, 0)
    if not n or not h:
        return best
    prev = [0] * (len(h) + 1)  # longest common substring over tokens, O(len(n) * len(h))
    for i in range(1, len(n) + 1):
        cur = [0] * (len(h) + 1)
        for j in range(1, len(h) + 1):
            if n[i - 1] == h[j - 1]:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best[0]:
                    best = (cur[j], o1_toks[j - cur[j]][1], o1_toks[j - 1][2])
        prev = cur
    return best


def _content_len(text: str) -> int:
    return sum(1 for t, _, _ in _tokens(text) if t not in _STOP)


def check_environment(
    env: Environment,
    *,
    min_run: int = 6,
    encoder: TextEncoder | None = None,
    threshold: float = 0.9,
    linker: Callable[[str], bool] | None = None,
) -> list[Finding]:
    """All problems of one environment (empty list = clean)."""
    o1 = env.initial_observation
    o1_toks = _tokens(o1)
    out: list[Finding] = []
    evidence: list[tuple[str, str]] = [(t.name, t.result) for t in env.tests if t.result.strip()]
    for t in env.tests:
        if not t.result.strip():
            out.append(Finding(kind="empty_result", case_id=env.case_id, item=t.name, method="structure"))
    if not env.diagnosis.strip():
        out.append(Finding(kind="empty_diagnosis", case_id=env.case_id, item="diagnosis", method="structure"))
    else:
        evidence.append(("diagnosis", env.diagnosis))
        if linker is not None and not linker(env.diagnosis):
            out.append(Finding(kind="unlinkable_diagnosis", case_id=env.case_id, item="diagnosis",
                               text=env.diagnosis, method="structure"))
    for name, text in evidence:
        kind = "diagnosis_in_o1" if name == "diagnosis" else "result_in_o1"
        run, start, end = _longest_shared_run(text, o1_toks)
        whole = len(_tokens(text))
        # A leak is a long shared run, or the whole (short) item when it carries content words.
        if run >= min_run or (run == whole and run > 0 and _content_len(text) >= 1 and
                              (kind == "diagnosis_in_o1" or run >= 3)):
            out.append(Finding(kind=kind, case_id=env.case_id, item=name, span=(start, end), text=o1[start:end],
                               score=run / max(whole, 1)))
    if encoder is not None and evidence:
        out.extend(_semantic(env, evidence, encoder, threshold, {(f.item, f.kind) for f in out}))
    seen: dict[tuple[str, str], str] = {}
    for t in env.tests:
        key = (normalise(t.name), normalise(t.category))
        if key in seen:
            out.append(Finding(kind="duplicate_test", case_id=env.case_id, item=t.name, method="structure"))
        seen[key] = t.name
    return out


def _semantic(env: Environment, evidence: Sequence[tuple[str, str]], encoder: TextEncoder, threshold: float,
              already: set[tuple[str, str]]) -> list[Finding]:
    o1 = env.initial_observation
    sents = [(m.start(), m.end()) for m in _SENT.finditer(o1) if _content_len(m.group(0)) >= 2]
    if not sents:
        return []
    texts = [o1[a:b] for a, b in sents] + [t for _, t in evidence]
    emb = np.asarray(encoder.encode(texts), dtype=np.float64)
    emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    sims = emb[len(sents):] @ emb[: len(sents)].T
    out = []
    for k, (name, _) in enumerate(evidence):
        kind = "diagnosis_in_o1" if name == "diagnosis" else "result_in_o1"
        j = int(np.argmax(sims[k]))
        if sims[k, j] >= threshold and (name, kind) not in already:
            a, b = sents[j]
            out.append(Finding(kind=kind, case_id=env.case_id, item=name, span=(a, b), text=o1[a:b].strip(),
                               score=float(sims[k, j]), method="encoder"))
    return out


def merge_duplicate_tests(tests: Sequence[TestItem]) -> tuple[TestItem, ...]:
    """Same normalised (name, category) -> one item, results joined in order, aliases united."""
    merged: dict[tuple[str, str], TestItem] = {}
    for t in tests:
        key = (normalise(t.name), normalise(t.category))
        if key not in merged:
            merged[key] = t
            continue
        m = merged[key]
        result = m.result if t.result.strip() in m.result else f"{m.result}\n{t.result}".strip()
        aliases = tuple(dict.fromkeys(m.aliases + t.aliases))
        merged[key] = TestItem(name=m.name, category=m.category, result=result, aliases=aliases)
    return tuple(merged.values())
