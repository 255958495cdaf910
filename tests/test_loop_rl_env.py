"""ClinicalEnv driven by an external loop, the way verl / SkyRL drive a multi-turn environment:
obs = env.reset(); while not done: text = agent(obs); obs, reward, done, info = env.step(text)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from medaction.envs.types import Environment
from medaction.policies.prompts import turn_number
from medaction.policies.types import Message
from medaction.tree.loop import RolloutState, build_messages
from medaction.envs.diagnosis import same_diagnosis
from medaction.tree.rl_env import ClinicalEnv, TerminalCorrectness
from test_loop_helpers import CASE, TableOracle, commit, order

Agent = Callable[[Sequence[Message]], str]


def canned_agent(turns: list[str]) -> Agent:
    """An 'LLM' that answers from the turn number in the observation (it never sees the menu or the diagnosis)."""

    def agent(obs: Sequence[Message]) -> str:
        n = turn_number(obs)
        assert n is not None
        return turns[n - 1]

    return agent


def drive(env: ClinicalEnv, agent: Agent, max_steps: int = 20) -> tuple[list[float], dict]:
    obs = env.reset()
    rewards: list[float] = []
    info: dict = {}
    done = False
    while not done and len(rewards) < max_steps:
        obs, reward, done, info = env.step(agent(obs))
        rewards.append(reward)
        assert (obs == ()) == done
    return rewards, info


def test_external_loop_correct_final_gets_terminal_reward() -> None:
    env = ClinicalEnv(CASE, TerminalCorrectness(), oracle=TableOracle(CASE))
    agent = canned_agent([order(["Acetylcholine receptor antibodies"]), order(["Electromyography"]),
                          commit("myasthenia gravis (generalised)")])
    rewards, info = drive(env, agent)
    assert rewards == [0.0, 0.0, 1.0]
    assert info["stop"] == "final" and info["turn"].final_diagnosis == "myasthenia gravis (generalised)"
    assert info["turn_index"] == 3
    with pytest.raises(RuntimeError, match="ended"):
        env.step("anything")


def test_wrong_diagnosis_parse_failure_and_max_turns_give_zero() -> None:
    env = ClinicalEnv(CASE, TerminalCorrectness(), oracle=TableOracle(CASE))
    assert drive(env, canned_agent([commit("Multiple sclerosis")]))[0] == [0.0]
    rewards, info = drive(env, canned_agent(["no idea"]))  # no repair retry in the RL env: the episode ends
    assert rewards == [0.0] and info["stop"] == "parse_failed" and info["parse"] == "failed"
    env2 = ClinicalEnv(CASE, TerminalCorrectness(), max_turns=2, oracle=TableOracle(CASE))
    rewards, info = drive(env2, canned_agent([order(["TSH"]), order(["Chest CT"])]))
    assert rewards == [0.0, 0.0] and info["stop"] == "max_turns" and info["replies"] == ()


def test_env_observations_are_the_loop_prompts() -> None:
    """Same state machine as the rollout loop: the env's observation equals build_messages of its state."""
    env = ClinicalEnv(CASE, TerminalCorrectness(), oracle=TableOracle(CASE))
    obs0 = env.reset()
    obs1, _, _, info = env.step(order(["TSH"]))
    assert isinstance(env.state, RolloutState) and obs1 == build_messages(env.state)
    assert obs1[0] == obs0[0] and "- TSH: 2.1 mIU/L" in obs1[1].content
    assert info["replies"][0].available


def test_custom_reward_fn_protocol() -> None:
    calls: list[tuple[int, bool]] = []

    def per_test_penalty(env: Environment, state: RolloutState, turn) -> float:  # noqa: ANN001
        calls.append((state.turn, state.done))
        return -0.1 * len(turn.tests) if not state.done else 1.0

    env = ClinicalEnv(CASE, per_test_penalty, oracle=TableOracle(CASE))
    rewards, _ = drive(env, canned_agent([order(["TSH", "Chest CT"]), commit("Myasthenia gravis")]))
    assert rewards == pytest.approx([-0.2, 1.0]) and calls == [(1, False), (2, True)]


@pytest.mark.parametrize(
    ("pred", "truth", "expected"),
    [
        ("Myasthenia gravis", "Myasthenia Gravis", True),
        ("generalized myasthenia gravis", "Myasthenia gravis", True),
        ("Sjögren's syndrome", "Sjogren syndrome", True),
        ("Multiple sclerosis", "Myasthenia gravis", False),
        ("acute disease", "chronic disease", False),
        ("", "Myasthenia gravis", False),
    ],
)
def test_diagnosis_match(pred: str, truth: str, expected: bool) -> None:
    assert same_diagnosis(pred, truth) is expected
