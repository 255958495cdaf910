"""Precision/recall of the oracle's matcher on a labelled (case, request, expected items) set."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from medaction.envs.load import iter_environments
from medaction.envs.oracle import TestMatcher
from medaction.envs.types import Environment


@dataclass
class OracleQuality:
    pairs: int = 0
    decoys: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    exact: int = 0
    errors: list[str] = field(default_factory=list)  # human-readable misses

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _label(env: Environment, i: int) -> str:
    t = env.tests[i]
    return f"{t.category} > {t.name}" if t.category else t.name


def evaluate(labels_path: Path, sources: dict[str, Path]) -> OracleQuality:
    rows = [json.loads(x) for x in labels_path.read_text(encoding="utf-8").splitlines() if x.strip()]
    envs: dict[tuple[str, str], Environment] = {}
    for src in {r["source"] for r in rows}:
        for env in iter_environments(src, sources[src], strict=True):
            envs[(src, env.case_id)] = env
    q = OracleQuality()
    matchers: dict[tuple[str, str], TestMatcher] = {}
    for r in rows:
        key = (r["source"], r["case_id"])
        env = envs[key]
        names = {_label(env, i) for i in range(len(env.tests))}
        missing = set(r["expected"]) - names
        if missing:
            raise ValueError(f"{labels_path}: {key}: expected items not on the menu: {sorted(missing)}")
        m = matchers.setdefault(key, TestMatcher(env.tests))
        got = {_label(env, i) for i in m.match(r["request"])}
        exp = set(r["expected"])
        q.pairs += 1
        q.decoys += not exp
        q.tp += len(got & exp)
        q.fp += len(got - exp)
        q.fn += len(exp - got)
        q.exact += got == exp
        if got != exp:
            q.errors.append(f"{key[1]}: {r['request']!r}: got {sorted(got)} expected {sorted(exp)}")
    return q
