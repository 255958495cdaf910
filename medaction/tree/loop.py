"""THE turn loop (paper 3.3 Stage 2), pure Python, no Ray: state -> prompt -> completion -> turn -> oracle -> state.

Pieces, each usable on its own so the engine, the RL env and `rollout` share one copy of the logic:
- `initial_state(env)`, `build_messages(state)`: the prompt of the next turn (policies/context.py lays it out).
- `apply_turn(state, turn, replies)`: pure state transition; decides the stop reason.
- `advance(state, text, oracle)`: sync convenience (parse, ask the oracle, apply) without retries.
- `run_turn(state, policy, answer, ...)`: one async turn with the repair retry and error handling.
- `rollout(env, policy, ...)`: a whole root line as a Trajectory.

Turn rules (documented decisions):
- A turn with a final diagnosis stops the line ("final"); tests it also lists are not sent to the oracle.
- A turn that is unparseable, or parses but neither orders tests nor commits (e.g. a differential only), gets ONE
  repair retry with a short corrective message; if the retry is still unusable the line stops "parse_failed" and
  the node's turn is marked parse="failed" (so no trainer uses it).
- A reply cut at the token limit (the completion's finish_reason "length") is never parsed as complete: the turn is
  marked truncated (parse="failed") and gets the repair retry asking for a shorter reply; a retry cut again stops
  the line "truncated". `usage.truncated` counts the cut calls of a turn. Separate reasoning (reasoning_content, a
  <think> block) is the turn's reasoning (policies/parsing/reasoning.py says where it goes in the stored text).
- The last turn must commit: a last turn that orders tests gets the repair retry; if it still does not commit, the
  line stops "max_turns" and its tests are not sent to the oracle.
- Policy exceptions -> "policy_error", TimeoutError -> "timeout", with the error text on the outcome; the failed
  call produces no turn (outcome.turn is None). Exceptions of `answer` (the oracle, our own code) propagate.
- The node records the ORIGINAL prompt even when the repair retry produced its turn (usage.repaired says so): the
  SFT unit is (prompt of turn t, usable turn t).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import msgspec

from medaction.envs.types import Environment, OracleReply
from medaction.policies.base import Policy
from medaction.policies.context import Problem, build_context, reasoning_block, repair_messages
from medaction.policies.parsing.parser import parse_turn
from medaction.policies.parsing.reasoning import completion_turn
from medaction.policies.types import Completion, Message, Mode, SamplingParams, Turn
from medaction.tree.seeds import node_seed
from medaction.tree.tree import first_step, make_trajectory, node_id, root_line, tree_id_for
from medaction.tree.types import Node, StopReason, Trajectory, Usage

AnswerFn = Callable[[Sequence[str]], Awaitable[list[OracleReply]]]
ERROR_CHARS = 500


class Answerer(Protocol):
    """What `advance`/`rollout` need of an oracle (envs.oracle.Oracle satisfies it)."""

    def answer(self, requests: Sequence[str]) -> list[OracleReply]: ...


class RecordEntry(msgspec.Struct, frozen=True, kw_only=True):
    turn: int  # 1-based turn that ordered the test
    request: str
    reply: OracleReply


class RolloutState(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the next prompt depends on. A branch restarts from any node's post-turn state."""

    case_id: str
    o1: str
    max_turns: int = 8
    mode: Mode = "structured"
    turn: int = 0  # completed turns
    record: tuple[RecordEntry, ...] = ()  # every test ordered so far with its reply, in order
    reasoning: tuple[str, ...] = ()  # one block per completed turn; prompts show the last two
    done: bool = False
    stop: StopReason | None = None
    final_diagnosis: str | None = None


class TurnOutcome(msgspec.Struct, frozen=True, kw_only=True):
    turn: Turn | None  # None when a call failed (policy_error / timeout): no node is recorded then
    depth: int  # 1-based turn number of this turn
    replies: tuple[OracleReply, ...]
    messages: tuple[Message, ...]  # the prompt of this turn (before any repair exchange)
    usage: Usage
    state: RolloutState  # the state after this turn
    stop: StopReason | None
    error: str = ""


def initial_state(env: Environment, *, max_turns: int = 8, mode: Mode = "structured") -> RolloutState:
    if max_turns < 1:
        raise ValueError(f"max_turns must be >= 1, got {max_turns}")
    if mode not in ("structured", "free"):
        raise ValueError(f"mode must be 'structured' or 'free', got {mode!r}")
    return RolloutState(case_id=env.case_id, o1=env.initial_observation, max_turns=max_turns, mode=mode)


