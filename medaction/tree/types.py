"""Shared types of the tree layer: a node is one whole turn; every root-to-leaf path is a Trajectory."""

from __future__ import annotations

from typing import Literal

import msgspec

from medaction.envs.types import OracleReply
from medaction.policies.types import Message, Turn

# "truncated": the reply was cut at the token limit twice (first reply and its repair retry)
StopReason = Literal["final", "max_turns", "parse_failed", "truncated", "policy_error", "timeout"]


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    llm_s: float = 0.0
    oracle_s: float = 0.0
    repaired: bool = False  # a repair retry was needed for this turn
    truncated: int = 0  # policy calls of this turn cut at the token limit (0-2)


class Node(msgspec.Struct, frozen=True, kw_only=True):
    tree_id: str
    node_id: str  # the node path, e.g. "r0.3.1": root index then child indices
    parent_id: str | None
    depth: int  # 1-based turn number
    policy_id: str
    seed: int
    turn: Turn
    replies: tuple[OracleReply, ...] = ()
    messages: tuple[Message, ...] = ()  # the exact prompt the policy saw at this turn
    mode: str = "structured"
    usage: Usage = Usage()
    policy_version: int = 0  # version of the weights that produced this turn (docs/rl.md, "Weight updates")


class Trajectory(msgspec.Struct, frozen=True, kw_only=True):
    case_id: str
    policy_id: str
    nodes: tuple[Node, ...]
    stop: StopReason
    tree_id: str = ""
    mode: str = "structured"
    error: str = ""  # why a policy_error/timeout happened (never contains secrets)
