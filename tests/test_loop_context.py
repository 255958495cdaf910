"""The turn-t context: every earlier test and result, exactly the last two reasoning blocks, the last-turn commit,
the shared-prefix layout, and the exact-prefix invariant for branches restarted from a node's state."""

from __future__ import annotations

import msgspec
import pytest

from medaction.policies import base
from medaction.policies.prompts import FINAL_TURN_MARKER, PROMPT_VERSION, templates
from medaction.tree.loop import (
    RolloutState, apply_turn, build_messages, initial_state, oracle_answer, rollout, run_turn,
)
from test_loop_helpers import CASE, TableOracle, commit, order, user_text

MAX = 6
# turn k orders two tests: one on the menu, one not (UNAVAILABLE), each with a unique marker in its reasoning
ON_MENU = ["TSH", "Chest CT", "Electromyography", "Acetylcholine receptor antibodies", "TSH", "CBC"]
SCRIPT = [order([f"Unknown test {k}", ON_MENU[k - 1]],
                reasoning=f"REASON-{k} reasoning text.", ddx=(("Ocular myopathy", 0.5),)) for k in range(1, MAX + 1)]


def _policy(script: list[str]):
    return base.build("scripted", {"turns": script})


async def _run(max_turns: int = MAX):
    return await rollout(CASE, _policy(SCRIPT), max_turns=max_turns, oracle=TableOracle(CASE), seed=7)


async def test_context_holds_all_earlier_tests_and_exactly_last_two_reasoning_blocks() -> None:
    traj = await _run()
    # the last turn orders tests instead of committing: one repair retry (same canned text), then max_turns
    assert traj.stop == "max_turns" and len(traj.nodes) == MAX
    assert traj.nodes[-1].usage.repaired and traj.nodes[-1].replies == ()
    for node in traj.nodes:
        text = user_text(node.messages)
        d = node.depth
        for earlier in traj.nodes[: d - 1]:
            for reply in earlier.replies:
                line = f"- {reply.request}: {reply.result if reply.available else 'UNAVAILABLE'}"
                assert line in text, (d, line)
        shown = [k for k in range(1, d) if f"REASON-{k} " in text]
        assert shown == list(range(max(1, d - 2), d)), (d, shown)
        assert text.count("### Turn ") == min(2, d - 1)
        assert (CASE.initial_observation in text) and text.index(CASE.initial_observation) < text.index("## Task")
        assert CASE.diagnosis not in text  # the ground truth never reaches the prompt
    # UNAVAILABLE is in the record
    assert "- Unknown test 1: UNAVAILABLE" in user_text(traj.nodes[1].messages)


async def test_last_turn_asks_for_commitment_and_only_the_last() -> None:
    script = SCRIPT[:-1] + [commit("Myasthenia gravis")]
    traj = await rollout(CASE, _policy(script), max_turns=MAX, oracle=TableOracle(CASE))
    assert traj.stop == "final" and len(traj.nodes) == MAX
    for node in traj.nodes:
        tail = node.messages[-1].content[-400:]
        assert (FINAL_TURN_MARKER in tail) == (node.depth == MAX)
        assert f"Turn {node.depth} of {MAX}" in tail


async def test_turn_prompts_share_the_stable_prefix() -> None:
    traj = await _run()
    sec = templates().sections
    for a, b in zip(traj.nodes, traj.nodes[1:]):
        assert a.messages[0] == b.messages[0]  # system prompt identical
        ta, tb = a.messages[1].content, b.messages[1].content
        # turn a's prompt up to the end of its record (before reasoning/task) is a prefix of turn b's prompt
        cut = min(i for i in (ta.find("\n\n" + sec.reasoning), ta.find("\n\n" + sec.task)) if i >= 0)
        assert tb.startswith(ta[:cut]), a.depth
        if a.depth > 1:
            assert ta[:cut].endswith(a.messages[1].content[:cut][-30:])
            assert sec.record in ta[:cut]


async def test_branch_from_node_state_reproduces_prompts_exactly() -> None:
    """Replay apply_turn over the stored nodes (as the engine does after a restart, through msgpack) -> same prompts;
    a branch continued from node k's state sees exactly the prompt the original path saw at k + 1."""
    traj = await _run()
    state = initial_state(CASE, max_turns=MAX)
    states: list[RolloutState] = [state]
    for node in traj.nodes:
        assert build_messages(state) == node.messages
        state = apply_turn(state, node.turn, node.replies)
        state = msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=RolloutState)  # crosses a Ray boundary
        states.append(state)
    # restart from node k (k = 2) with a different continuation policy: same prompt as the original node k + 1
    k = 2
    branch_policy = _policy([commit("Lambert-Eaton syndrome")] * MAX)
    out = await run_turn(states[k], branch_policy, oracle_answer(TableOracle(CASE)), seed=123)
    assert out.messages == traj.nodes[k].messages
    assert out.stop == "final" and out.turn is not None and out.turn.final_diagnosis == "Lambert-Eaton syndrome"


async def test_free_mode_prompt_has_no_schema_and_parses_minimal_output() -> None:
    policy = _policy(['I wonder about the NMJ... {"tests": ["TSH"]}', "Clearly MG. Final diagnosis: Myasthenia gravis"])
    traj = await rollout(CASE, policy, mode="free", oracle=TableOracle(CASE))
    assert traj.stop == "final" and traj.mode == "free"
    system = traj.nodes[0].messages[0].content
    assert "pivot" not in system and '"tests"' in system and "final_diagnosis" in system
    assert traj.nodes[0].turn.tests == ("TSH",) and traj.nodes[0].turn.parse == "ok"
    assert traj.nodes[1].turn.final_diagnosis == "Myasthenia gravis" and traj.nodes[1].turn.parse == "ok"
    assert all(n.mode == "free" for n in traj.nodes)


def test_prompt_version_and_done_state_has_no_prompt() -> None:
    assert PROMPT_VERSION == "v1"
    state = msgspec.structs.replace(initial_state(CASE), done=True, stop="final")
    with pytest.raises(ValueError, match="done"):
        build_messages(state)
    with pytest.raises(ValueError, match="mode"):
        initial_state(CASE, mode="chatty")  # type: ignore[arg-type]


def test_reasoning_block_drops_think_tags_and_keeps_the_tail() -> None:
    from medaction.policies.context import REASONING_CHARS, reasoning_block
    from medaction.policies.types import Hypothesis, Turn

    block = reasoning_block(Turn(reasoning="<think>\nweigh MG vs LEMS\n</think>", differential=(Hypothesis("MG", 0.7),),
                                 pivot="NMJ", tests=("EMG",)))
    assert block == "weigh MG vs LEMS\nDifferential: MG (0.70)\nPivot: NMJ"
    long = reasoning_block(Turn(reasoning="x" * (REASONING_CHARS + 50) + " CONCLUSION"))
    assert long.startswith("[...] ") and long.endswith("CONCLUSION") and len(long) <= REASONING_CHARS + 6
