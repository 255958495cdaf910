"""The on-policy GRPO example on CPU (trainers/grpo.py): real Ray, the real `hf` SmolLM2 policy actor, LoRA updates
published to the live actor between rollouts. Checks the plumbing, not learning: versions 0 -> 1 -> 2 in the rows,
rewards and loss logged, and the served policy's outputs for the same seeds change after the updates."""

from __future__ import annotations

import json
import math

import pytest

pytest.importorskip("peft")



def test_grpo_loop_versions_rewards_and_outputs_change(ray_session, agentclinic_path, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from medaction.envs.load import iter_environments
    from medaction.policies.types import SamplingParams
    from medaction.scoring.rewards import RewardConfig
    from medaction.scoring.rows import from_row, to_table
    from medaction.trainers.grpo import GRPOConfig, run_grpo

    cases = [e for _, e in zip(range(2), iter_environments("agentclinic", agentclinic_path))]
    # seed_stride=0: every iteration samples with the same node seeds, so a changed text means changed weights.
    # SmolLM2 never finishes a turn in 12 tokens, so every turn is cut ("truncated") and the group returns tie: the
    # entropy bonus (on every sampled turn) is what moves the weights here; the plumbing is what is tested.
    cfg = GRPOConfig(iterations=3, group_size=2, max_turns=2, params=SamplingParams(temperature=1.0, max_tokens=12),
                     seed_stride=0, lr=1e-2, max_prompt_tokens=128, rewards=RewardConfig(invalid=0.1),
                     entropy_coef=0.05,
                     out_dir=str(tmp_path / "grpo"))
    logs = run_grpo(cases, cfg)

    assert [it.version for it in logs] == [0, 1, 2]
    assert [it.published for it in logs] == [1, 2, None]
    for it in logs:
        assert len(it.rows) == 4 and len(it.returns) == 4 and all(math.isfinite(r) for r in it.returns)
        assert it.lag == 0  # on-policy: each rollout ran on the weights of the step before it
        assert to_table(it.rows).num_rows == 4  # the rows fit the shard schema
        for row in it.rows:
            nodes = from_row(row).trajectory.nodes
            assert row["policy_versions"] == [it.version] * len(nodes) == [n.policy_version for n in nodes]
    assert logs[0].loss is not None and math.isfinite(logs[0].loss) and logs[0].trained_turns > 0
    assert logs[1].loss is not None and logs[2].loss is None
    assert (tmp_path / "grpo" / "adapter-v1" / "adapter_config.json").is_file()
    lines = (tmp_path / "grpo" / "grpo_log.jsonl").read_text().splitlines()
    assert [json.loads(x)["version"] for x in lines] == [0, 1, 2]

    def texts(it):  # (case, path, depth) -> completion text, same seeds in every iteration
        return {(r["case_id"], r["path"], n.depth): n.turn.raw for r in it.rows
                for n in from_row(r).trajectory.nodes}

    t0, t2 = texts(logs[0]), texts(logs[2])
    shared = t0.keys() & t2.keys()
    assert shared and any(t0[k] != t2[k] for k in shared), "the served policy did not change after two updates"
