"""Gym-style RL form of the turn loop, for trainers that drive environments (verl, SkyRL): reset() -> messages,
step(text) -> (messages, reward, done, info). Built on loop.build_messages/advance: no second copy of the loop.

Rewards are pluggable (`RewardFn`). `TerminalCorrectness` pays 1.0 when the line ends with a final diagnosis that
names the ground truth by the one diagnosis equivalence (medaction.envs.diagnosis.same_diagnosis, the same decision
as the offline judge and the scorer's `correct` field), else 0.0. It is defined here because the env needs no graph;
every reward (this one re-exported) lives in `medaction.scoring.rewards`: `StepReward` pays the rollout API's
per-turn rewards step by step (docs/rl.md). Adapters for verl and SkyRL: `medaction.rl.adapters`.
"""

from __future__ import annotations

from typing import Any, Protocol

from medaction.envs.diagnosis import same_diagnosis
from medaction.envs.types import Environment
from medaction.policies.types import Message, Mode, Turn
from medaction.tree.loop import Answerer, RolloutState, advance, build_messages, initial_state

class RewardFn(Protocol):
    """Reward for the step that produced `turn` and led to `state` (state.done says whether the episode ended)."""

    def __call__(self, env: Environment, state: RolloutState, turn: Turn) -> float: ...


class TerminalCorrectness:
    def __call__(self, env: Environment, state: RolloutState, turn: Turn) -> float:
        if not (state.done and state.stop == "final" and state.final_diagnosis):
            return 0.0
        return 1.0 if same_diagnosis(state.final_diagnosis, env.diagnosis) else 0.0


class ClinicalEnv:
    """One case as an episodic environment. Observations are the chat messages of the next turn."""

    def __init__(
        self,
        env: Environment,
        reward_fn: RewardFn,
        *,
        max_turns: int = 8,
        mode: Mode = "structured",
        oracle: Answerer | None = None,
    ) -> None:
        if oracle is None:
            from medaction.envs.oracle import Oracle

            oracle = Oracle(env)
        self.env = env
        self.reward_fn = reward_fn
        self.max_turns = max_turns
        self.mode: Mode = mode
        self.oracle = oracle
        self.state: RolloutState | None = None

    def reset(self) -> tuple[Message, ...]:
        self.state = initial_state(self.env, max_turns=self.max_turns, mode=self.mode)
        return build_messages(self.state)

    def step(self, text: str) -> tuple[tuple[Message, ...], float, bool, dict[str, Any]]:
        if self.state is None:
            raise RuntimeError("ClinicalEnv.step called before reset()")
        if self.state.done:
            raise RuntimeError(f"ClinicalEnv.step called after the episode ended ({self.state.stop}); call reset()")
        turn, replies, self.state = advance(self.state, text, self.oracle)
        reward = float(self.reward_fn(self.env, self.state, turn))
        info: dict[str, Any] = {"turn": turn, "replies": replies, "stop": self.state.stop, "parse": turn.parse,
                                "turn_index": self.state.turn}
        obs = () if self.state.done else build_messages(self.state)
        return obs, reward, self.state.done, info
