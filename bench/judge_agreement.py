"""Agreement of the offline diagnosis judge with an LLM judge's labels on real answers.

Reads ../shared/data/judge/medrbench_judged_answers_dev.jsonl (or $MEDACTION_SHARED/data/judge/...; JSON lines with
`case_id`, `answer`, `truth`, `correct`). The file is split BY CASE ID into two halves with a fixed seed: the judge's
coefficients (medaction/envs/data/diagnosis_judge.json) are fitted on the "fit" half only (`--fit` refits and
rewrites them), and the figure that counts is the held-out half. Prints agreement, Cohen's kappa, false-correct
(judge says correct, label says wrong) and false-wrong counts for held-out, fit and full; the last line is the
held-out kappa.

    python bench/judge_agreement.py            # measure the packaged judge
    python bench/judge_agreement.py --fit      # refit on the fit half, write the coefficients, then measure
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medaction.envs.diagnosis import FEATURES, JudgeModel, diagnosis_features, model_json, same_diagnosis  # noqa: E402

SHARED = Path(os.environ.get("MEDACTION_SHARED") or REPO.parent / "shared")
DEV = SHARED / "data" / "judge" / "medrbench_judged_answers_dev.jsonl"
MODEL_PATH = REPO / "medaction" / "envs" / "data" / "diagnosis_judge.json"
SEED = 20261201


def split_by_case(rows: list[dict], seed: int = SEED) -> tuple[list[dict], list[dict]]:
    cases = sorted({r["case_id"] for r in rows})
    random.Random(seed).shuffle(cases)
    fit_cases = set(cases[: len(cases) // 2])
    return [r for r in rows if r["case_id"] in fit_cases], [r for r in rows if r["case_id"] not in fit_cases]


def figures(pred: list[bool], labels: list[bool]) -> dict[str, float]:
    n = len(labels)
    agree = sum(p == t for p, t in zip(pred, labels)) / n
    pp, pl = sum(pred) / n, sum(labels) / n
    pe = pp * pl + (1 - pp) * (1 - pl)
    kappa = (agree - pe) / (1 - pe) if pe < 1 else 0.0
    fc = sum(p and not t for p, t in zip(pred, labels))
    fw = sum(t and not p for p, t in zip(pred, labels))
    return {"n": n, "agreement": agree, "kappa": kappa, "false_correct": fc, "false_wrong": fw}


def fit(rows: list[dict], l2: float = 3.0) -> JudgeModel:
    """L2-regularised logistic regression by Newton's method; threshold chosen for kappa on the same rows."""
    X = np.array([diagnosis_features(r["answer"], r["truth"]) or (0.0,) * len(FEATURES) for r in rows])
    y = np.array([1.0 if r["correct"] else 0.0 for r in rows])
    Xb = np.hstack([np.ones((len(X), 1)), X])
    w = np.zeros(Xb.shape[1])
    reg = l2 * np.eye(Xb.shape[1])
    reg[0, 0] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-Xb @ w))
        grad = Xb.T @ (p - y) + reg @ w
        hess = Xb.T @ (Xb * (p * (1 - p))[:, None]) + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    p = 1 / (1 + np.exp(-Xb @ w))
    labels = [bool(v) for v in y]
    best = max(np.arange(0.30, 0.95, 0.01), key=lambda th: (figures([bool(v >= th) for v in p], labels)["kappa"], th))
    return JudgeModel(features=FEATURES, weights=tuple(float(v) for v in w[1:]), bias=float(w[0]),
                      threshold=round(float(best), 2), fitted_on=f"{DEV.name}: fit half by case id (seed {SEED})")


def cross_validated(rows: list[dict], folds: int = 5, repeats: int = 1) -> dict[str, float]:
    """Model selection inside the fit half only: k-fold by case id, each fold predicted by a model fitted on the
    others (so choices are made without looking at the held-out half). With repeats > 1 the folds are redrawn
    (seeds SEED+1 ...) and the figures averaged: one 5-fold draw swings by ~0.02 kappa on ~600 answers."""
    runs = []
    for rep in range(repeats):
        cases = sorted({r["case_id"] for r in rows})
        random.Random(SEED + 1 + rep).shuffle(cases)
        fold_of = {c: i % folds for i, c in enumerate(cases)}
        pred: list[bool] = []
        labels: list[bool] = []
        for k in range(folds):
            train = [r for r in rows if fold_of[r["case_id"]] != k]
            test = [r for r in rows if fold_of[r["case_id"]] == k]
            m = fit(train)
            pred += [same_diagnosis(r["answer"], r["truth"], model=m) for r in test]
            labels += [bool(r["correct"]) for r in test]
        runs.append(figures(pred, labels))
    return {key: sum(r[key] for r in runs) / len(runs) for key in runs[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", action="store_true", help="refit on the fit half and rewrite the packaged coefficients")
    ap.add_argument("--labels", type=Path, default=DEV)
    ap.add_argument("--cv", action="store_true", help="also print 5-fold cross-validation inside the fit half")
    ap.add_argument("--repeats", type=int, default=1, help="with --cv: average over this many fold draws")
    args = ap.parse_args()
    if not args.labels.is_file():
        print(f"judge_agreement: labelled answers not found: {args.labels} (run from a checkout beside ../shared, "
              "or set MEDACTION_SHARED=/path/to/shared)", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in args.labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    fit_rows, held = split_by_case(rows)
    model = None
    if args.fit:
        model = fit(fit_rows)
        MODEL_PATH.write_text(model_json(model) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_PATH.relative_to(REPO)} (threshold {model.threshold})")
    if args.cv:
        r = cross_validated(fit_rows, repeats=max(1, args.repeats))
        print(f"cv (fit half, 5 folds by case, {max(1, args.repeats)} draw(s)): agreement {r['agreement']:.3f}  "
              f"kappa {r['kappa']:.3f}  false-correct {r['false_correct']:.0f}  false-wrong {r['false_wrong']:.0f}")
    t0 = time.perf_counter()
    results = {}
    for name, part in (("fit", fit_rows), ("full", rows), ("held-out", held)):
        pred = [same_diagnosis(r["answer"], r["truth"], model=model) for r in part]
        results[name] = figures(pred, [bool(r["correct"]) for r in part])
    dt = time.perf_counter() - t0
    always = figures([True] * len(held), [bool(r["correct"]) for r in held])
    print(f"labels: {args.labels.name}: {len(rows)} answers, {len({r['case_id'] for r in rows})} cases; split by case "
          f"id (seed {SEED}): fit {len(fit_rows)}, held-out {len(held)}")
    print(f"baseline 'always correct' on held-out: agreement {always['agreement']:.3f}, kappa {always['kappa']:.3f}")
    for name in ("fit", "full", "held-out"):
        r = results[name]
        print(f"{name:>8}: n {r['n']:4d}  agreement {r['agreement']:.3f}  kappa {r['kappa']:.3f}  "
              f"false-correct {r['false_correct']:3d}  false-wrong {r['false_wrong']:3d}")
    print(f"speed: {sum(len(p) for p in (fit_rows, rows, held)) / dt:,.0f} judgements/s (first call includes the "
          "IDF table build)")
    print(f"held-out kappa: {results['held-out']['kappa']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
