"""Gym-style RL form of the turn loop, for trainers that drive environments (verl, SkyRL): reset() -> messages,
step(text) -> (messages, reward, done, info). Built on loop.build_messages/advance: no second copy of the loop.

Rewards are pluggable (`RewardFn`). `TerminalCorrectness` pays 1.0 when the line ends with a final diagnosis that
matches the ground truth (normalised string equality or content-token overlap), else 0.0. The DTC-shaped reward
arrives with scoring as another RewardFn.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Protocol

from medaction.envs.types import Environment
from medaction.policies.types import Message, Mode, Turn
from medaction.tree.loop import Answerer, RolloutState, advance, build_messages, initial_state

_STOPWORDS = frozenset(
    "a an and the of with without in on to due secondary primary acute chronic disease disorder syndrome type".split()
)


class RewardFn(Protocol):
    """Reward for the step that produced `turn` and led to `state` (state.done says whether the episode ended)."""

    def __call__(self, env: Environment, state: RolloutState, turn: Turn) -> float: ...


def normalise_diagnosis(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    text = re.sub(r"\([^)]*\)", " ", text)  # drop parentheticals: "(MG)"
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def diagnosis_match(predicted: str, truth: str, *, min_overlap: float = 0.6) -> bool:
    """Equal after normalisation, or content-token overlap (Dice) >= min_overlap."""
    p, t = normalise_diagnosis(predicted), normalise_diagnosis(truth)
    if not p or not t:
        return False
    if p == t:
        return True
    pt = {w for w in p.split() if w not in _STOPWORDS}
    tt = {w for w in t.split() if w not in _STOPWORDS}
    if not pt or not tt:
        return False
    return 2 * len(pt & tt) / (len(pt) + len(tt)) >= min_overlap


class TerminalCorrectness:
    def __init__(self, *, min_overlap: float = 0.6) -> None:
        self.min_overlap = min_overlap

    def __call__(self, env: Environment, state: RolloutState, turn: Turn) -> float:
        if not (state.done and state.stop == "final" and state.final_diagnosis):
            return 0.0
        return 1.0 if diagnosis_match(state.final_diagnosis, env.diagnosis, min_overlap=self.min_overlap) else 0.0


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
