"""The engine as an on-policy rollout service for RL trainers (docs/rl.md, "Rollout API").

`RolloutService(policy)` starts (or attaches to) policy actors, oracle actors and scorer actors ONCE and keeps them
across calls; each `rollout(cases, group_size=G, ...)` runs the engine's own driver loop (engine/driver.py: the same
admission, dispatch, TreeScheduler, turn loop, oracle and scorer actors as `medaction run`) with an in-memory sink
instead of the shard writer, and returns one scored group per case: G root trajectories (plus branches when
`branches > 0`), each with its shard row, its per-turn and terminal rewards (scoring/rewards.py, computed in the
scorer actors from the same scoring as the SFT rows) and the weights version of every turn. `astream` yields the
groups as their trees finish. `update_weights(path)` pushes a LoRA adapter or full weights to the live actors
(policies/backends/weights.py) without restarting anything; the lag between the caller's trainer step and the versions
that produced a batch is reported per group and per batch.

Usable without the CLI: `from medaction.engine.rollout_service import RolloutService`.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

import msgspec
import ray

from medaction.actors.policy import start_policy_actors
from medaction.actors.replicas import awaitable
from medaction.actors.router import build_router
from medaction.actors.scorer import ScorerActor
from medaction.engine.config import EngineConfig, OutputConfig, RunConfig, ScoringConfig, TeacherConfig, TreeConfig
from medaction.engine.driver import Driver
from medaction.engine.run_job import ensure_ray
from medaction.engine.metrics import EngineMetrics
from medaction.engine.pools import OraclePool, TeacherPool
from medaction.engine.summary import RunSummary
from medaction.envs.types import Environment
from medaction.policies.types import Message, Mode, SamplingParams
from medaction.policies.backends.weights import WeightKind, WeightUpdate
from medaction.scoring.rewards import RewardBreakdown, RewardConfig, reward_config
from medaction.scoring.rows import from_row
from medaction.scoring.types import ScoredTrajectory
from medaction.tree.branching import build_strategy
from medaction.tree.scheduler import TreeScheduler, TreeSpec


class PolicyHandle(msgspec.Struct, kw_only=True):
    """Running PolicyActors (e.g. started by a trainer next to its GPUs) the service should use instead of its own."""

    actors: list[Any]
    id: str = "policy"
    max_concurrency: int = 8


class RolloutTrajectory(msgspec.Struct, frozen=True, kw_only=True):
    scored: ScoredTrajectory  # trajectory (every node: prompt, turn, replies, policy_version) + DTC/RAC/verdict
    rewards: RewardBreakdown  # per-turn rewards, terminal reward, total
    row: dict[str, Any]  # the shard row (scoring/rows.py SCHEMA), ready for rows.to_table

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(n.policy_version for n in self.scored.trajectory.nodes)


class RolloutGroup(msgspec.Struct, frozen=True, kw_only=True):
    """One case's tree: `group_size` root trajectories (+ branches), in node-id order."""

    case_id: str
    tree_id: str
    policy_id: str
    trajectories: tuple[RolloutTrajectory, ...]
    lag: int | None = None  # trainer_step - the oldest version that produced a turn of this group

    @property
    def returns(self) -> list[float]:
        return [t.rewards.total for t in self.trajectories]


class RolloutBatch(msgspec.Struct, frozen=True, kw_only=True):
    groups: tuple[RolloutGroup, ...]
    stats: dict[str, Any]  # wall_s, nodes, tokens, stops, versions seen, lag, retried requests

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [t.row for g in self.groups for t in g.trajectories]


class _AttachedPool(TeacherPool):
    """A TeacherPool over actors someone else started (a PolicyHandle)."""

    def __init__(self, handle: PolicyHandle, queued: Any) -> None:  # noqa: D107 - no super(): it starts actors
        self.id = handle.id
        self.cfg = TeacherConfig(id=handle.id, backend="attached", replicas=len(handle.actors),
                                 max_concurrency=handle.max_concurrency)
        self.cap = handle.max_concurrency
        self.params = SamplingParams()
        self.actors = list(handle.actors)
        self.in_flight = [0] * len(self.actors)
        self.router = build_router("sticky", len(self.actors), lambda r: self.in_flight[r] + queued((self.id, r)))
        self.nodes = [0] * len(self.actors)
        self.deaths = 0


