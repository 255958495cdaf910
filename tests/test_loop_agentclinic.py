"""End to end: AgentClinic case 0 (bundled data), the scripted policy and the REAL Oracle; printed readably."""

from __future__ import annotations

from pathlib import Path

from medaction.envs.load import iter_environments
from medaction.envs.oracle import Oracle
from medaction.policies import base
from medaction.tree.loop import rollout
from medaction.tree.render import format_trajectory
from test_loop_helpers import commit, order

# What a reasonable doctor would write for case 0 (diplopia, fatigable weakness); written without the menu.
SCRIPT = [
    order(["Anti-acetylcholine receptor antibodies", "TSH"], reasoning="Fatigable ptosis and proximal weakness.",
          ddx=(("Myasthenia gravis", 0.6), ("Lambert-Eaton myasthenic syndrome", 0.2), ("Graves ophthalmopathy", 0.1)),
          pivot="postsynaptic NMJ antibody-mediated disease vs presynaptic or thyroid eye disease"),
    order(["EMG with repetitive nerve stimulation", "CT of the chest"],
          reasoning="Antibodies positive; look for thymoma.",
          ddx=(("Myasthenia gravis", 0.85), ("Lambert-Eaton myasthenic syndrome", 0.05)), pivot="thymoma or not"),
    commit("Myasthenia gravis", reasoning="Positive AChR antibodies and decrement on RNS; no thymoma."),
]


async def test_agentclinic_case0_end_to_end(agentclinic_path: Path) -> None:
    env = next(iter(iter_environments("agentclinic", agentclinic_path)))
    policy = base.build("scripted", {"turns": SCRIPT})
    traj = await rollout(env, policy, oracle=Oracle(env), seed=0, policy_id="scripted")
    text = format_trajectory(traj)
    print("\n" + text)
    assert traj.stop == "final" and len(traj.nodes) == 3
    assert traj.nodes[-1].turn.final_diagnosis == env.diagnosis == "Myasthenia gravis"
    r1 = {r.request: r for r in traj.nodes[0].replies}
    assert r1["Anti-acetylcholine receptor antibodies"].available
    assert r1["Anti-acetylcholine receptor antibodies"].result == "Present (elevated)"
    assert not r1["TSH"].available and r1["TSH"].result == "UNAVAILABLE"
    r2 = {r.request: r for r in traj.nodes[1].replies}
    assert r2["CT of the chest"].available and "thymoma" in r2["CT of the chest"].result
    assert r2["EMG with repetitive nerve stimulation"].available
    # turn 3 prompt carries the whole record, UNAVAILABLE included
    prompt3 = traj.nodes[2].messages[1].content
    assert "- TSH: UNAVAILABLE" in prompt3 and "- CT of the chest: Normal, no thymoma" in prompt3
    assert "Turn 1 of 8" in traj.nodes[0].messages[1].content
    assert "Stop: final after 3 turn(s)" in text and "FINAL DIAGNOSIS: Myasthenia gravis" in text
