"""Near-duplicate detection between two case sets: MinHash + LSH banding (numpy), verified by exact Jaccard.

Each environment is the set of word k-shingles of `o1 + diagnosis`. Signatures use `num_perm` universal hashes
h(x) = (a*x + b) mod (2^31 - 1) over 31-bit shingle hashes, so products stay below 2^62 in uint64. Candidate pairs
share at least one LSH band; each candidate is then scored by its exact shingle Jaccard, so reported numbers are
exact and only recall depends on the banding. `semantic_overlaps` adds an injected-encoder check for paraphrases.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence

import msgspec
import numpy as np

from medaction.envs.oracle import TextEncoder
from medaction.envs.types import Environment

_P = np.uint64((1 << 31) - 1)
_WORD = re.compile(r"[a-z0-9]+")


class OverlapPair(msgspec.Struct, frozen=True):
    a: str
    b: str
    jaccard: float  # exact, on shingles
    estimate: float  # MinHash estimate


def shingles(text: str, k: int = 3) -> frozenset[int]:
    words = _WORD.findall(text.lower())
    grams = [" ".join(words[i : i + k]) for i in range(max(len(words) - k + 1, 1))] if words else []
    # blake2b, not hash(): stable across processes and runs
    return frozenset(
        int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") % int(_P) for g in grams
    )


def env_text(env: Environment) -> str:
    return f"{env.initial_observation}\n{env.diagnosis}"


class MinHasher:
    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self.a = rng.integers(1, int(_P), size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, int(_P), size=num_perm, dtype=np.uint64)

    def signature(self, sh: frozenset[int]) -> np.ndarray:
        if not sh:
            return np.full(self.num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
        x = np.fromiter(sh, dtype=np.uint64, count=len(sh))
        h = (np.outer(x, self.a) + self.b) % _P  # (n_shingles, num_perm)
        return h.min(axis=0)

    def signatures(self, sets: Sequence[frozenset[int]]) -> np.ndarray:
        return np.stack([self.signature(s) for s in sets]) if sets else np.zeros((0, self.num_perm), np.uint64)


def choose_bands(threshold: float, num_perm: int, recall: float = 0.99) -> int:
    """Fewest bands (= most rows per band, fewest false candidates) with P(candidate | J=threshold) >= recall."""
    for rows in sorted((r for r in range(1, num_perm + 1) if num_perm % r == 0), reverse=True):
        b = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** b >= recall:
            return b
    return num_perm


def find_overlaps(
    a: Sequence[Environment],
    b: Sequence[Environment],
    *,
    threshold: float = 0.5,
    num_perm: int = 128,
    bands: int | None = None,
    k: int = 3,
    seed: int = 1,
) -> list[OverlapPair]:
    """Cross pairs (one from a, one from b) with exact shingle Jaccard >= threshold, best first.
    `bands=None` picks the banding that finds a pair at the threshold with probability >= 0.99."""
    bands = bands or choose_bands(threshold, num_perm)
    if num_perm % bands:
        raise ValueError(f"num_perm ({num_perm}) must be a multiple of bands ({bands})")
    rows = num_perm // bands
    sa = [shingles(env_text(e), k) for e in a]
    sb = [shingles(env_text(e), k) for e in b]
    mh = MinHasher(num_perm, seed)
    sig_a, sig_b = mh.signatures(sa), mh.signatures(sb)
    pairs: list[np.ndarray] = []
    for band in range(bands):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        sl = slice(band * rows, (band + 1) * rows)
        for j in range(len(b)):
            buckets[sig_b[j, sl].tobytes()].append(j)
        for i in range(len(a)):
            hit = buckets.get(sig_a[i, sl].tobytes())
            if hit:
                pairs.append(np.asarray(hit, dtype=np.int64) + i * len(b))
    if not pairs:
        return []
    flat = np.unique(np.concatenate(pairs))
    ia, jb = flat // len(b), flat % len(b)
    # Cheap vectorised MinHash estimate first; only plausible pairs (3 standard errors) get the exact Jaccard.
    est = (sig_a[ia] == sig_b[jb]).mean(axis=1)
    slack = 3.0 * np.sqrt(max(threshold * (1 - threshold), 1e-3) / num_perm)
    keep = est >= threshold - slack
    out = []
    for i, j, e in zip(ia[keep].tolist(), jb[keep].tolist(), est[keep].tolist()):
        union = len(sa[i] | sb[j])
        jac = len(sa[i] & sb[j]) / union if union else 0.0
        if jac >= threshold:
            out.append(OverlapPair(a[i].case_id, b[j].case_id, round(jac, 4), round(e, 4)))
    out.sort(key=lambda p: (-p.jaccard, p.a, p.b))
    return out


def semantic_overlaps(
    a: Sequence[Environment], b: Sequence[Environment], encoder: TextEncoder, *, threshold: float = 0.9,
    block: int = 1024,
) -> list[OverlapPair]:
    """Paraphrase-level duplicates: cosine similarity of encoded `o1 + diagnosis` >= threshold (injected encoder).
    `jaccard` holds the cosine here and `estimate` the exact shingle Jaccard, for comparison."""
    if not a or not b:
        return []
    ea = _unit_rows(np.asarray(encoder.encode([env_text(e) for e in a]), dtype=np.float64))
    eb = _unit_rows(np.asarray(encoder.encode([env_text(e) for e in b]), dtype=np.float64))
    out = []
    for start in range(0, len(a), block):  # bounded memory: block x len(b) similarities at a time
        sims = ea[start : start + block] @ eb.T
        for i, j in zip(*np.nonzero(sims >= threshold)):
            ia = start + int(i)
            sa, sb = shingles(env_text(a[ia])), shingles(env_text(b[int(j)]))
            jac = len(sa & sb) / len(sa | sb) if sa | sb else 0.0
            out.append(OverlapPair(a[ia].case_id, b[int(j)].case_id, round(float(sims[i, j]), 4), round(jac, 4)))
    out.sort(key=lambda p: (-p.jaccard, p.a, p.b))
    return out


def _unit_rows(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