class _RolloutDriver(Driver):
    """One rollout call on the service's long-lived actors: the Driver's loop with an in-memory sink."""

    def __init__(self, svc: RolloutService, cfg: RunConfig, cases: Iterable[Environment],
                 out: asyncio.Queue[RolloutGroup | None], trainer_step: int | None) -> None:  # noqa: D107
        self.cfg = cfg
        self.hash = "rollout"
        t = cfg.tree
        self.sched = TreeScheduler(run_seed=cfg.seed, spec=TreeSpec(k=t.k, b=t.b, width=t.width,
                                                                     max_turns=t.max_turns),
                                   strategy=build_strategy(t.strategy, t.strategy_fn))
        svc._sched = self.sched
        self.pools = [svc.pool]
        self.oracles, self.scorers, self.writer = svc.oracles, svc.scorers, None
        self.done = set()
        self.scorer_name = svc.scorer_name
        self.max_active = cfg.engine.max_active_trees or 4 * svc.pool.cap * len(svc.pool.actors)
        self.envs = iter(cases)
        self.exhausted = False
        self._turn = 0
        self.stolen = 0
        self.startup_s = 0.0
        self.cases = {}
        self.tree_rows = defaultdict(list)
        self.tree_inputs = defaultdict(list)
        self.write_inputs = {}
        self.ready_at = {}
        self.pending_writes = 0
        self.metrics = svc.metrics
        self.s = RunSummary(out_dir="", config_hash=self.hash, scorer=self.scorer_name, wall_s=0.0)
        self.wake = asyncio.Event()
        self.fatal = None
        self.bar = None
        # state the Driver's run-safety code reads (failure accounting, Ctrl-C); a rollout call has no files
        self.out, self.cases_path, self.scorer_fallback = None, None, ""
        self.tree_failed: dict[str, str] = {}
        self.failure_causes: dict[str, int] = defaultdict(int)
        self.stopping = self.closing = False
        self.rewards = svc.rewards
        self.out = out
        self.trainer_step = trainer_step

    def _score(self, scorer: Any, trajectory: Any, env_ref: Any) -> Any:
        return scorer.score_rl.remote(trajectory, env_ref, self.rewards)

    def _sink(self, tree_id: str, refs: list[Any], failed: str = "") -> None:
        asyncio.get_running_loop().create_task(self._collect(tree_id, refs))

    def _flush(self) -> None:
        pass

    async def _collect(self, tree_id: str, refs: list[Any]) -> None:
        try:
            parts = await asyncio.gather(*refs)
            trajs = sorted((RolloutTrajectory(scored=from_row(row), rewards=rw, row=row) for row, rw in parts),
                           key=lambda t: t.row["path"])
            policy_id, _, case_id = tree_id.partition("::")
            versions = [v for t in trajs for v in t.versions]
            lag = (self.trainer_step - min(versions)) if (self.trainer_step is not None and versions) else None
            await self.out.put(RolloutGroup(case_id=case_id, tree_id=tree_id, policy_id=policy_id,
                                            trajectories=tuple(trajs), lag=lag))
        except BaseException as exc:  # noqa: BLE001 - a dead scorer: stop the call loudly
            self.fatal = exc
        finally:
            self.write_inputs.pop(tree_id, None)
            self.pending_writes -= 1
            self.wake.set()


