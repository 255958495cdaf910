"""The engine driver: one asyncio loop that streams cases in, keeps every policy replica busy up to its in-flight
cap, and streams each finished trajectory to a scorer and each finished tree to the shard writer.

What runs where: this driver holds the TreeScheduler (pure logic) and the loop states of active trees only;
OracleActors host the active cases' environments; PolicyActors serve completions; ScorerActors turn trajectories
into shard rows; the ShardWriters (`output.writers`) write parquet + commit records + manifest. Rows go scorer -> writer
through the object store, never through the driver. Driver memory is bounded by `engine.max_active_trees`,
not by the number of cases: cases are read lazily from `iter_environments`. The job around it (checks before
Ray, the summary and the exit verdict) is engine/run_job.py.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, ObjectLostError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from medaction.actors.placement import group_options, release_groups
from medaction.actors.replicas import RemotePolicy, awaitable
from medaction.actors.router import NoLiveReplica
from medaction.actors.scorer import ScorerActor
from medaction.actors.writer import ShardWriter
from medaction.cache import cache_root
from medaction.engine import manifest as mf
from medaction.engine.config import RunConfig, cases_path, config_hash
from medaction.engine.errors import plain, root_cause
from medaction.engine.metrics import EngineMetrics
from medaction.engine.pools import OraclePool, TeacherPool, stable_index
from medaction.engine.summary import RunSummary
from medaction.envs.errors import RecordError, RejectLog
from medaction.envs.load import iter_environments
from medaction.envs.types import Environment
from medaction.outputs import RunFailed, UsageError
from medaction.storage import is_uri, resolve
from medaction.tree.branching import build_strategy
from medaction.tree.loop import RolloutState, initial_state, make_node, run_turn
from medaction.tree.mix import teaches_case
from medaction.tree.modes import choose_mode
from medaction.tree.scheduler import TreeScheduler, TreeSpec
from medaction.tree.tree import NodeTask, tree_id_for

log = logging.getLogger("medaction.engine")


class _Case(msgspec.Struct, kw_only=True):
    env_ref: Any
    open_trees: int


# A write whose rows died with a scorer's node (or whose reply was lost) is retried this many times in all.
_WRITE_ATTEMPTS = 3
_LOST_ROWS = (ActorUnavailableError, ActorDiedError, ObjectLostError)


_FAILED_STOPS = ("policy_error",)


class Driver:
    def __init__(self, cfg: RunConfig, out_dir: Path | str, *, resume: bool, progress: bool,
                 force_out: bool = False, cases: tuple[Iterator[Environment], RejectLog] | None = None) -> None:
        self.cfg = cfg
        self.out = out_dir
        self.hash = config_hash(cfg)
        mf.prepare_output(out_dir, self.hash, resume=resume, force_out=force_out)  # before any actor starts
        # The primary writer claims the output (manifest) before any other actor writes under it (the LLM oracle's
        # cache); the others (output.writers > 1) only write shards + commit records (actors/writer.py).
        o = cfg.output
        if o.writers == 1 and not o.resources and not o.spread:
            placement = [{"scheduling_strategy": NodeAffinitySchedulingStrategy(
                ray.get_runtime_context().get_node_id(), soft=False)}]
        else:
            placement = group_options(o.resources, o.spread, o.writers)
        self.writers = [ShardWriter.options(**placement[0]).remote(  # type: ignore[attr-defined]
            str(out_dir), self.hash, o.rows_per_shard, resume, force_out=force_out,
            retry_failed=cfg.engine.retry_failed)]
        self.writer = self.writers[0]
        try:
            ray.get(self.writer.done_trees.remote())
        except RayError as exc:
            ray.kill(self.writer)
            raise RunFailed(root_cause(exc)) from None
        self.writers += [ShardWriter.options(**placement[i]).remote(  # type: ignore[attr-defined]
            str(out_dir), self.hash, o.rows_per_shard, primary=False) for i in range(1, o.writers)]
        e = cfg.engine
        t = cfg.tree
        self.sched: TreeScheduler[RolloutState] = TreeScheduler(
            run_seed=cfg.seed, spec=TreeSpec(k=t.k, b=t.b, width=t.width, max_turns=t.max_turns),
            strategy=build_strategy(t.strategy, t.strategy_fn))
        self.pools = [TeacherPool(tc, max_restarts=e.max_restarts, queued=self.sched.queued) for tc in cfg.policies]
        self.oracles = OraclePool(cfg.oracle.actors, max_restarts=e.max_restarts, timeout_s=e.call_timeout_s,
                                  retries=e.call_retries, oracle=cfg.oracle, cache_dir=_oracle_cache(out_dir, self.hash))
        sc = cfg.scoring
        self.scorers = [ScorerActor.options(max_restarts=e.max_restarts, max_task_retries=2, **opts)  # type: ignore[attr-defined]
                        .remote(sc.name, sc.config or None, sc.fallback, run=self.hash)
                        for opts in group_options(sc.resources, sc.spread, max(1, sc.actors))]
        try:
            self.done: set[str] = set(ray.get(self.writer.done_trees.remote()))
            scorer = ray.get(self.scorers[0].describe.remote())
        except RayError as exc:
            self.shutdown()
            raise RunFailed(root_cause(exc)) from None
        self.scorer_name, self.scorer_fallback = scorer["scorer"], scorer.get("fallback", "")
        if self.scorer_fallback:
            log.warning("%s", self.scorer_fallback)
            print(f"medaction run: {self.scorer_fallback}", file=sys.stderr)
        slots = sum(p.cap * p.cfg.replicas for p in self.pools)
        self.max_active = e.max_active_trees or 4 * slots
        self.cases_path = cases_path(cfg)
        envs, self.rejects = cases or open_cases(cfg)
        self.envs = itertools.islice(envs, cfg.cases.limit) if cfg.cases.limit else envs
        self.exhausted = False
        self._turn = 0
        self.stolen = 0
        self.startup_s = 0.0
        self.cases: dict[str, _Case] = {}
        self.tree_rows: dict[str, list[Any]] = defaultdict(list)
        self.tree_inputs: dict[str, list[tuple[Any, Any]]] = defaultdict(list)  # (trajectory, env ref) per row
        self.write_inputs: dict[str, list[tuple[Any, Any]]] = {}  # kept until the tree's write is confirmed
        self.ready_at: dict[str, float] = {}
        self.pending_writes = 0
        self.metrics = EngineMetrics(run=self.hash)
        self.s = RunSummary(out_dir=str(out_dir), config_hash=self.hash, scorer=self.scorer_name, wall_s=0.0,
                            scorer_fallback=self.scorer_fallback)
        self.tree_failed: dict[str, str] = {}  # tree id -> root cause of its first failed trajectory
        self.failure_causes: dict[str, int] = defaultdict(int)
        self.stopping = False  # Ctrl-C: no new cases or nodes; finished trees are still written
        self.closing = False
        self.wake = asyncio.Event()
        self.fatal: BaseException | None = None
        self.bar = _bar(progress and e.progress_bar, cfg.cases.limit * len(self.pools) if cfg.cases.limit else None)

    # ---- admission: stream cases in while there is room ------------------------------------------------------
    def _admit(self) -> None:
        cfg = self.cfg
        while (not self.exhausted and self.sched.active_trees < self.max_active
               and self.pending_writes < cfg.output.max_pending_writes):
            try:
                env = next(self.envs, None)
            except RecordError as exc:  # cases.strict: the first bad record ends the run, naming it
                raise UsageError(f"cases.strict: {exc}") from None
            if env is None:
                self.exhausted = True
                # No tree will arrive any more: run the longest remaining chains first so the last-admitted trees
                # overlap with the draining ones instead of running alone in the tail.
                self.sched.set_priority(cfg.engine.tail_priority)
                return
            self.s.cases_seen += 1
            pools = [p for p in self.pools if teaches_case(cfg.seed, env.case_id, p.id, p.cfg.share)]
            todo = [p for p in pools if tree_id_for(env.case_id, p.id) not in self.done]
            self.s.trees_skipped += len(pools) - len(todo)
            if self.bar is not None and len(pools) > len(todo):
                self.bar.update(len(pools) - len(todo))
            if not todo:
                continue
            env_ref = ray.put(env)
            self.oracles.add(env.case_id, env_ref)
            self.cases[env.case_id] = _Case(env_ref=env_ref, open_trees=len(todo))
            for p in todo:
                # one mode per tree (its roots and branches share it), drawn like every other per-case decision
                mode = choose_mode(cfg.seed, env.case_id, p.id, 0, cfg.tree.free_share)
                root = initial_state(env, max_turns=cfg.tree.max_turns, mode=mode)
                tid = self.sched.add_tree(case_id=env.case_id, policy_id=p.id, root_state=root, lane=p.lane(env.case_id),
                                          mode=mode)
                self.ready_at[tid] = time.perf_counter()

    # ---- dispatch: fill every live replica up to its cap, deepest nodes first --------------------------------
    def _dispatch(self) -> None:
        self._turn += 1
        for p in self.pools:
            live = sorted(p.router.live)
            for i in range(len(live)):
                r = live[(i + self._turn) % len(live)]  # rotate who drains a shared queue first
                lane = (p.id, p.router.replica_lane(r))
                while p.in_flight[r] < p.cap:
                    item = self.sched.pop(lane)
                    if item is None and self.exhausted and self.cfg.engine.steal_tail:
                        item = self._steal(p, lane)
                    if item is None:
                        break
                    p.in_flight[r] += 1
                    asyncio.get_running_loop().create_task(self._run_node(p, r, *item))

    def _steal(self, p: TeacherPool, own: tuple[str, int]) -> tuple[NodeTask, RolloutState] | None:
        """Tail only (no cases left to admit): an idle replica takes a node from the longest queue of its teacher,
        giving up that node's cache locality instead of idling while another replica has a backlog."""
        item = self.sched.steal(own, [(p.id, p.router.replica_lane(r)) for r in p.router.live])
        if item is not None:
            self.stolen += 1
        return item

    async def _run_node(self, pool: TeacherPool, replica: int, task: NodeTask, state: RolloutState) -> None:
        e = self.cfg.engine
        t0 = time.perf_counter()
        queue_s = t0 - self.ready_at.get(task.tree_id, t0)
        call = RemotePolicy(pool.actors[replica], timeout_s=e.call_timeout_s, retries=e.call_retries)
        case = self.cases[task.case_id]
        out, error = None, ""
        try:
            out = await run_turn(state, call, self.oracles.answer_fn(task.case_id, case.env_ref), seed=task.seed,
                                 params=pool.params, session=task.case_id)
        except Exception as exc:  # noqa: BLE001 - the oracle failed past its retries: end this line, keep the run
            error = f"oracle: {root_cause(exc)}"
        finally:
            pool.in_flight[replica] -= 1
        try:
            if call.lost:
                self._replica_lost(pool, replica)
                self.sched.requeue(task, state)
                self.s.requeued_nodes += 1
                return
            pool.nodes[replica] += 1
            if out is None:
                res = self.sched.complete(task, None, state, "policy_error", error)
            else:
                node = None
                if out.turn is not None:
                    node = make_node(out, tree_id=task.tree_id, node_id=task.node_id, parent_id=task.parent_id,
                                     policy_id=task.policy_id, seed=task.seed)
                    if call.version:  # the weights version that produced this turn (docs/rl.md)
                        node = msgspec.structs.replace(node, policy_version=call.version)
                res = self.sched.complete(task, node, out.state, out.stop, out.error)
                u = out.usage
                self.metrics.node(prompt=u.prompt_tokens, completion=u.completion_tokens, cached=u.cached_tokens,
                                  llm_s=u.llm_s, oracle_s=u.oracle_s, queue_s=queue_s,
                                  node_s=time.perf_counter() - t0)
            self.ready_at[task.tree_id] = time.perf_counter()
            for fl in res.lines:
                self.metrics.trajectory(fl.trajectory.stop)
                if fl.trajectory.stop in ("policy_error", "timeout"):
                    cause = f"{fl.trajectory.stop}: {plain(fl.trajectory.error) or 'no detail'}"
                    self.failure_causes[cause] += 1
                    if fl.trajectory.stop in _FAILED_STOPS:
                        self.tree_failed.setdefault(fl.tree_id, cause)
                scorer = self.scorers[self.metrics.totals["trajectories"] % len(self.scorers)]
                self.metrics.totals["trajectories"] += 1
                self.tree_rows[fl.tree_id].append(self._score(scorer, fl.trajectory, case.env_ref))
                self.tree_inputs[fl.tree_id].append((fl.trajectory, case.env_ref))
            if res.tree_done:
                self._tree_done(pool, task)
        except BaseException as exc:  # a bug or a dead writer: stop the run loudly instead of hanging
            self.fatal = exc
        finally:
            self.wake.set()

    def _tree_done(self, pool: TeacherPool, task: NodeTask) -> None:
        refs = self.tree_rows.pop(task.tree_id, [])
        self.write_inputs[task.tree_id] = self.tree_inputs.pop(task.tree_id, [])
        self.ready_at.pop(task.tree_id, None)
        if self.closing:  # Ctrl-C: the writer is closed; this tree is not marked done and re-runs on resume
            return
        self.pending_writes += 1
        failed = self.tree_failed.pop(task.tree_id, "")
        self._sink(task.tree_id, refs, failed)
        self.metrics.tree()
        if failed:
            self.s.trees_failed += 1
        if self.bar is not None:
            self.bar.update(1)
        pool.router.release(task.case_id)
        case = self.cases[task.case_id]
        case.open_trees -= 1
        if case.open_trees == 0:
            self.oracles.drop(task.case_id)
            del self.cases[task.case_id]

    # ---- hooks (the RL rollout service, engine/rollout_service.py, overrides these three) --------------------------
    def _score(self, scorer: Any, trajectory: Any, env_ref: Any) -> Any:
        return scorer.score.remote(trajectory, env_ref)

    def _sink(self, tree_id: str, refs: list[Any], failed: str = "") -> None:
        """Hand a finished tree's rows to the shard writer (the rollout service overrides this: rows stay in memory).
        `failed` is the root cause when one of its trajectories hit a policy error."""
        writer = self.writers[stable_index(tree_id, len(self.writers))]  # a tree's rows go to one writer together
        ref = writer.write_tree.remote(tree_id, *refs, failed=failed)
        asyncio.get_running_loop().create_task(self._await_write(ref, tree_id, failed))

    def _flush(self) -> None:
        for w in self.writers:
            w.flush.remote()

    async def _await_write(self, ref: Any, tree_id: str = "", failed: str = "") -> None:
        """Wait for a tree's write. Rows lost with a scorer (its node died before the writer fetched them) are
        scored again on live scorers and the write re-sent (the writer ignores a tree it already took)."""
        try:
            for attempt in range(_WRITE_ATTEMPTS):
                try:
                    await ref
                    break
                except _LOST_ROWS as exc:
                    inputs = self.write_inputs.get(tree_id)
                    if attempt == _WRITE_ATTEMPTS - 1 or not inputs:
                        raise
                    log.warning("tree %s: rows lost (%s); scoring them again", tree_id, root_cause(exc))
                    self.metrics.failure("rows_rescored")
                    refs = [self._score(self.scorers[(i + attempt + 1) % len(self.scorers)], t, e)
                            for i, (t, e) in enumerate(inputs)]
                    writer = self.writers[stable_index(tree_id, len(self.writers))]
                    ref = writer.write_tree.remote(tree_id, *refs, failed=failed)
        except BaseException as exc:  # noqa: BLE001
            self.fatal = exc
        finally:
            self.write_inputs.pop(tree_id, None)
            self.pending_writes -= 1
            self.wake.set()

    # ---- failures ---------------------------------------------------------------------------------------------
    def _replica_lost(self, pool: TeacherPool, replica: int) -> None:
        if replica not in pool.router.live:
            return  # another node on it already reported the death
        pool.deaths += 1
        self.metrics.failure("replica_death")
        log.warning("teacher %s replica %d died; moving its cases to live replicas", pool.id, replica)
        try:
            for lane in pool.router.mark_dead(replica):
                self.sched.relane((pool.id, lane), pool.lane)
        except NoLiveReplica:
            self.fatal = RunFailed(f"teacher {pool.id}: every replica is dead; rerun with --resume")
            raise self.fatal from None

    async def _health(self) -> None:
        """Revive replicas that Ray restarted (max_restarts): they take new cases again."""
        while True:
            await asyncio.sleep(self.cfg.engine.health_every_s)
            for p in self.pools:
                for r in set(range(len(p.actors))) - p.router.live:
                    try:
                        await asyncio.wait_for(awaitable(p.actors[r].ping.remote()), 2.0)
                    except Exception:  # noqa: BLE001 - still down
                        continue
                    p.router.revive(r)
                    log.warning("teacher %s replica %d is back", p.id, r)

    # ---- main loop --------------------------------------------------------------------------------------------
    def ready(self) -> float:
        """Wait until every actor is up; returns the seconds it took (startup is not scheduling overhead)."""
        t0 = time.perf_counter()
        for p in self.pools:
            try:
                p.ready()
            except RayError as exc:
                raise RunFailed(f"teacher {p.id} (backend {p.cfg.backend}): a replica could not start: "
                                f"{root_cause(exc)}") from None
        self.oracles.ready()
        return time.perf_counter() - t0

    def interrupt(self) -> None:
        """First Ctrl-C: stop taking work, write what is finished. A second one aborts (default handler)."""
        self.stopping = True
        log.warning("interrupted: no new work; writing finished trees (Ctrl-C again to abort)")
        with _suppress():
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        self.wake.set()

    async def run(self) -> RunSummary:
        loop = asyncio.get_running_loop()
        with _suppress():  # only the main thread may handle signals (tests run the driver in a thread)
            loop.add_signal_handler(signal.SIGINT, self.interrupt)
        self.startup_s = self.ready()
        t0 = time.perf_counter()
        await self._loop(t0)
        self.closing = True
        others = tuple(ray.get([w.close_secondary.remote() for w in self.writers[1:]]))  # before the manifest
        info = ray.get(self.writer.close.remote(not self.stopping, others))
        s = self._summary(time.perf_counter() - t0, info)
        s.interrupted = self.stopping
        return s

    async def _loop(self, t0: float) -> None:
        """Admit, dispatch and wait until every admitted tree is written (or a fatal error, or Ctrl-C)."""
        loop = asyncio.get_running_loop()
        last_log = last_flush = t0
        stop_deadline = float("inf")
        health = loop.create_task(self._health())
        try:
            while True:
                if self.fatal is not None:
                    if isinstance(self.fatal, RayError):
                        raise RunFailed(f"the shard writer failed: {root_cause(self.fatal)}") from None
                    raise self.fatal
                if self.stopping:
                    # finished trees may still be in the scorers or the writer's queue: wait for those only
                    stop_deadline = min(stop_deadline, time.perf_counter() + 120.0)
                    if self.pending_writes == 0 or time.perf_counter() > stop_deadline:
                        break
                else:
                    self._admit()
                    self._dispatch()
                running = sum(sum(p.in_flight) for p in self.pools)
                if (self.exhausted and self.sched.active_trees == 0 and running == 0 and self.pending_writes == 0):
                    break
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
                now = time.perf_counter()
                if now - last_log >= self.cfg.engine.progress_every_s:
                    last_log = now
                    self._progress(now - t0, running)
                if now - last_flush >= self.cfg.engine.flush_every_s:
                    last_flush = now
                    self._flush()
        finally:
            health.cancel()
            with _suppress():
                loop.remove_signal_handler(signal.SIGINT)
            if self.bar is not None:
                self.bar.close()

    def _progress(self, elapsed: float, running: int) -> None:
        loads = {(p.id, r): p.in_flight[r] for p in self.pools for r in range(len(p.actors))}
        queues = {(p.id, r): self.sched.queued((p.id, p.router.replica_lane(r))) for p in self.pools
                  for r in range(len(p.actors))}
        self.metrics.gauges(trees=self.sched.active_trees, nodes=running, loads=loads, queues=queues)
        m = self.metrics.totals
        log.info("%.0fs cases=%d trees done=%d active=%d skipped=%d nodes=%d (%.1f/s) in-flight=%d queued=%d "
                 "writes pending=%d failures=%s", elapsed, self.s.cases_seen, m["trees"], self.sched.active_trees,
                 self.s.trees_skipped, m["nodes"], m["nodes"] / max(elapsed, 1e-9), running, self.sched.queued(),
                 self.pending_writes, dict(self.metrics.fail_reasons) or "none")

    def _summary(self, wall: float, info: dict[str, Any]) -> RunSummary:
        m, s = self.metrics, self.s
        s.wall_s, s.startup_s = wall, self.startup_s
        s.trees_done = m.totals["trees"]
        s.trajectories = m.totals["trajectories"]
        s.nodes = m.totals["nodes"]
        s.stops = dict(m.stops)
        s.failures = dict(m.fail_reasons)
        s.prompt_tokens, s.completion_tokens, s.cached_tokens = (
            m.totals["prompt_tokens"], m.totals["completion_tokens"], m.totals["cached_tokens"])
        s.llm_s, s.oracle_s, s.queue_s = m.time_sum["llm"], m.time_sum["oracle"], m.time_sum["queue"]
        s.replica_nodes = {f"{p.id}/{r}": n for p in self.pools for r, n in enumerate(p.nodes)}
        s.replica_deaths = sum(p.deaths for p in self.pools)
        s.stolen_nodes = self.stolen
        s.oracle = self.oracles.counts()
        s.scoring = info.get("scoring", {})
        s.shards, s.rows, s.complete = info["shards"], info["rows"], not self.stopping
        s.records_rejected = self.rejects.count
        reasons: dict[str, int] = defaultdict(int)
        for r in self.rejects.rejects:
            reasons[plain(f"{r.field}: {r.reason}")[:120]] += 1
        s.reject_reasons = dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:20])
        if self.rejects.rejects:
            r = self.rejects.rejects[0]
            s.first_reject = plain(f"{r.file}: {r.where}: field {r.field!r}: {r.reason}")
        s.failure_causes = dict(sorted(self.failure_causes.items(), key=lambda kv: -kv[1])[:20])
        s.shards_invalid = list(info.get("shards_invalid", []))
        s.orphans_moved = list(info.get("orphans_removed", []))
        s.trees_retried = len(info.get("trees_retried", []))
        self._stickiness(s)
        return s

    def _stickiness(self, s: RunSummary) -> None:
        """Ask the replicas which cases they served (dead ones cannot answer and are left out)."""
        for p in self.pools:
            seen: dict[str, int] = defaultdict(int)
            for r, a in enumerate(p.actors):
                try:
                    sessions = ray.get(a.sessions.remote(), timeout=10)
                except Exception:  # noqa: BLE001 - a dead replica
                    continue
                s.replica_sessions[f"{p.id}/{r}"] = len(sessions)
                for case in sessions:
                    seen[case] += 1
            s.sessions_split += sum(1 for n in seen.values() if n > 1)

    def shutdown(self) -> None:
        for a in [*(a for p in self.pools for a in p.actors), *self.oracles.actors, *self.scorers,
                  *getattr(self, "writers", [])]:
            ray.kill(a)
        release_groups()


def _oracle_cache(out_dir: Path | str, run_hash: str) -> str:
    """Where the LLM oracle keeps its answers: under a local --out; in the local cache for an object-store --out."""
    if is_uri(str(out_dir)) and not resolve(out_dir).is_local:
        return str(cache_root() / "oracle" / run_hash)
    return str(resolve(out_dir).join("oracle_cache").path)


def _suppress() -> Any:
    import contextlib

    return contextlib.suppress(ValueError, RuntimeError, NotImplementedError)


def _bar(enabled: bool, total: int | None) -> Any:
    if not enabled or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="tree", desc="trees", file=sys.stderr)


def open_cases(cfg: RunConfig) -> tuple[Iterator[Environment], RejectLog]:
    rejects = RejectLog()
    return iter_environments(cfg.cases.source, cases_path(cfg), strict=cfg.cases.strict, rejects=rejects), rejects
