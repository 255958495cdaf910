"""The LLM judge through the openai_http backend against a real HTTP server on 127.0.0.1 that plays a judge model
(including malformed, untrusted answers), plus the judge-agreement CLI on the hand labels."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator

import pytest
from http_fixtures import ChatHandler, serve

from medaction.envs.types import TestItem
from medaction.eval.judges.base import build_judge


class _JudgeModel(ChatHandler):
    """Answers like a judge model: reasoning first, then the verdict; garbage for requests containing 'GARBLE'."""

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        prompt = body["messages"][-1]["content"]
        if "GARBLE" in prompt:
            text = "<think>hmm</think> I am not sure what you mean."
        elif prompt.startswith("Decide whether"):
            truth = re.search(r"Ground truth: (.*)", prompt).group(1).lower()
            pred = re.search(r"Prediction: (.*)", prompt).group(1).lower()
            verdict = "Correct" if pred in truth or truth in pred else "Wrong"
            text = f"<think>compare {pred} with {truth}; it might be wrong</think>\nReasoning done.\n{verdict}"
        elif "Documented test:" in prompt:  # the reverse check: which requests cover this documented test
            item = re.search(r"Documented test: (.*)", prompt).group(1).lower()
            reqs = re.findall(r"^(\d+)\. (.*)$", prompt, re.M)
            hits = [int(n) for n, req in reqs if req.lower().split()[0] in item] + [99]
            text = "Checking...\n" + json.dumps({"covered": hits})
        else:
            request = re.search(r"Requested test: (.*)", prompt).group(1).lower()
            items = re.findall(r"^(\d+)\. (.*)$", prompt, re.M)
            hits = [int(n) for n, name in items if name.lower().split()[0] in request] + [99]  # 99: invented
            text = "Looking at the list...\n" + json.dumps({"covered": hits})
        self.send_json({"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5}})


@pytest.fixture()
def judge_server() -> Iterator[str]:
    with serve(_JudgeModel) as url:
        yield url


def test_llm_judge_over_http(judge_server: str) -> None:
    judge = build_judge("llm", {"policy": "openai_http",
                                "policy_config": {"base_url": judge_server, "max_attempts": 1}})
    menu = (TestItem(name="Chest X-ray"), TestItem(name="Troponin"), TestItem(name="ECG"))

    async def go() -> tuple[list, list]:
        tests = await judge.match_tests(["chest CT", "troponin I", "GARBLE"], menu)
        dx = [await judge.same_diagnosis(p, t) for p, t in
              (("Myocarditis", "Fulminant myocarditis"), ("Pericarditis", "Myocarditis"), ("GARBLE", "x"), ("", "x"))]
        return tests, dx

    tests, dx = asyncio.run(go())
    assert tests == [(0,), (1,), ()]  # the invented item 99 is dropped; garbage -> not covered
    assert dx == [True, False, False, False]  # the verdict after </think> wins; garbage -> Wrong; empty -> Wrong
    # 3 forward + 3 reverse test questions (the reverse ones list "GARBLE" and get garbage) + 3 diagnosis questions
    assert judge.calls == 9 and judge.unparsed == 5
    assert "llm(backend=openai_http" in judge.describe() and "unparsed=5/9" in judge.describe()


def test_llm_judge_rejects_unknown_config_field() -> None:
    with pytest.raises(Exception, match="nonsense"):
        build_judge("llm", {"policy": "openai_http", "nonsense": 1})
