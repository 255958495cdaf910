"""Stage 1 as a Ray job: PolicyActor replicas (openai_http) against a real HTTP server on 127.0.0.1; resume."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_fixtures import ChatHandler, serve

from medaction.stage1.extract_run import ExtractOutputs, ReportJob, read_envs

DATA = Path(__file__).parent / "data"
ANSWER = (DATA / "extract_answer.json").read_text()
REPORT = (DATA / "extract_report.txt").read_text()


class _Extractor(ChatHandler):
    """Answers the extraction for every case except "bad-*" (prose without JSON); counts requests per case."""

    seen: dict[str, int] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        case = body["user"]
        with self.lock:
            self.seen[case] = self.seen.get(case, 0) + 1
        text = "I would rather not." if case.startswith("bad") else f"```json\n{ANSWER}\n```"
        self.send_json({"choices": [{"message": {"content": text}}],
                        "usage": {"prompt_tokens": 11, "completion_tokens": 7}})


@pytest.fixture()
def server() -> Iterator[str]:
    _Extractor.seen = {}
    with serve(_Extractor) as url:
        yield url


def test_ray_job_extracts_reports_failures_and_resumes(ray_session, server: str, tmp_path: Path) -> None:
    from medaction.engine.extract_job import ExtractJobConfig, run_extract_job

    jobs = [ReportJob(case_id=f"case-{i}", text=REPORT) for i in range(5)] + [ReportJob(case_id="bad-1", text=REPORT)]
    job = ExtractJobConfig(backend="openai_http", config={"base_url": server, "max_attempts": 2}, replicas=2,
                           max_concurrency=2)
    out_path, fail_path = tmp_path / "envs.jsonl", tmp_path / "fail.jsonl"
    with ExtractOutputs(out_path, fail_path) as out:
        summary = run_extract_job(jobs[:4], out, job)
    assert summary["ok"] == 4 and summary["failed"] == 0 and summary["prompt_tokens"] == 44
    with ExtractOutputs(out_path, fail_path, resume=True) as out:
        summary = run_extract_job(jobs, out, job)
    assert summary["ok"] == 1 and summary["failed"] == 1  # case-4 and bad-1 only: the rest was done
    envs = read_envs(out_path)
    assert sorted(e.case_id for e in envs) == [f"case-{i}" for i in range(5)]
    assert all(e.source == "extracted" and len(e.tests) == 4 for e in envs)
    fail = json.loads(fail_path.read_text())
    assert fail["case_id"] == "bad-1" and fail["attempts"] == 2 and "no JSON object" in fail["reason"]
    # each finished case was asked once; the bad one got its repair turn; nothing re-ran on resume
    assert _Extractor.seen == {**{f"case-{i}": 1 for i in range(5)}, "bad-1": 2}


def test_replica_set_moves_a_case_off_a_dead_replica(ray_session, server: str) -> None:
    import asyncio

    import ray

    from medaction.actors.policy import start_policy_actors
    from medaction.actors.replicas import ReplicaSet
    from medaction.policies.types import Message, SamplingParams

    actors = start_policy_actors(teacher="t", backend="openai_http", config={"base_url": server}, replicas=2,
                                 max_concurrency=2, num_cpus=0, num_gpus=0, max_restarts=0)
    policy = ReplicaSet(actors, timeout_s=60, retries=0)
    try:
        assert policy.router.assign("case-x") == 0
        ray.kill(actors[0], no_restart=True)
        msgs = (Message("user", "extract"),)
        done = asyncio.run(policy.complete(msgs, session="case-x", seed=0, params=SamplingParams(max_tokens=8)))
        assert '"diagnosis"' in done.text and policy.router.live == {1} and policy.router.home("case-x") == 1
    finally:
        for a in actors:
            ray.kill(a)
