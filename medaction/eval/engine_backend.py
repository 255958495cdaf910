"""The engine implementation of RolloutBackend: medaction.engine.run_job.run with K=1, no branches, structured
mode only, one teacher, the run's seed. The engine writes shards + manifest under the run directory and resumes
finished cases, so an interrupted `medaction eval` picks up where it stopped."""

from __future__ import annotations

from pathlib import Path

from medaction.eval.backend import RolloutRequest
from medaction.eval.shards import read_scored
from medaction.scoring.types import ScoredTrajectory


def eval_run_config(req: RolloutRequest):  # noqa: ANN201  (RunConfig; imported lazily: the engine pulls in Ray)
    from medaction.engine.config import (
        CasesConfig,
        EngineConfig,
        OutputConfig,
        RunConfig,
        ScoringConfig,
        TeacherConfig,
        TreeConfig,
    )

    cfg = dict(req.policy_config)
    params = cfg.pop("sampling", {})  # optional SamplingParams table beside the backend's own config
    return RunConfig(
        seed=req.seed,
        tree=TreeConfig(k=1, b=0, max_turns=req.max_turns, free_share=0.0),
        cases=CasesConfig(source=req.source, path=req.cases, limit=req.limit or 0),
        policies=(TeacherConfig(id=req.policy, backend=req.policy, config=cfg, params=params),),
        scoring=ScoringConfig(name=req.scorer, fallback="identity", config=req.scorer_config),
        output=OutputConfig(dir=req.out),
        engine=EngineConfig(progress_bar=False),
    )


class EngineBackend:
    name = "engine"

    def rollouts(self, req: RolloutRequest) -> list[ScoredTrajectory]:
        from medaction.engine.run_job import run

        run(eval_run_config(req), resume=True, progress=False)  # resume: finished cases are skipped
        return read_scored(Path(req.out))
