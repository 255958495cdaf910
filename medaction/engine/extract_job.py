"""Stage 1 as a Ray job: many reports -> environments, with the engine's PolicyActors and case-sticky Router.

The driver runs the same streaming, resumable loop as a local run (`stage1.extract_run.run_extraction`: bounded
in-flight cases, append-only JSONL outputs, `--resume` skips finished ids); only the policy differs: `ReplicaSet`
(actors/replicas.py, the one replica client) sends each completion to a PolicyActor replica (a GPU model or an
HTTP client with its own pool), keeping a case's repair turn on the replica that saw its first prompt (prefix
cache). A replica that dies is marked dead and the request goes to a live one; a case whose every replica died
becomes a per-case failure, never a crashed job.
Validation is cheap and runs in the driver. Submit with `ray job submit -- medaction envs extract --ray ...`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import ray

from medaction.actors.policy import start_policy_actors
from medaction.actors.replicas import ReplicaSet
from medaction.stage1.extract import Check, ExtractConfig
from medaction.stage1.extract_run import ExtractOutputs, ReportJob, run_extraction


class ExtractJobConfig(msgspec.Struct, frozen=True, kw_only=True):
    backend: str
    config: dict[str, Any] = {}
    replicas: int = 1
    max_concurrency: int = 8  # in-flight completions per replica
    num_cpus: float = 0.0
    num_gpus: float = 0.0
    max_restarts: int = 1
    call_timeout_s: float = 600.0  # one completion; a stuck replica is retried, then the case fails
    call_retries: int = 1


def run_extract_job(
    jobs: Iterable[ReportJob],
    out: ExtractOutputs,
    job: ExtractJobConfig,
    *,
    cfg: ExtractConfig = ExtractConfig(),
    checks: Sequence[Check] = (),
    seed: int = 0,
) -> dict[str, object]:
    """Run the extraction on the current Ray cluster (connects to it, or starts a local one, if needed)."""
    if not ray.is_initialized():
        ray.init()
    actors = start_policy_actors(
        teacher=job.backend, backend=job.backend, config=job.config, replicas=job.replicas,
        max_concurrency=job.max_concurrency, num_cpus=job.num_cpus, num_gpus=job.num_gpus,
        max_restarts=job.max_restarts,
    )
    policy = ReplicaSet(actors, timeout_s=job.call_timeout_s, retries=job.call_retries)
    try:
        summary = asyncio.run(
            run_extraction(
                jobs, policy, out, concurrency=job.replicas * job.max_concurrency, cfg=cfg, checks=checks,
                seed=seed, on_result=lambda r: policy.release(r.case_id),
            )
        )
    finally:
        for a in actors:
            ray.kill(a)
    return {**summary, "replicas": job.replicas, "backend": job.backend}
