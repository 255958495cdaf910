"""Builds the evaluation result (Table-2 summary over runs, hard subset, analyses) and reads/writes it as JSON."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import msgspec

from medaction.eval.analyses import Analyses, analyse, select_hard
from medaction.eval.hard_set import HardSet
from medaction.eval.metrics import run_metrics, stat
from medaction.eval.types import CaseResult, Summary

RESULT_FILE = "eval.json"
CASES_FILE = "cases.jsonl"


class EvalResult(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the report shows, machine-readable. `notes` carry the protocol caveats stated in the report."""

    summary: Summary
    hard: Summary | None
    hard_cases: tuple[str, ...]  # the evaluated cases on the hard list
    hard_set: str = ""  # the committed hard list's name ("" = none for this source)
    hard_set_size: int = 0  # cases on that list (evaluated or not)
    hard_set_rule: str = ""
    analyses: Analyses
    scorer: str
    notes: tuple[str, ...] = ()


def summarize(results: Sequence[CaseResult], *, label: str, policy: str, judge: str, graph: str, cases: str) -> Summary:
    by_run: dict[int, list[CaseResult]] = defaultdict(list)
    for r in results:
        by_run[r.run].append(r)
    runs = tuple(run_metrics(rs, run=k, seed=rs[0].seed) for k, rs in sorted(by_run.items()))
    return Summary(
        label=label,
        policy=policy,
        judge=judge,
        graph=graph,
        cases=cases,
        n_cases=len({r.case_id for r in results}),
        runs=runs,
        precision=stat([m.precision for m in runs]),
        recall=stat([m.recall for m in runs]),
        f1=stat([m.f1 for m in runs]),
        accuracy=stat([m.accuracy for m in runs]),
    )


def build_result(
    results: Sequence[CaseResult],
    *,
    label: str,
    policy: str,
    judge: str,
    graph: str,
    scorer: str,
    cases: str,
    rac_tau: float = 3.0,
    hard_set: HardSet | None = None,
    extra_notes: Sequence[str] = (),
) -> EvalResult:
    summary = summarize(results, label=label, policy=policy, judge=judge, graph=graph, cases=cases)
    hard_ids = select_hard(results, hard_set.case_ids if hard_set else ())
    hard = None
    if hard_ids:
        keep = set(hard_ids)
        hard = summarize([r for r in results if r.case_id in keep], label=label + " [hard]", policy=policy,
                         judge=judge, graph=graph, cases=cases)
    notes = [
        "Predicted tests = union of tests ordered before the final turn; ground truth = the case's test menu.",
        "P and R are averaged over cases; F1 = 2PR/(P+R) of the averaged P and R (paper Table 2 rule).",
        f"Cases where the policy ordered no test count as P = R = 0 (run means: "
        f"{_mean([m.n_no_tests for m in summary.runs]):.1f} of {summary.n_cases} cases).",
        f"Cases without a final diagnosis count as Wrong (run means: {_mean([m.n_no_final for m in summary.runs]):.1f}).",
        f"Spread = sample standard deviation over {len(summary.runs)} run(s) with different seeds.",
        *extra_notes,
    ]
    hs = hard_set
    return EvalResult(summary=summary, hard=hard, hard_cases=hard_ids, hard_set=hs.name if hs else "",
                      hard_set_size=len(hs.case_ids) if hs else 0, hard_set_rule=hs.rule if hs else "",
                      analyses=analyse(results, rac_tau=rac_tau), scorer=scorer, notes=tuple(notes))


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def write_result(out: Path, result: EvalResult, results: Sequence[CaseResult]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    enc = msgspec.json.Encoder()
    tmp = out / (CASES_FILE + ".tmp")
    tmp.write_bytes(b"".join(enc.encode(r) + b"\n" for r in results))
    tmp.replace(out / CASES_FILE)
    tmp = out / (RESULT_FILE + ".tmp")
    tmp.write_bytes(msgspec.json.format(enc.encode(result), indent=2))
    tmp.replace(out / RESULT_FILE)


def read_result(path: Path) -> EvalResult:
    """Read an eval result from a directory (its eval.json) or the JSON file itself; clear error naming the file."""
    f = path / RESULT_FILE if path.is_dir() else path
    try:
        return msgspec.json.decode(f.read_bytes(), type=EvalResult)
    except FileNotFoundError:
        raise FileNotFoundError(f"{f}: no eval result here (run `medaction eval` with --out {path})") from None
    except msgspec.ValidationError as exc:
        raise ValueError(f"{f}: not an eval result: {exc}") from None


def read_cases(path: Path) -> list[CaseResult]:
    dec = msgspec.json.Decoder(CaseResult)
    f = path / CASES_FILE
    return [dec.decode(line) for line in f.read_bytes().splitlines() if line.strip()]
