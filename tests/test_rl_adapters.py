"""The verl / SkyRL adapters driven by minimal fake trainer loops that call them exactly the way those frameworks'
interfaces do (SkyRL-gym BaseTextEnv: init/step/close; verl BaseInteraction: start/generate_response/score/
finalize), plus per-turn samples from the rollout API consumed by a fake GRPO step."""

from __future__ import annotations

import pytest

from medaction.policies.prompts import turn_number
from medaction.policies.types import Message
from medaction.rl.adapters import SkyRLClinicalEnv, VerlClinicalInteraction, turn_samples, verl_dataset_rows
from medaction.tree.loop import build_messages
from test_loop_helpers import CASE, commit, order

SCRIPT = [order(["Acetylcholine receptor antibodies", "TSH"]), order(["Electromyography"]),
          commit("Myasthenia gravis")]
CFG = {"max_turns": 3, "rewards": {"test_cost": 0.01, "progress": 0.5}}


def agent(chat: list[dict[str, str]]) -> str:
    """A canned 'LLM': answers from the turn number our instruction wrote in the last user message."""
    n = turn_number([Message(m["role"], m["content"]) for m in chat])
    assert n is not None
    return SCRIPT[n - 1]


def skyrl_generator(env: SkyRLClinicalEnv, prompt: list[dict[str, str]]) -> tuple[list[dict], list[float]]:
    """SkyRL's generator loop, reduced: init, then generate -> step -> append observations until done."""
    chat, _meta = env.init(prompt)
    rewards = []
    while True:
        action = agent(chat)
        chat = [*chat, {"role": "assistant", "content": action}]
        out = env.step(action)
        rewards.append(out["reward"])
        if out["done"]:
            break
        if out["metadata"].get("replace_history"):
            chat = list(out["observations"])
        else:
            chat = chat + out["observations"]
    env.close()
    return chat, rewards


@pytest.mark.parametrize("observation", ["append", "replace"])
def test_skyrl_env_fake_generator(observation: str) -> None:
    env = SkyRLClinicalEnv({**CFG, "observation": observation}, {"case": CASE})
    chat, rewards = skyrl_generator(env, [{"role": "user", "content": "ignored dataset prompt"}])
    # -2 tests, -1 test, correct commit: costs 0.02, 0.01 then the terminal 1.0 (identity scorer: no DTC/RAC)
    assert rewards == pytest.approx([-0.02, -0.01, 1.0])
    state = env.episode.env.state
    assert state is not None and state.stop == "final" and state.final_diagnosis == "Myasthenia gravis"
    assert env.turns == 3 and env.max_turns == 3
    if observation == "append":
        assert [m["role"] for m in chat] == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
        assert "Present (elevated)" in chat[3]["content"] and "2.1 mIU/L" in chat[3]["content"]
    else:  # the engine's own prompt of the last turn, then the answer
        assert [m["role"] for m in chat] == ["system", "user", "assistant"]
        assert "Decrement on repetitive stimulation" in chat[1]["content"]


def test_skyrl_env_needs_a_case() -> None:
    with pytest.raises(ValueError, match="extras"):
        SkyRLClinicalEnv(CFG, {})


async def test_verl_interaction_fake_agent_loop() -> None:
    inter = VerlClinicalInteraction({**CFG, "cases": [CASE]})
    row = verl_dataset_rows([CASE], max_turns=3)[0]
    kwargs = row["extra_info"]["interaction_kwargs"]
    assert kwargs == {"name": "medaction", "case_id": CASE.case_id}
    iid = await inter.start_interaction(**{k: v for k, v in kwargs.items() if k != "name"})
    messages = list(row["prompt"])
    assert messages == [{"role": m.role, "content": m.content} for m in build_messages(inter._live[iid].env.state)]
    scores = []
    for _ in range(10):  # verl's interaction agent loop: generate, append, ask the interaction, append its reply
        messages.append({"role": "assistant", "content": agent(messages)})
        done, reply, score, extra = await inter.generate_response(iid, messages)
        scores.append(score)
        if done:
            break
        messages.append({"role": "user", "content": reply})
    assert done and extra["stop"] == "final" and scores == pytest.approx([-0.02, -0.01, 1.0])
    assert await inter.calculate_score(iid) == pytest.approx(sum(scores))
    await inter.finalize_interaction(iid)
    assert iid not in inter._live
    with pytest.raises(KeyError):
        await inter.start_interaction(case_id="nope")


def test_rollout_api_turn_samples_feed_a_fake_trainer(ray_session, agentclinic_path) -> None:  # type: ignore[no-untyped-def]
    from medaction.engine.config import TeacherConfig
    from medaction.engine.rollout_service import RolloutService
    from medaction.envs.load import iter_environments

    class CharTok:  # a tokenizer stand-in: one id per character (the samples' token logic, not a model, is tested)
        chat_template = None

        def __call__(self, text: str, add_special_tokens: bool = True) -> dict:
            return {"input_ids": [ord(c) % 256 for c in text]}

    cases = [e for _, e in zip(range(2), iter_environments("agentclinic", agentclinic_path))]
    with RolloutService(TeacherConfig(id="h", backend="heuristic"), rewards={"test_cost": 0.05}) as svc:
        pid = ray_session.get(svc.actors[0].ping.remote())["pid"]
        batch = svc.rollout(cases, group_size=3, max_turns=3, seed=1, branches=1)

        async def stream() -> list:
            return [g async for g in svc.astream(cases[:1], group_size=2, max_turns=2, seed=2)]

        import asyncio

        streamed = asyncio.run(stream())
        assert ray_session.get(svc.actors[0].ping.remote())["pid"] == pid  # same actors across calls
    assert len(streamed) == 1 and len(streamed[0].trajectories) == 2
    for g in batch.groups:  # G = 3 roots + 1 branch (tree branching per call)
        paths = [t.row["path"] for t in g.trajectories]
        assert len(paths) == 4 and sum(".b" in p for p in paths) == 1
    samples = turn_samples(batch, CharTok(), max_prompt_tokens=512)
    n_turns = sum(len(t.scored.trajectory.nodes) for g in batch.groups for t in g.trajectories)
    assert len(samples) == n_turns and {s["uid"] for s in samples} == {g.tree_id for g in batch.groups}
    for s in samples:
        assert 0 < len(s["prompt_ids"]) <= 512 and len(s["response_ids"]) == len(s["response_mask"]) > 0
        assert s["policy_version"] == 0
    # a fake trainer step: per-uid advantages sum to zero (GRPO baseline), turn rewards sum to the returns
    for g in batch.groups:
        per_traj = {}
        for s in samples:
            if s["uid"] == g.tree_id:
                per_traj.setdefault(s["path"], []).append(s)
        assert sum(v[0]["advantage"] for v in per_traj.values()) == pytest.approx(0.0, abs=1e-6)
        for v in per_traj.values():
            assert sum(s["reward"] for s in v) == pytest.approx(v[0]["return"])
