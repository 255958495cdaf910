"""Stage-1 extraction: schema reading, validation, repair retry, failures, streaming runner with resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest

from medaction.stage1.extract import (
    ExtractConfig,
    extract_case,
    extraction_messages,
)
from medaction.stage1.extract_run import ExtractOutputs, ReportJob, read_envs, run_extraction
from medaction.stage1.extract_schema import ExtractParseError, decode_extraction, find_json_object
from medaction.envs.types import Environment, TestItem
from medaction.policies.base import build
from medaction.policies.types import Completion, Message, SamplingParams

DATA = Path(__file__).parent / "data"
REPORT = (DATA / "extract_report.txt").read_text()
ANSWER = (DATA / "extract_answer.json").read_text()


class ReplayPolicy:
    """The scripted role of the protocol: answers[k] for the k-th call; records every prompt it saw."""

    def __init__(self, answers: Sequence[str | Exception]) -> None:
        self.answers = list(answers)
        self.prompts: list[tuple[Message, ...]] = []

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        self.prompts.append(tuple(messages))
        a = self.answers[min(len(self.prompts) - 1, len(self.answers) - 1)]
        if isinstance(a, Exception):
            raise a
        return Completion(text=a, prompt_tokens=100, completion_tokens=50)


HAND_MADE = Environment(
    case_id="c1",
    source="extracted",
    initial_observation=(
        "Chief complaint: Severe left eye pain for two days\n"
        "History: 14-year-old boy; nasal congestion and frontal headaches during the previous week; "
        "no past medical history; no medications\n"
        "Examination: Febrile (39.5 C); left eyelid edema, erythema and warmth; painful eye movements"
    ),
    tests=(
        TestItem(name="C-reactive protein", category="Laboratory", result="306.9 mg/L\n120 mg/L after 48 hours"),
        TestItem(name="Complete blood count", category="Laboratory",
                 result="White cell count 15.3 x 10^3/uL with neutrophilia"),
        TestItem(name="CT head", category="Imaging", result=(
            "Left periorbital soft-tissue thickening, opacified left maxillary sinus, small frontal epidural collection"
        )),
        TestItem(name="MRI head", category="Imaging",
                 result="Left maxillary sinusitis, periorbital cellulitis, frontal epidural empyema"),
    ),
    diagnosis="Orbital cellulitis secondary to acute sinusitis with frontal epidural empyema",
    meta={
        "file": "extract_report.txt",
        "extract": {
            "prompt_version": "extract-v1",
            "attempts": 1,
            "warnings": ["tests[5].result: test 'Blood culture' has no result; dropped",
                         "tests: 1 duplicate test(s) merged"],
        },
    },
)


def run(coro):
    return asyncio.run(coro)


def test_scripted_extraction_equals_hand_made_environment() -> None:
    # the registered `scripted` backend (what a config names), returning a correct extraction wrapped in prose
    policy = build("scripted", {"sessions": {"c1": [f"Here is the extraction.\n```json\n{ANSWER}\n```\nDone."]}})
    r = run(extract_case("c1", REPORT, policy, meta={"file": "extract_report.txt"}))
    assert r.failure == "" and r.attempts == 1
    assert r.env == HAND_MADE
    # the prompt carried the report and asked for our schema
    user = extraction_messages(REPORT)[-1].content
    assert "14-year-old boy presented" in user and '"chief_complaint"' in user
    # round trip through JSONL keeps it equal
    assert msgspec.json.decode(msgspec.json.encode(r.env), type=Environment) == HAND_MADE


def test_repair_retry_shows_reasons_then_succeeds() -> None:
    policy = ReplayPolicy(['{"o1": {"history": "x"}, "tests": ["CBC"], "diagnosis": "y"}', ANSWER])
    r = run(extract_case("c1", REPORT, policy))
    assert r.ok and r.attempts == 2 and r.env is not None and r.env.meta["extract"]["attempts"] == 2
    fix = policy.prompts[1]
    assert [m.role for m in fix] == ["system", "user", "assistant", "user"]
    assert "schema error" in fix[-1].content and "tests" in fix[-1].content
    assert r.prompt_tokens == 200 and r.completion_tokens == 100


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (["I cannot help with that.", "Still no."], "no JSON object found"),
        (['{"o1": {"history": ""}, "diagnosis": ""}'] * 2, "initial observation is empty"),
        (['```json\n{"o1": {"history": "a 40-year-old", "diagnosis": "x"', "{}"], "missing required field 'o1'"),
        ([RuntimeError("server down")], "policy_error: RuntimeError: server down"),
    ],
)
def test_failures_are_reported_per_case(answers: list, reason: str) -> None:
    r = run(extract_case("bad", REPORT, ReplayPolicy(answers)))
    assert r.env is None and reason in r.failure


def test_no_repair_when_disabled_and_empty_report() -> None:
    policy = ReplayPolicy(["nope", ANSWER])
    r = run(extract_case("c", REPORT, policy, cfg=ExtractConfig(repair=False)))
    assert r.env is None and r.attempts == 1 and len(policy.prompts) == 1
    assert run(extract_case("c", "  ", policy)).failure == "empty report text"


def test_leakage_check_error_triggers_repair_with_span() -> None:
    from medaction.stage1.extract import leakage_check as check

    leaky = json.loads(ANSWER)
    leaky["o1"]["history"] += "; known orbital cellulitis secondary to acute sinusitis with frontal epidural empyema"
    policy = ReplayPolicy([json.dumps(leaky), ANSWER])
    r = run(extract_case("c1", REPORT, policy, checks=[check]))
    assert r.ok and r.attempts == 2 and r.env is not None and "empyema" not in r.env.initial_observation
    fix = policy.prompts[1][-1].content
    assert "diagnosis_in_o1" in fix and "orbital cellulitis secondary to acute sinusitis" in fix
    # the same leak twice is a per-case failure naming the leak
    r = run(extract_case("c1", REPORT, ReplayPolicy([json.dumps(leaky)]), checks=[check]))
    assert r.env is None and "diagnosis_in_o1" in r.failure


def test_find_json_tolerates_prose_fences_and_reports_cut_output() -> None:
    assert find_json_object('blah {"a": 1} tail') == {"a": 1}
    assert find_json_object('```json\n{"a": {"b": [1, 2]}}\n```') == {"a": {"b": [1, 2]}}
    assert find_json_object('x {not json} then {"k": "v"}') == {"k": "v"}
    with pytest.raises(ExtractParseError, match="output cut short"):
        find_json_object('```json\n{"o1": {"history": "ab')
    x = decode_extraction('{"o1": "a plain string o1", "diagnosis": "d"}')
    assert x.o1.history == "a plain string o1" and x.tests == ()
    with pytest.raises(ExtractParseError, match=r"schema error: .*\$\.diagnosis"):
        decode_extraction('{"o1": {}, "diagnosis": 3}')


def test_runner_streams_resumes_and_repairs_torn_tail(tmp_path: Path) -> None:
    jobs = [ReportJob(case_id=f"c{i}", text=REPORT) for i in range(5)] + [ReportJob(case_id="c0", text=REPORT)]
    out_path, fail_path = tmp_path / "envs.jsonl", tmp_path / "fail.jsonl"
    with ExtractOutputs(out_path, fail_path) as out:
        summary = run(run_extraction(jobs[:3], ReplayPolicy([ANSWER]), out, concurrency=2))
    assert summary["ok"] == 3 and summary["failed"] == 0
    with pytest.raises(FileExistsError, match="pass --resume"):
        ExtractOutputs(out_path, fail_path)  # never overwrite finished work silently
    # a killed run leaves a torn last line: resume cuts it and skips the finished ids
    with out_path.open("ab") as fh:
        fh.write(b'{"case_id": "c3", "sour')
    policy = ReplayPolicy(["garbage"])
    with ExtractOutputs(out_path, fail_path, resume=True) as out:
        assert out.done == {"c0", "c1", "c2"}
        summary = run(run_extraction(jobs, policy, out, concurrency=3))
    assert summary["ok"] == 0 and summary["failed"] == 2  # c3, c4 (c0 twice in input, done already)
    assert len(policy.prompts) == 4  # two cases x (first try + repair)
    assert sorted(e.case_id for e in read_envs(out_path)) == ["c0", "c1", "c2"]
    fails = [json.loads(line) for line in fail_path.read_text().splitlines()]
    assert sorted(f["case_id"] for f in fails) == ["c3", "c4"]
    assert all("no JSON object" in f["reason"] and f["attempts"] == 2 and f["raw"] == "garbage" for f in fails)
