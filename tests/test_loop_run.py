"""run_turn / rollout / advance: stop reasons, the repair retry, errors, usage, node ids and seeds, determinism."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from medaction.policies import base
from medaction.policies.base import PolicyError
from medaction.policies.types import Completion, Message, SamplingParams
from medaction.tree.loop import advance, initial_state, oracle_answer, rollout, run_turn
from medaction.tree.render import format_trajectory
from medaction.tree.seeds import node_seed
from test_loop_helpers import CASE, TableOracle, commit, order

GOOD1 = order(["Acetylcholine receptor antibodies", "Serum unicorn level"])
GOOD2 = order(["Electromyography"], ddx=(("Myasthenia gravis", 0.8), ("LEMS", 0.1)))
FINAL = commit("Myasthenia gravis")


def scripted(*turns: object, **sessions: object):
    return base.build("scripted", {"turns": list(turns), "sessions": sessions})


async def test_scripted_is_registered_and_full_rollout_reaches_final() -> None:
    assert "scripted" in base.available()
    oracle = TableOracle(CASE)
    traj = await rollout(CASE, scripted(GOOD1, GOOD2, FINAL), oracle=oracle, seed=11, policy_id="teacher")
    assert traj.stop == "final" and traj.error == ""
    assert [n.node_id for n in traj.nodes] == ["r0", "r0.1", "r0.2"]
    assert [n.parent_id for n in traj.nodes] == [None, "r0", "r0.1"]
    assert [n.depth for n in traj.nodes] == [1, 2, 3]
    assert [n.seed for n in traj.nodes] == [node_seed(11, CASE.case_id, "teacher", i) for i in ("r0", "r0.1", "r0.2")]
    assert traj.tree_id == "teacher::case-mg" and all(n.tree_id == traj.tree_id for n in traj.nodes)
    assert oracle.calls == [["Acetylcholine receptor antibodies", "Serum unicorn level"], ["Electromyography"]]
    r1 = traj.nodes[0].replies
    assert r1[0].available and r1[0].result == "Present (elevated)" and not r1[1].available
    assert traj.nodes[2].turn.final_diagnosis == "Myasthenia gravis" and traj.nodes[2].replies == ()
    # usage: scripted reports chars/4 tokens; timings are measured
    u = traj.nodes[1].usage
    assert u.prompt_tokens == sum(len(m.content) for m in traj.nodes[1].messages) // 4
    assert u.completion_tokens == len(GOOD2) // 4 and not u.repaired
    assert traj.nodes[0].usage.oracle_s > 0 and u.llm_s >= 0
    text = format_trajectory(traj)
    assert "FINAL DIAGNOSIS: Myasthenia gravis" in text and "Serum unicorn level: UNAVAILABLE" in text
    assert "Stop: final after 3 turn(s)" in text


async def test_tests_listed_with_a_final_diagnosis_are_not_sent() -> None:
    oracle = TableOracle(CASE)
    both = FINAL.replace('"final_diagnosis"', '"tests": ["TSH"], "final_diagnosis"')
    traj = await rollout(CASE, scripted(both), oracle=oracle)
    assert traj.stop == "final" and oracle.calls == [] and traj.nodes[0].turn.tests == ("TSH",)


async def test_repair_retry_recovers_and_records_original_prompt_and_summed_usage() -> None:
    traj = await rollout(CASE, scripted(["I am not sure what to do.", GOOD1], FINAL), oracle=TableOracle(CASE))
    assert traj.stop == "final"
    n0 = traj.nodes[0]
    assert n0.usage.repaired and n0.turn.parse == "ok" and n0.turn.tests[0] == "Acetylcholine receptor antibodies"
    assert [m.role for m in n0.messages] == ["system", "user"]  # the original prompt, not the repair exchange
    assert n0.usage.completion_tokens == len("I am not sure what to do.") // 4 + len(GOOD1) // 4


async def test_second_unusable_reply_stops_parse_failed_without_oracle_call() -> None:
    oracle = TableOracle(CASE)
    traj = await rollout(CASE, scripted(GOOD1, ["garbage", "still garbage"]), oracle=oracle)
    assert traj.stop == "parse_failed" and len(traj.nodes) == 2
    assert traj.nodes[1].turn.parse == "failed" and traj.nodes[1].turn.raw == "still garbage"
    assert len(oracle.calls) == 1


async def test_differential_without_tests_or_final_is_retried_then_parse_failed() -> None:
    ddx_only = '{"differential": [{"diagnosis": "MG", "confidence": 0.5}], "pivot": "x"}'
    traj = await rollout(CASE, scripted(ddx_only), oracle=TableOracle(CASE))
    assert traj.stop == "parse_failed" and traj.nodes[0].usage.repaired
    assert traj.nodes[0].turn.parse == "failed" and traj.nodes[0].turn.differential[0].diagnosis == "MG"


async def test_repair_message_names_the_problem() -> None:
    seen: list[tuple[Message, ...]] = []

    class Recorder:
        async def complete(
            self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
        ) -> Completion:
            seen.append(tuple(messages))
            return Completion(text=GOOD1 if len(seen) == 1 else FINAL)

    state = initial_state(CASE, max_turns=1)  # turn 1 is the last turn: ordering tests is not allowed
    out = await run_turn(state, Recorder(), oracle_answer(TableOracle(CASE)), seed=0)
    assert len(seen) == 2 and [m.role for m in seen[1]] == ["system", "user", "assistant", "user"]
    assert "final" in seen[1][-1].content.casefold() and seen[1][2].content == GOOD1
    assert out.stop == "final" and out.usage.repaired


async def test_last_turn_that_keeps_ordering_stops_max_turns() -> None:
    oracle = TableOracle(CASE)
    traj = await rollout(CASE, scripted(GOOD1, GOOD2), max_turns=2, oracle=oracle)
    assert traj.stop == "max_turns" and len(traj.nodes) == 2
    assert traj.nodes[1].replies == () and len(oracle.calls) == 1


class Failing:
    def __init__(self, exc: BaseException, after: int = 0) -> None:
        self.exc, self.after, self.calls = exc, after, 0

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        self.calls += 1
        if self.calls > self.after:
            raise self.exc
        return Completion(text=GOOD1)


async def test_policy_exception_stops_policy_error_keeping_earlier_nodes() -> None:
    failing = Failing(PolicyError("server said 503 after 6 attempts"), after=1)
    traj = await rollout(CASE, failing, oracle=TableOracle(CASE))
    assert traj.stop == "policy_error" and len(traj.nodes) == 1
    assert traj.error == "PolicyError: server said 503 after 6 attempts"
    traj2 = await rollout(CASE, Failing(RuntimeError("boom")), oracle=TableOracle(CASE))
    assert traj2.stop == "policy_error" and traj2.nodes == () and "boom" in traj2.error
    # a scripted policy with too few turns is a policy error too
    traj3 = await rollout(CASE, scripted(GOOD1), oracle=TableOracle(CASE))
    assert traj3.stop == "policy_error" and "no canned turn 2" in traj3.error


async def test_timeouts_stop_timeout() -> None:
    traj = await rollout(CASE, Failing(asyncio.TimeoutError()), oracle=TableOracle(CASE))
    assert traj.stop == "timeout" and traj.nodes == ()

    class Slow:
        async def complete(self, messages, *, session, seed, params):  # noqa: ANN001, ANN202
            await asyncio.sleep(5)
            return Completion(text=FINAL)

    out = await run_turn(initial_state(CASE), Slow(), oracle_answer(TableOracle(CASE)), seed=0, timeout_s=0.05)
    assert out.stop == "timeout" and out.turn is None and out.state.done and out.usage.llm_s < 2


async def test_sessions_mapping_and_advance_matches_run_turn() -> None:
    policy = scripted(FINAL, **{CASE.case_id: [GOOD1]})
    state = initial_state(CASE)
    out = await run_turn(state, policy, oracle_answer(TableOracle(CASE)), seed=3, params=SamplingParams(temperature=0))
    assert out.turn is not None and out.turn.tests[0] == "Acetylcholine receptor antibodies"  # session script used
    turn, replies, new = advance(state, GOOD1, TableOracle(CASE))
    assert (turn, replies, new) == (out.turn, out.replies, out.state)  # deterministic given (state, completion)
    assert new.turn == 1 and len(new.record) == 2 and new.record[0].turn == 1 and not new.done


def test_advance_after_done_raises_and_unparseable_marks_failed() -> None:
    state = initial_state(CASE)
    turn, replies, new = advance(state, "???", TableOracle(CASE))
    assert turn.parse == "failed" and replies == () and new.stop == "parse_failed" and new.done
    with pytest.raises(ValueError, match="finished"):
        advance(new, FINAL, TableOracle(CASE))
