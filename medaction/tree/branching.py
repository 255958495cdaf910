"""Branch-point strategies: which intermediate nodes of the K root lines start new continuations (paper 3.3).

A strategy has two chances to decide, so that eager strategies do not wait for whole trees:
- `plan(k, max_turns, b, rng)`: branch points fixed before any node runs, as (root index, depth) pairs; the
  scheduler launches each the moment that node completes (its prefix is still in the replica's cache).
  Return None to decide later.
- `choose(lines, b, rng)`: called once all K root lines have finished, with their nodes; returns node ids.
Candidates are intermediate nodes only: every node of a line but its leaf (a leaf has no continuation).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Protocol

from medaction.registry import Registry, resolve
from medaction.tree.types import Node

BranchPoint = tuple[int, int]  # (root index, depth)
ChooseFn = Callable[[Sequence[Sequence[Node]], int, random.Random], Sequence[str]]


class BranchStrategy(Protocol):
    name: str

    def plan(self, k: int, max_turns: int, b: int, rng: random.Random) -> tuple[BranchPoint, ...] | None: ...

    def choose(self, lines: Sequence[Sequence[Node]], b: int, rng: random.Random) -> tuple[str, ...]: ...


def candidates(lines: Sequence[Sequence[Node]]) -> list[Node]:
    return [n for line in lines for n in line[:-1]]


class UniformDepth:
    """Uniform over intermediate depths 1..max_turns-1 and over roots, planned up front (launch is eager).

    If the planned root stops before that depth, `choose` falls back to a uniform pick among that line's
    intermediate nodes (the scheduler calls it with just that line); a line that stopped at turn 1 has none."""

    name = "uniform"

    def plan(self, k: int, max_turns: int, b: int, rng: random.Random) -> tuple[BranchPoint, ...] | None:
        if max_turns < 2 or k < 1:
            return ()
        return tuple((rng.randrange(k), rng.randint(1, max_turns - 1)) for _ in range(b))

    def choose(self, lines: Sequence[Sequence[Node]], b: int, rng: random.Random) -> tuple[str, ...]:
        pool = candidates(lines)
        if not pool:
            return ()
        return tuple(rng.choice(pool).node_id for _ in range(b))


def differential_entropy(node: Node) -> float:
    """Shannon entropy (nats) of the normalised differential; equal weights when confidences are missing."""
    confs = [max(0.0, float(h.confidence)) for h in node.turn.differential]
    if not confs:
        return 0.0
    total = sum(confs)
    probs = [c / total for c in confs] if total > 0 else [1.0 / len(confs)] * len(confs)
    return -sum(p * math.log(p) for p in probs if p > 0)


class MaxEntropy:
    """The B intermediate nodes with the most uncertain differential (ties: shallower, then node id), decided
    once all roots are done, since "highest" needs every candidate."""

    name = "entropy"

    def plan(self, k: int, max_turns: int, b: int, rng: random.Random) -> tuple[BranchPoint, ...] | None:
        return None

    def choose(self, lines: Sequence[Sequence[Node]], b: int, rng: random.Random) -> tuple[str, ...]:
        pool = sorted(candidates(lines), key=lambda n: (-differential_entropy(n), n.depth, n.node_id))
        return tuple(n.node_id for n in pool[:b])


class FunctionStrategy:
    """A user function `f(lines, b, rng) -> node ids`, loaded from "package.module:function"."""

    def __init__(self, fn: ChooseFn, name: str = "function") -> None:
        self.fn = fn
        self.name = name

    def plan(self, k: int, max_turns: int, b: int, rng: random.Random) -> tuple[BranchPoint, ...] | None:
        return None

    def choose(self, lines: Sequence[Sequence[Node]], b: int, rng: random.Random) -> tuple[str, ...]:
        allowed = {n.node_id for n in candidates(lines)}
        picked = tuple(str(x) for x in self.fn(lines, b, rng))
        bad = [x for x in picked if x not in allowed]
        if bad:  # user code: say exactly what was wrong instead of branching from a leaf or a ghost
            raise ValueError(f"branch function {self.name} returned non-intermediate node ids {bad}")
        return picked


def load_function(path: str) -> ChooseFn:
    try:
        fn = resolve(path)
    except ValueError:
        raise ValueError(f"tree.strategy_fn must look like 'package.module:function', got {path!r}") from None
    if not callable(fn):
        raise ValueError(f"tree.strategy_fn {path!r} is not a callable")
    return fn


def uniform_strategy(function_path: str = "") -> BranchStrategy:
    return UniformDepth()


def entropy_strategy(function_path: str = "") -> BranchStrategy:
    return MaxEntropy()


def function_strategy(function_path: str = "") -> BranchStrategy:
    return FunctionStrategy(load_function(function_path), name=function_path)


# tree.strategy -> factory `(strategy_fn) -> BranchStrategy` (medaction/registry.py)
STRATEGIES: Registry[Callable[[str], BranchStrategy]] = Registry("tree.strategy", {
    "uniform": "medaction.tree.branching:uniform_strategy",
    "entropy": "medaction.tree.branching:entropy_strategy",
    "function": "medaction.tree.branching:function_strategy",
})


def build_strategy(name: str, function_path: str = "") -> BranchStrategy:
    return STRATEGIES.get(name)(function_path)
