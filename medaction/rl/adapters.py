"""Adapters for external RL frameworks (docs/rl.md, "verl and SkyRL"). Duck-typed: nothing here imports verl or
SkyRL, so the core install does not depend on them; subclass together with the framework's base class to register.

- `SkyRLClinicalEnv`: SkyRL-gym's `BaseTextEnv` interface (`init(prompt) -> (messages, metadata)`,
  `step(action) -> {"observations", "reward", "done", "metadata"}`, `close()`), one clinical case per instance
  (SkyRL builds an env per trajectory with `extras` from the dataset row).
- `VerlClinicalInteraction`: verl's `BaseInteraction` interface (`start_interaction`, `generate_response ->
  (should_terminate, response, score, extra)`, `calculate_score`, `finalize_interaction`), one episode per
  instance id; `verl_dataset_rows(cases)` writes the dataset rows whose `interaction_kwargs` select the case.
- `turn_samples(batch, tokenizer)`: the rollout API's scored groups as token-level per-turn samples
  (prompt_ids, response_ids, response_mask, reward, advantage, uid, policy_version) for trainers that take
  finished rollouts instead of driving an environment (verl's agent-loop outputs, SkyRL's generator outputs).

Both environment adapters run `tree.rl_env.ClinicalEnv` (the engine's turn loop) with `scoring.rewards.StepReward`
(per-step rewards that sum to the rollout API's trajectory return). Observations, by `observation`:
- "append" (default; what verl and SkyRL's default generator do with observations: append them to the chat): one
  user message with this turn's oracle results and the next turn's instruction. The conversation then differs
  from the engine's prompts (which rebuild [system, user] each turn, paper 3.3): a policy trained this way should
  be served the same way.
- "replace": the engine's exact next prompt ([system, user]) with metadata `replace_history=True`, for generators
  that can reset the conversation to the observation (faithful to the engine's context builder).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from medaction.envs.types import Environment
from medaction.policies.context import record_text
from medaction.policies.prompts import turn_instruction
from medaction.policies.types import Message
from medaction.scoring.base import build_scorer
from medaction.scoring.rewards import RewardConfig, StepReward, group_advantages, reward_config
from medaction.tree.rl_env import ClinicalEnv


def _as_env(case: Any) -> Environment:
    if isinstance(case, Environment):
        return case
    import msgspec

    return msgspec.convert(case, Environment)


def _get(cfg: Any, key: str, default: Any) -> Any:
    if cfg is None:
        return default
    if isinstance(cfg, dict):
        return cfg.get(key, default)
    return getattr(cfg, key, default)  # omegaconf DictConfig / any namespace


def _dicts(messages: Sequence[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


class _Episode:
    """ClinicalEnv + StepReward for one case, and the observation in either layout."""

    def __init__(self, case: Environment, cfg: Any) -> None:
        self.case = case
        self.observation = _get(cfg, "observation", "append")
        if self.observation not in ("append", "replace"):
            raise ValueError(f"observation must be 'append' or 'replace', got {self.observation!r}")
        scorer = build_scorer(_get(cfg, "scorer", "identity"), _get(cfg, "scorer_config", None))
        self.rewards: RewardConfig = reward_config(_get(cfg, "rewards", None))
        self.env = ClinicalEnv(case, StepReward(scorer, self.rewards), max_turns=int(_get(cfg, "max_turns", 8)),
                               mode=_get(cfg, "mode", "structured"))
        self.total = 0.0
        self.turns = 0

    def reset(self) -> tuple[Message, ...]:
        self.total, self.turns = 0.0, 0
        return self.env.reset()

    def step(self, text: str) -> tuple[list[dict[str, str]], float, bool, dict[str, Any]]:
        obs, reward, done, info = self.env.step(text)
        self.total += reward
        self.turns += 1
        state = self.env.state
        assert state is not None
        meta = {"stop": info["stop"], "parse": info["parse"], "turn": self.turns, "case_id": self.case.case_id,
                "final_diagnosis": state.final_diagnosis}
        if done:
            return [], reward, True, meta
        if self.observation == "replace":
            return _dicts(obs), reward, False, {**meta, "replace_history": True}
        new = [(e.turn, e.reply) for e in state.record if e.turn == state.turn]
        text_obs = (record_text(new) + "\n\n" if new else "") + turn_instruction(state.mode, state.turn + 1,
                                                                                 state.max_turns)
        return [{"role": "user", "content": text_obs}], reward, False, meta


class SkyRLClinicalEnv:
    """SkyRL-gym BaseTextEnv for one case. `extras["case"]`: an Environment or its dict; `env_config` keys:
    max_turns, mode, observation, scorer, scorer_config, rewards (a RewardConfig table)."""

    def __init__(self, env_config: Any = None, extras: dict[str, Any] | None = None) -> None:
        extras = extras or {}
        if "case" not in extras:
            raise ValueError("SkyRLClinicalEnv: extras['case'] (an Environment or its dict) is required")
        self.episode = _Episode(_as_env(extras["case"]), env_config)
        self.max_turns = self.episode.env.max_turns  # BaseTextEnv's own counters, which SkyRL reads
        self.turns = 0

    def init(self, prompt: Any = None) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """The dataset prompt is ignored: the case's first prompt comes from the engine's context builder."""
        self.turns = 0
        return _dicts(self.episode.reset()), {"case_id": self.episode.case.case_id}

    def step(self, action: str) -> dict[str, Any]:
        obs, reward, done, meta = self.episode.step(action)
        self.turns += 1
        return {"observations": obs, "reward": reward, "done": done, "metadata": meta}

    def close(self) -> None:
        pass


def verl_dataset_rows(cases: Iterable[Environment], *, name: str = "medaction", max_turns: int = 8,
                      mode: str = "structured") -> list[dict[str, Any]]:
    """verl dataset rows: the first prompt of each case and the interaction kwargs that select it."""
    from medaction.tree.loop import build_messages, initial_state

    return [{"prompt": _dicts(build_messages(initial_state(c, max_turns=max_turns, mode=mode))),  # type: ignore[arg-type]
             "extra_info": {"interaction_kwargs": {"name": name, "case_id": c.case_id}}} for c in cases]


class VerlClinicalInteraction:
    """verl BaseInteraction over the engine's environments. `config` keys: cases (a list of Environments or
    dicts) or source + path (envs.load.iter_environments), plus the `_Episode` keys (max_turns, observation is
    always "append" here: verl appends the response to the chat)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})
        self.name = self.config.get("name", "medaction")
        self._cases: dict[str, Environment] | None = None
        self._live: dict[str, _Episode] = {}

    def _case(self, case_id: str) -> Environment:
        if self._cases is None:
            if "cases" in self.config:
                envs = [_as_env(c) for c in self.config["cases"]]
            else:
                from pathlib import Path

                from medaction.envs.load import default_cases_path, iter_environments

                path = Path(self.config["path"]) if self.config.get("path") else default_cases_path()
                envs = list(iter_environments(self.config.get("source", "agentclinic"), path))
            self._cases = {e.case_id: e for e in envs}
        if case_id not in self._cases:
            raise KeyError(f"VerlClinicalInteraction: unknown case_id {case_id!r}")
        return self._cases[case_id]

    async def start_interaction(self, instance_id: str | None = None, *, case_id: str, **kwargs: Any) -> str:
        iid = instance_id or str(uuid.uuid4())
        ep = _Episode(self._case(case_id), {**self.config, "observation": "append"})
        ep.reset()
        self._live[iid] = ep
        return iid

    async def generate_response(self, instance_id: str, messages: list[dict[str, Any]],
                                **kwargs: Any) -> tuple[bool, str, float, dict[str, Any]]:
        ep = self._live[instance_id]
        text = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "assistant"), "")
        obs, reward, done, meta = ep.step(text)
        return done, (obs[0]["content"] if obs else ""), reward, meta

    async def calculate_score(self, instance_id: str, **kwargs: Any) -> float:
        return self._live[instance_id].total

    async def finalize_interaction(self, instance_id: str, **kwargs: Any) -> None:
        self._live.pop(instance_id, None)


def turn_samples(batch: Any, tokenizer: Any, *, max_prompt_tokens: int | None = None) -> list[dict[str, Any]]:
    """Per-turn token samples of a RolloutBatch: one per turn, its trajectory's group-normalised advantage,
    the turn's own reward, and `uid` = the group (case) for frameworks that normalise by uid themselves."""
    from medaction.policies.backends.chat_ids import prompt_ids

    out: list[dict[str, Any]] = []
    for g in batch.groups:
        for tr, adv in zip(g.trajectories, group_advantages(g.returns), strict=True):
            for i, n in enumerate(tr.scored.trajectory.nodes):
                p = prompt_ids(tokenizer, n.messages)
                if max_prompt_tokens:
                    p = p[-max_prompt_tokens:]
                r = tokenizer(n.turn.raw, add_special_tokens=False)["input_ids"]
                out.append({"uid": g.tree_id, "path": tr.row["path"], "turn": n.depth, "prompt_ids": p,
                            "response_ids": r, "response_mask": [1] * len(r), "reward": tr.rewards.turn[i],
                            "return": tr.rewards.total, "advantage": adv, "policy_version": n.policy_version})
    return out
