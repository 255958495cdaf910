"""The trajectory-tree model: node paths, lines (root rollouts and branches) and how a line becomes a Trajectory.

Node ids are paths. A root line k has nodes "r{k}" (turn 1), "r{k}.1" (turn 2), "r{k}.2" (turn 3), ...
A branch launched from node P (after P completed, from P's state) is the line "P.b{j}" with nodes "P.b{j}.1",
"P.b{j}.2", ... (e.g. "r1.2.b0.1" is the first turn of branch 0 launched from turn 3 of root 1). Every id that
passes through a branch point contains ".b", so shard rows can tell branched paths apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from medaction.tree.types import Node, StopReason, Trajectory


def root_line(k: int) -> str:
    return f"r{k}"


def branch_line(parent_node_id: str, j: int) -> str:
    return f"{parent_node_id}.b{j}"


def is_branch_line(line: str) -> bool:
    return ".b" in line


def node_id(line: str, step: int) -> str:
    """Root lines count steps from 0 ("r0" is step 0), branch lines from 1 ("P.b0.1" is step 1)."""
    if not is_branch_line(line) and step == 0:
        return line
    return f"{line}.{step}"


def first_step(line: str) -> int:
    return 1 if is_branch_line(line) else 0


def tree_id_for(case_id: str, policy_id: str) -> str:
    """One tree per (case, teacher). Stable across runs: the manifest's resume key."""
    return f"{policy_id}::{case_id}"


class NodeTask(msgspec.Struct, frozen=True, kw_only=True):
    """A runnable node: everything the engine needs to run one turn except the loop state it carries alongside."""

    tree_id: str
    case_id: str
    policy_id: str
    line: str
    step: int
    node_id: str
    parent_id: str | None
    depth: int  # 1-based turn number
    seed: int
    mode: str = "structured"


class FinishedLine(msgspec.Struct, frozen=True, kw_only=True):
    """A line that reached a stop: its root-to-leaf path is one trajectory."""

    tree_id: str
    line: str
    trajectory: Trajectory


def make_trajectory(
    *, case_id: str, policy_id: str, tree_id: str, mode: str, nodes: Sequence[Node], stop: StopReason, error: str = ""
) -> Trajectory:
    return Trajectory(
        case_id=case_id, policy_id=policy_id, nodes=tuple(nodes), stop=stop, tree_id=tree_id, mode=mode, error=error
    )
