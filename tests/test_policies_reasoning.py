"""Reasoning kept apart from the answer and replies cut at the token limit, through openai_http against a real
HTTP server on 127.0.0.1 (reasoning_content / reasoning fields, finish_reason) and the one turn loop."""

from __future__ import annotations

import asyncio
import json

from http_fixtures import ChatHandler, serve

from medaction.envs.types import Environment, TestItem
from medaction.policies.backends.openai_http import OpenAIHTTPConfig, OpenAIHTTPPolicy
from medaction.policies.parsing.reasoning import completion_turn, split_think
from medaction.policies.types import Completion, SamplingParams
from medaction.tree.loop import rollout

ENV = Environment(case_id="c-think", source="jsonl", initial_observation="A 30-year-old with fever and a rash.",
                  tests=(TestItem(name="Complete blood count", category="Labs", result="WBC 14.2"),),
                  diagnosis="Measles")
ORDER = json.dumps({"differential": [{"diagnosis": "Measles", "confidence": 0.6}], "pivot": "viral vs bacterial",
                    "tests": ["Complete blood count"]})
COMMIT = json.dumps({"final_diagnosis": "Measles"})


class _Scripted(ChatHandler):
    """Serves `replies` in order: (reasoning field name or "", reasoning, content, finish_reason)."""

    replies: list[tuple[str, str, str | None, str]] = []
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        cls = type(self)
        field, reasoning, content, finish = cls.replies[min(len(cls.seen), len(cls.replies) - 1)]
        cls.seen.append(body)
        msg: dict = {"role": "assistant", "content": content}
        if field:
            msg[field] = reasoning
        self.send_json({"choices": [{"message": msg, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5}})


def _run(replies: list[tuple[str, str, str | None, str]], max_turns: int = 3):
    _Scripted.replies, _Scripted.seen = replies, []
    with serve(_Scripted) as url:
        pol = OpenAIHTTPPolicy(OpenAIHTTPConfig(base_url=url, max_attempts=1))
        traj = asyncio.run(rollout(ENV, pol, max_turns=max_turns, params=SamplingParams(max_tokens=64)))
    return traj, list(_Scripted.seen)


def test_split_think_forms() -> None:
    assert split_think("<think>\nweigh A vs B\n</think>\n\n{\"x\": 1}") == ("weigh A vs B", "{\"x\": 1}")
    assert split_think("weigh A vs B</think>answer") == ("weigh A vs B", "answer")  # template opened the block
    assert split_think("<think>still thinking when cut") == ("still thinking when cut", "")
    assert split_think("no block here") == ("", "no block here")
    assert split_think("prose <think>x</think> tail") == ("", "prose <think>x</think> tail")  # not a leading block


def test_reasoning_fields_reach_turn_context_and_target() -> None:
    traj, seen = _run([("reasoning_content", "THINK-ONE fever plus rash", ORDER, "stop"),
                       ("reasoning", "THINK-TWO leukocytosis fits", COMMIT, "stop")])
    assert traj.stop == "final" and len(traj.nodes) == 2
    t1, t2 = (n.turn for n in traj.nodes)
    assert "THINK-ONE" in t1.reasoning and "THINK-TWO" in t2.reasoning
    # the stored assistant text (the SFT target) carries the reasoning in a leading think block, then the answer
    assert t1.raw.startswith("<think>\nTHINK-ONE") and t1.raw.rstrip().endswith(ORDER)
    assert t1.tests == ("Complete blood count",) and not t1.truncated
    # the next prompt shows the earlier turn's reasoning (context: last two turns)
    assert "THINK-ONE" in seen[1]["messages"][-1]["content"]


def test_cut_reply_is_repaired_then_counted() -> None:
    # turn 1 cut at the limit (its JSON even parses): repaired by a retry; turn 2 commits
    traj, seen = _run([("reasoning_content", "long thoughts", ORDER, "length"),
                       ("", "", ORDER, "stop"), ("", "", COMMIT, "stop")])
    assert traj.stop == "final"
    n1 = traj.nodes[0]
    assert n1.usage.truncated == 1 and n1.usage.repaired and not n1.turn.truncated
    assert "cut off at the length limit" in seen[1]["messages"][-1]["content"]


def test_reply_cut_twice_stops_truncated() -> None:
    traj, _ = _run([("reasoning_content", "thinking that never ends", None, "length")])
    assert traj.stop == "truncated"
    (node,) = traj.nodes
    assert node.turn.truncated and node.turn.parse == "failed" and node.usage.truncated == 2
    assert node.replies == ()  # nothing of a cut reply goes to the oracle


def test_cut_final_diagnosis_is_not_taken() -> None:
    turn = completion_turn(Completion(text='{"final_diagnosis": "Acute myel', finish_reason="length"))
    assert turn.truncated and turn.parse == "failed"
    ok = completion_turn(Completion(text=COMMIT, finish_reason="stop", reasoning="because"))
    assert ok.final_diagnosis == "Measles" and ok.reasoning == "because" and not ok.truncated


def test_hf_reports_a_cut_at_max_tokens() -> None:
    from policies_fixtures import shared_smol

    from medaction.policies.types import Message

    msgs = (Message("system", "You are a physician."), Message("user", "Describe the workup of chest pain in detail."))
    comp = asyncio.run(shared_smol().complete(msgs, session="s", seed=1, params=SamplingParams(max_tokens=3)))
    assert comp.finish_reason == "length" and comp.completion_tokens == 3
