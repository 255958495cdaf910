"""One AgentClinic case end to end with the real SmolLM2 through the real turn loop (bounded tokens)."""

from __future__ import annotations

import time

from medaction.envs.load import default_cases_path, iter_environments
from medaction.policies.types import SamplingParams
from medaction.tree.loop import rollout
from policies_fixtures import shared_smol


async def test_smollm2_agentclinic_case_end_to_end() -> None:
    env = next(iter(iter_environments("agentclinic", default_cases_path())))
    policy = shared_smol()
    t0 = time.perf_counter()
    traj = await rollout(env, policy, max_turns=2, seed=7, params=SamplingParams(temperature=0.6, max_tokens=48),
                         policy_id="smollm2")
    took = time.perf_counter() - t0
    print(f"\nSmolLM2 e2e: stop={traj.stop} nodes={len(traj.nodes)} in {took:.1f}s")
    assert traj.case_id == env.case_id and traj.policy_id == "smollm2"
    assert traj.stop in ("final", "max_turns", "parse_failed", "truncated")  # tiny max_tokens: cut turns
    assert traj.nodes, "every completed turn is recorded, parsed or not"
    node = traj.nodes[0]
    assert node.node_id.startswith("r0") and node.depth == 1
    assert node.messages[0].role == "system" and env.initial_observation.strip()[:40] in node.messages[1].content
    assert node.usage.prompt_tokens > 100 and 0 < node.usage.completion_tokens <= 2 * 48  # repair retry included
    assert node.turn.raw  # the model's real text is kept