def build_messages(state: RolloutState) -> tuple[Message, ...]:
    """The exact prompt of the next turn (turn state.turn + 1)."""
    if state.done:
        raise ValueError(f"case {state.case_id}: the rollout is done ({state.stop}); there is no next prompt")
    return build_context(
        o1=state.o1,
        record=[(e.turn, e.reply) for e in state.record],
        reasoning=state.reasoning,
        turn=state.turn + 1,
        max_turns=state.max_turns,
        mode=state.mode,
    )


def problem_of(state: RolloutState, turn: Turn) -> Problem | None:
    """Why a turn cannot be used as it is, or None. A final diagnosis is usable unless the reply was cut."""
    if turn.truncated:
        return "truncated"
    if turn.final_diagnosis:
        return None
    if turn.parse == "failed":
        return "no_json"
    if state.turn + 1 >= state.max_turns:
        return "must_commit"
    if not turn.tests:
        return "no_action"
    return None


def tests_to_send(state: RolloutState, turn: Turn) -> tuple[str, ...]:
    """The tests the oracle must answer for this turn: none when it commits or is unusable."""
    if problem_of(state, turn) is not None or turn.final_diagnosis:
        return ()
    return turn.tests


def apply_turn(state: RolloutState, turn: Turn, replies: Sequence[OracleReply]) -> RolloutState:
    """Pure transition: append the replies to the record and the turn's reasoning; set done/stop."""
    if state.done:
        raise ValueError(f"case {state.case_id}: cannot apply a turn to a finished rollout ({state.stop})")
    n = state.turn + 1
    problem = problem_of(state, turn)
    stop: StopReason | None
    if problem == "truncated":
        stop = "truncated"
    elif turn.final_diagnosis:
        stop = "final"
    elif problem == "must_commit":
        stop = "max_turns"
    elif problem is not None:
        stop = "parse_failed"
    elif n >= state.max_turns:
        stop = "max_turns"
    else:
        stop = None
    return msgspec.structs.replace(
        state,
        turn=n,
        record=state.record + tuple(RecordEntry(turn=n, request=r.request, reply=r) for r in replies),
        reasoning=state.reasoning + (reasoning_block(turn),),
        done=stop is not None,
        stop=stop,
        final_diagnosis=turn.final_diagnosis if stop == "final" else None,
    )


def _finalise(state: RolloutState, turn: Turn) -> Turn:
    """Mark an unusable turn failed so that no trainer uses it."""
    problem = problem_of(state, turn)
    if problem in ("no_json", "no_action") and turn.parse != "failed":
        return msgspec.structs.replace(turn, parse="failed")
    return turn


def advance(
    state: RolloutState, completion_text: str, oracle: Answerer
) -> tuple[Turn, tuple[OracleReply, ...], RolloutState]:
    """Sync step without a repair retry: parse, ask the oracle for the tests (if any are due), apply."""
    turn = _finalise(state, parse_turn(completion_text, mode=state.mode))
    requests = tests_to_send(state, turn)
    replies = tuple(oracle.answer(list(requests))) if requests else ()
    return turn, replies, apply_turn(state, turn, replies)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]


class _Calls:
    """Token and time totals over the (at most two) policy calls of one turn."""

    def __init__(self) -> None:
        self.prompt = self.completion = self.cached = self.truncated = 0
        self.llm_s = 0.0

    async def complete(
        self, policy: Policy, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams,
        timeout_s: float | None,
    ) -> Completion:
        t0 = time.perf_counter()
        try:
            call = policy.complete(messages, session=session, seed=seed, params=params)
            comp = await (asyncio.wait_for(call, timeout_s) if timeout_s else call)
        finally:
            self.llm_s += time.perf_counter() - t0
        self.prompt += comp.prompt_tokens
        self.completion += comp.completion_tokens
        self.cached += comp.cached_tokens
        self.truncated += comp.finish_reason == "length"
        return comp

    def usage(self, *, oracle_s: float = 0.0, repaired: bool = False) -> Usage:
        return Usage(prompt_tokens=self.prompt, completion_tokens=self.completion, cached_tokens=self.cached,
                     llm_s=self.llm_s, oracle_s=oracle_s, repaired=repaired, truncated=self.truncated)