class RolloutService:
    """Long-lived policy/oracle/scorer actors + one engine loop per call. Not re-entrant: one call at a time."""

    def __init__(
        self,
        policy: TeacherConfig | PolicyHandle | dict[str, Any],
        *,
        scoring: ScoringConfig | dict[str, Any] = ScoringConfig(),
        rewards: RewardConfig | dict[str, Any] | None = None,
        oracle_actors: int = 1,
        engine: EngineConfig | dict[str, Any] = EngineConfig(progress_bar=False),
        on_inflight: str = "finish",
    ) -> None:
        if on_inflight not in ("finish", "retry"):
            raise ValueError(f"on_inflight must be 'finish' or 'retry', got {on_inflight!r}")
        ensure_ray()
        self.engine = msgspec.convert(engine, EngineConfig) if isinstance(engine, dict) else engine
        self.scoring = msgspec.convert(scoring, ScoringConfig) if isinstance(scoring, dict) else scoring
        self.rewards = reward_config(rewards)
        self.on_inflight = on_inflight
        self._sched: TreeScheduler[Any] | None = None
        e = self.engine

        def queued(lane: Any) -> int:
            return self._sched.queued(lane) if self._sched is not None else 0

        self._own_policy = not isinstance(policy, PolicyHandle)
        if isinstance(policy, PolicyHandle):
            self.pool: TeacherPool = _AttachedPool(policy, queued)
        else:
            tc = msgspec.convert(policy, TeacherConfig) if isinstance(policy, dict) else policy
            tc = msgspec.structs.replace(tc, share=1.0)  # a rollout call serves every case it is given
            self.pool = TeacherPool(tc, max_restarts=e.max_restarts, queued=queued)
        self.oracles = OraclePool(oracle_actors, max_restarts=e.max_restarts, timeout_s=e.call_timeout_s,
                                  retries=e.call_retries)
        sc = self.scoring
        self.scorers = [ScorerActor.options(max_restarts=e.max_restarts, max_task_retries=2)  # type: ignore[attr-defined]
                        .remote(sc.name, sc.config or None, sc.fallback) for _ in range(max(1, sc.actors))]
        self.scorer_name = ray.get(self.scorers[0].describe.remote())["scorer"]
        self.metrics = EngineMetrics(run="rollout-service")
        self.published = max(ray.get([a.ping.remote() for a in self.pool.actors]), key=lambda p: p["version"])[
            "version"]
        self.oracles.ready()
        self._last_update: WeightUpdate | None = None
        self._busy = False
        self.calls = 0

    # ---- weights --------------------------------------------------------------------------------------------
    @property
    def actors(self) -> list[Any]:
        return list(self.pool.actors)

    def handle(self) -> PolicyHandle:
        return PolicyHandle(actors=self.actors, id=self.pool.id, max_concurrency=self.pool.cap)

    def update_weights(self, path: str, *, version: int | None = None, kind: WeightKind = "lora",
                       on_inflight: str | None = None) -> list[dict[str, Any]]:
        """Push new weights to every replica (blocking; safe to call from another thread during a rollout).
        Returns one record per replica (version, waited_s, load_s). The version defaults to published + 1."""
        upd = WeightUpdate(version=self.published + 1 if version is None else version, path=str(path), kind=kind)
        recs = ray.get([a.load_weights.remote(upd, on_inflight or self.on_inflight) for a in self.pool.actors])
        self.published, self._last_update = upd.version, upd
        return recs

    async def aupdate_weights(self, path: str, *, version: int | None = None, kind: WeightKind = "lora",
                              on_inflight: str | None = None) -> list[dict[str, Any]]:
        """`update_weights` for callers on an event loop (e.g. between `astream` groups)."""
        upd = WeightUpdate(version=self.published + 1 if version is None else version, path=str(path), kind=kind)
        recs = await asyncio.gather(*[awaitable(a.load_weights.remote(upd, on_inflight or self.on_inflight))
                                      for a in self.pool.actors])
        self.published, self._last_update = upd.version, upd
        return list(recs)

    def _ensure_versions(self) -> None:
        """A replica Ray restarted comes back on its start-up weights: give it the last update again."""
        if self._last_update is None:
            return
        for a in self.pool.actors:
            try:
                v = ray.get(a.ping.remote(), timeout=30)["version"]
            except Exception:  # noqa: BLE001 - dead: the driver's health check handles it
                continue
            if v < self._last_update.version:
                ray.get(a.load_weights.remote(self._last_update, "finish"))

    # ---- rollouts -------------------------------------------------------------------------------------------
    def _run_config(self, *, group_size: int, branches: int, width: int, strategy: str, max_turns: int, mode: Mode,
                    seed: int) -> RunConfig:
        tree = TreeConfig(k=group_size, b=branches, width=width, max_turns=max_turns, strategy=strategy,
                          free_share=1.0 if mode == "free" else 0.0)
        return RunConfig(seed=seed, tree=tree, policies=(self.pool.cfg,), engine=self.engine,
                         output=OutputConfig(max_pending_writes=1 << 30))

    async def astream(
        self, cases: Iterable[Environment], *, group_size: int = 4, params: SamplingParams = SamplingParams(),
        max_turns: int = 8, branches: int = 0, width: int = 1, strategy: str = "uniform",
        mode: Mode = "structured", seed: int = 0, trainer_step: int | None = None,
    ) -> AsyncIterator[RolloutGroup]:
        """Yield one scored group per case as its tree finishes. Case ids must be unique within a call."""
        if self._busy:
            raise RuntimeError("RolloutService: one rollout call at a time")
        self._busy = True
        try:
            self._ensure_versions()
            cfg = self._run_config(group_size=group_size, branches=branches, width=width, strategy=strategy,
                                   max_turns=max_turns, mode=mode, seed=seed)
            self.pool.params = params
            queue: asyncio.Queue[RolloutGroup | None] = asyncio.Queue()
            drv = _RolloutDriver(self, cfg, cases, queue, trainer_step)
            task = asyncio.get_running_loop().create_task(drv._loop(time.perf_counter()))
            task.add_done_callback(lambda _t: queue.put_nowait(None))
            while True:
                item = await queue.get()
                if item is None:
                    break
                yield item
            await task  # re-raises a fatal error of the loop
            while not queue.empty():
                left = queue.get_nowait()
                if left is not None:
                    yield left
        finally:
            self._busy = False
            self._sched = None
            self.calls += 1

    async def arollout(self, cases: Iterable[Environment], **kw: Any) -> RolloutBatch:
        t0 = time.perf_counter()
        before = dict(self.metrics.totals)
        retried0 = self._retried()
        groups = [g async for g in self.astream(cases, **kw)]
        return RolloutBatch(groups=tuple(sorted(groups, key=lambda g: g.case_id)),
                            stats=self._stats(groups, time.perf_counter() - t0, before, retried0,
                                              kw.get("trainer_step")))

    def rollout(self, cases: Iterable[Environment], **kw: Any) -> RolloutBatch:
        """Blocking form of `astream`: every group, sorted by case id, plus batch stats."""
        return asyncio.run(self.arollout(cases, **kw))

    def _retried(self) -> int:
        try:
            return sum(w["retried"] for w in ray.get([a.weights.remote() for a in self.pool.actors], timeout=30))
        except Exception:  # noqa: BLE001 - a dead replica: the count is then a lower bound
            return 0

    def _stats(self, groups: Sequence[RolloutGroup], wall: float, before: dict[str, int], retried0: int,
               trainer_step: int | None) -> dict[str, Any]:
        t = self.metrics.totals
        versions = sorted({v for g in groups for tr in g.trajectories for v in tr.versions})
        rets = [r for g in groups for r in g.returns]
        lags = [g.lag for g in groups if g.lag is not None]
        return {
            "wall_s": wall, "groups": len(groups), "trajectories": len(rets),
            "nodes": t["nodes"] - before.get("nodes", 0),
            "completion_tokens": t["completion_tokens"] - before.get("completion_tokens", 0),
            "prompt_tokens": t["prompt_tokens"] - before.get("prompt_tokens", 0),
            "versions": versions, "published_version": self.published,
            "trainer_step": trainer_step, "max_lag": max(lags) if lags else None,
            "mean_return": sum(rets) / len(rets) if rets else 0.0,
            "retried_requests": self._retried() - retried0,
        }

    def sample(self, messages: Sequence[Message], *, seed: int, params: SamplingParams = SamplingParams(),
               replica: int = 0) -> tuple[str, int]:
        """One completion outside any rollout (a probe for trainers): (text, weights version that produced it)."""
        comp, version = ray.get(self.pool.actors[replica].complete_versioned.remote(
            tuple(messages), "probe", seed, params))
        return comp.text, version

    # ---- lifecycle ------------------------------------------------------------------------------------------
    def close(self) -> None:
        actors = [*self.oracles.actors, *self.scorers] + (list(self.pool.actors) if self._own_policy else [])
        for a in actors:
            ray.kill(a)

    def __enter__(self) -> RolloutService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_policy(teacher: TeacherConfig, *, max_restarts: int = 3) -> PolicyHandle:
    """Start PolicyActors for `teacher` outside any service (a trainer may own them and pass the handle)."""
    actors = start_policy_actors(teacher=teacher.id, backend=teacher.backend, config=teacher.config,
                                 replicas=teacher.replicas, max_concurrency=teacher.max_concurrency,
                                 num_cpus=teacher.num_cpus, num_gpus=teacher.num_gpus, max_restarts=max_restarts)
    return PolicyHandle(actors=actors, id=teacher.id, max_concurrency=teacher.max_concurrency)


__all__ = ["PolicyHandle", "RolloutBatch", "RolloutGroup", "RolloutService", "RolloutTrajectory", "start_policy"]
