"""Readable text of a trajectory: per turn the differential, pivot, tests, oracle replies; then the stop reason."""

from __future__ import annotations

from medaction.envs.types import UNAVAILABLE
from medaction.tree.types import Node, Trajectory

WIDTH_RESULT = 160
WIDTH_REASONING = 300


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def format_node(node: Node) -> list[str]:
    t = node.turn
    u = node.usage
    head = f"Turn {node.depth}  [{node.node_id}]  parse={t.parse}" + ("  (repaired by retry)" if u.repaired else "")
    lines = [head]
    if t.reasoning:
        lines.append(f"  reasoning: {_short(t.reasoning, WIDTH_REASONING)}")
    if t.differential:
        lines.append("  differential:")
        lines.extend(f"    {i}. {h.diagnosis}  ({h.confidence:.0%})" for i, h in enumerate(t.differential, 1))
    if t.pivot:
        lines.append(f"  pivot: {_short(t.pivot, WIDTH_REASONING)}")
    if t.final_diagnosis:
        lines.append(f"  FINAL DIAGNOSIS: {t.final_diagnosis}")
    elif t.tests:
        lines.append("  tests:")
        replies = {r.request: r for r in node.replies}
        for test in t.tests:
            r = replies.get(test)
            if r is None:
                lines.append(f"    - {test}: (not sent)")
                continue
            res = _short(r.result, WIDTH_RESULT) if r.available else UNAVAILABLE
            matched = f"  <- {', '.join(r.matched)}" if r.matched else ""
            lines.append(f"    - {test}: {res}{matched}")
    lines.append(
        f"  usage: prompt={u.prompt_tokens} completion={u.completion_tokens} cached={u.cached_tokens} "
        f"llm={u.llm_s * 1000:.1f}ms oracle={u.oracle_s * 1000:.1f}ms"
    )
    return lines


def format_trajectory(traj: Trajectory) -> str:
    out = [f"Case {traj.case_id}  policy={traj.policy_id}  mode={traj.mode}  tree={traj.tree_id or '-'}"]
    for node in traj.nodes:
        out.extend(format_node(node))
    tail = f"Stop: {traj.stop} after {len(traj.nodes)} turn(s)"
    if traj.error:
        tail += f"  error: {_short(traj.error, WIDTH_REASONING)}"
    out.append(tail)
    return "\n".join(out)