async def run_turn(
    state: RolloutState,
    policy: Policy,
    answer: AnswerFn,
    *,
    seed: int,
    params: SamplingParams = SamplingParams(),
    session: str | None = None,
    timeout_s: float | None = None,
) -> TurnOutcome:
    """One turn: prompt, complete (+ one repair retry), parse, oracle, new state. Never raises for policy failures."""
    messages = build_messages(state)
    session = state.case_id if session is None else session
    calls = _Calls()
    repaired = False

    def stopped(stop: StopReason, exc: BaseException) -> TurnOutcome:
        new = msgspec.structs.replace(state, done=True, stop=stop)
        return TurnOutcome(turn=None, depth=state.turn + 1, replies=(), messages=messages,
                           usage=calls.usage(repaired=repaired), state=new, stop=stop, error=_error_text(exc))

    try:
        comp = await calls.complete(policy, messages, session=session, seed=seed, params=params, timeout_s=timeout_s)
        turn = completion_turn(comp, mode=state.mode)
        problem = problem_of(state, turn)
        if problem is not None:
            repaired = True
            retry = repair_messages(messages, comp.text, problem)
            comp = await calls.complete(policy, retry, session=session, seed=seed, params=params, timeout_s=timeout_s)
            turn = completion_turn(comp, mode=state.mode)
    except (TimeoutError, asyncio.TimeoutError) as exc:
        return stopped("timeout", exc)
    except Exception as exc:  # noqa: BLE001 - any backend failure ends this line, never the run
        return stopped("policy_error", exc)
    turn = _finalise(state, turn)
    requests = tests_to_send(state, turn)
    replies: tuple[OracleReply, ...] = ()
    oracle_s = 0.0
    if requests:
        t0 = time.perf_counter()
        try:
            replies = tuple(await answer(requests))
        except (TimeoutError, asyncio.TimeoutError) as exc:
            return stopped("timeout", exc)
        oracle_s = time.perf_counter() - t0
    new = apply_turn(state, turn, replies)
    return TurnOutcome(turn=turn, depth=state.turn + 1, replies=replies, messages=messages,
                       usage=calls.usage(oracle_s=oracle_s, repaired=repaired), state=new, stop=new.stop)


def make_node(
    outcome: TurnOutcome, *, tree_id: str, node_id: str, parent_id: str | None, policy_id: str, seed: int
) -> Node:
    """The tree node of a completed turn (requires outcome.turn)."""
    if outcome.turn is None:
        raise ValueError(f"node {node_id}: the policy produced no turn ({outcome.stop}: {outcome.error})")
    return Node(tree_id=tree_id, node_id=node_id, parent_id=parent_id, depth=outcome.depth, policy_id=policy_id,
                seed=seed, turn=outcome.turn, replies=outcome.replies, messages=outcome.messages,
                mode=outcome.state.mode, usage=outcome.usage)


def oracle_answer(oracle: Answerer) -> AnswerFn:
    """Wrap a sync oracle as the async `answer` callable of run_turn."""

    async def answer(requests: Sequence[str]) -> list[OracleReply]:
        return list(oracle.answer(list(requests)))

    return answer


async def rollout(
    env: Environment,
    policy: Policy,
    *,
    max_turns: int = 8,
    seed: int = 0,
    mode: Mode = "structured",
    params: SamplingParams = SamplingParams(),
    policy_id: str = "policy",
    oracle: Answerer | None = None,
    root_index: int = 0,
    timeout_s: float | None = None,
) -> Trajectory:
    """One root line from o1 to a stop. Node ids and seeds follow tree/tree.py and tree/seeds.py (run seed = seed)."""
    if oracle is None:
        from medaction.envs.oracle import Oracle  # envs is a lower layer; imported here to keep loop import light

        oracle = Oracle(env)
    answer = oracle_answer(oracle)
    state = initial_state(env, max_turns=max_turns, mode=mode)
    tree_id = tree_id_for(env.case_id, policy_id)
    line = root_line(root_index)
    step = first_step(line)
    nodes: list[Node] = []
    parent: str | None = None
    error = ""
    while not state.done:
        nid = node_id(line, step)
        nseed = node_seed(seed, env.case_id, policy_id, nid)
        out = await run_turn(state, policy, answer, seed=nseed, params=params, session=env.case_id,
                             timeout_s=timeout_s)
        if out.turn is not None:
            nodes.append(make_node(out, tree_id=tree_id, node_id=nid, parent_id=parent, policy_id=policy_id,
                                   seed=nseed))
            parent = nid
        state, error = out.state, out.error
        step += 1
    stop: StopReason = state.stop or "max_turns"  # done implies a stop; the fallback only satisfies the type
    return make_trajectory(case_id=env.case_id, policy_id=policy_id, tree_id=tree_id, mode=mode, nodes=nodes,
                           stop=stop, error=error)
