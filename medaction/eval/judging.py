"""Turns one scored trajectory + its environment into a judged CaseResult (the MedR-Bench per-case numbers)."""

from __future__ import annotations

from medaction.envs.types import Environment
from medaction.eval.judges.base import Judge
from medaction.eval.metrics import case_precision_recall, final_diagnosis, predicted_tests, tests_per_turn
from medaction.eval.types import CaseResult
from medaction.scoring.types import ScoredTrajectory

# meta keys under which loaders flag rare-disease cases (MedR-Bench: non-empty `checked_rare_disease`)
_RARE_KEYS = ("rare", "rare_disease", "checked_rare_disease", "is_rare")


def is_rare(env: Environment) -> bool:
    return any(bool(env.meta.get(k)) for k in _RARE_KEYS)


async def judge_case(st: ScoredTrajectory, env: Environment, judge: Judge, *, run: int, seed: int) -> CaseResult:
    traj = st.trajectory
    preds = predicted_tests(traj)
    matches = await judge.match_tests(preds, env.tests) if preds else []
    pred_matched = tuple(bool(m) for m in matches)
    hit = {i for m in matches for i in m}
    menu_matched = tuple(i in hit for i in range(len(env.tests)))
    p, r = case_precision_recall(pred_matched, menu_matched)
    final = final_diagnosis(traj)
    correct = bool(final) and await judge.same_diagnosis(final, env.diagnosis)
    return CaseResult(
        case_id=traj.case_id,
        run=run,
        seed=seed,
        predicted_tests=preds,
        pred_matched=pred_matched,
        menu_matched=menu_matched,
        menu=tuple(t.name for t in env.tests),
        precision=p,
        recall=r,
        final_diagnosis=final,
        truth=env.diagnosis,
        correct=correct,
        n_turns=len(traj.nodes),
        stop=traj.stop,
        tests_per_turn=tests_per_turn(traj),
        dtc=tuple(st.dtc),
        rac=tuple(st.rac),
        rare=is_rare(env),
    )
