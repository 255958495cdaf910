"""`medaction eval` core: R runs (different seeds) of K=1 rollouts through a RolloutBackend, judged, summarised,
reported. Resumable: each run has its own engine output directory, and the engine skips finished cases."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import msgspec

from medaction.envs.types import Environment
from medaction.eval.hard_set import hard_set_for
from medaction.eval.backend import RolloutBackend, RolloutRequest
from medaction.eval.judges.base import Judge
from medaction.eval.judging import judge_case
from medaction.eval.plots import plot_all
from medaction.eval.report import render
from medaction.eval.summary import EvalResult, build_result, write_result
from medaction.eval.types import CaseResult
from medaction.scoring.types import ScoredTrajectory

log = logging.getLogger(__name__)


class EvalSpec(msgspec.Struct, frozen=True, kw_only=True):
    policy: str
    policy_config: dict[str, Any] = {}
    cases: str
    source: str
    out: str
    runs: int = 3
    limit: int | None = None
    max_turns: int = 8
    base_seed: int = 0
    scorer: str = "kg"
    scorer_config: dict[str, Any] = {}
    label: str = ""
    rac_tau: float = 3.0  # must equal the scorer's tau (the CLI takes it from --scorer-config)
    hard_set: str = ""  # a hard-list file; "" = the committed list of `source` (eval/data/hard_<source>.json), if any


def run_seed(base_seed: int, run: int) -> int:
    """A different, reproducible seed per run."""
    return base_seed + 1009 * run


def load_envs(source: str, cases: str, limit: int | None) -> dict[str, Environment]:
    from medaction.envs.load import iter_environments

    envs = iter_environments(source, Path(cases))  # type: ignore[arg-type]
    return {e.case_id: e for e in islice(envs, limit)}


async def judge_run(
    scored: Sequence[ScoredTrajectory], envs: dict[str, Environment], judge: Judge, *, run: int, seed: int
) -> list[CaseResult]:
    missing = [st.trajectory.case_id for st in scored if st.trajectory.case_id not in envs]
    if missing:
        raise ValueError(f"run {run}: trajectories for cases not in the case file: {missing[:5]}")
    return list(await asyncio.gather(
        *(judge_case(st, envs[st.trajectory.case_id], judge, run=run, seed=seed) for st in scored)
    ))


def evaluate(spec: EvalSpec, *, backend: RolloutBackend, judge: Judge) -> EvalResult:
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    envs = load_envs(spec.source, spec.cases, spec.limit)
    if not envs:
        raise ValueError(f"{spec.cases}: no usable cases for source {spec.source!r}")
    results: list[CaseResult] = []
    graph, scorer = "", spec.scorer
    notes: list[str] = []
    for k in range(spec.runs):
        seed = run_seed(spec.base_seed, k)
        req = RolloutRequest(
            policy=spec.policy, policy_config=spec.policy_config, cases=spec.cases, source=spec.source, seed=seed,
            out=str(out / f"run_{k}"), limit=spec.limit, max_turns=spec.max_turns, scorer=spec.scorer,
            scorer_config=spec.scorer_config,
        )
        scored = [st for st in backend.rollouts(req) if st.trajectory.case_id in envs]
        log.info("run %d (seed %d): %d trajectories from %s", k, seed, len(scored), backend.name)
        if len(scored) < len(envs):  # a tree the engine could not finish: say so, never hide it
            notes.append(f"Run {k}: {len(envs) - len(scored)} of {len(envs)} cases have no trajectory "
                         "(engine failure) and are not in that run's averages.")
        graph = graph or next((st.graph for st in scored if st.graph), "")
        scorer = next((st.scorer for st in scored if st.scorer), scorer)
        results += asyncio.run(judge_run(scored, envs, judge, run=k, seed=seed))
    result = build_result(
        results, label=spec.label or spec.policy, policy=_policy_desc(spec), judge=judge.describe(),
        graph=graph or "none", scorer=scorer, cases=f"{spec.source}:{spec.cases}", rac_tau=spec.rac_tau,
        hard_set=hard_set_for(spec.source, spec.hard_set), extra_notes=notes,
    )
    write_report(out, result, results)
    return result


def write_report(out: Path, result: EvalResult, results: Sequence[CaseResult]) -> list[Path]:
    write_result(out, result, results)
    s = result.summary
    note = f"{s.label} | judge: {s.judge.split('(')[0]} | graph: {s.graph.split(':')[0]} | {len(s.runs)} runs, {s.n_cases} cases"
    plots = plot_all([(result.summary.label, result.analyses)], out / "plots", note=note)
    (out / "report.md").write_text(render(result, plots, out))
    return plots


def _policy_desc(spec: EvalSpec) -> str:
    # names the backend and its non-secret settings; keys that look like credentials are never written
    safe = {k: v for k, v in spec.policy_config.items() if not any(s in k.lower() for s in ("key", "token", "secret"))}
    return f"{spec.policy} {safe}" if safe else spec.policy
