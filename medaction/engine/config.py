"""RunConfig: the msgspec Struct tree of a run, read from TOML with dotted overrides (`--set tree.k=4`).

Unknown keys are errors (forbid_unknown_fields), so a typo in a config cannot silently fall back to a default.
"""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any

import msgspec


class _Cfg(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class TreeConfig(_Cfg):
    k: int = 3  # root rollouts per case per teacher (paper appendix C)
    b: int = 1  # branch launch points per tree
    width: int = 1  # continuations per launch point
    max_turns: int = 8
    strategy: str = "uniform"  # uniform | entropy | function
    strategy_fn: str = ""  # "package.module:function" when strategy = "function"
    free_share: float = 0.1  # share of trees run in free-form mode (paper RQ2)


class CasesConfig(_Cfg):
    source: str = "agentclinic"  # agentclinic | medrbench | jsonl
    path: str = ""  # empty: the bundled AgentClinic cases
    limit: int = 0  # 0 = all
    strict: bool = False


class TeacherConfig(_Cfg):
    id: str = "heuristic"  # policy_id written to every row
    backend: str = "heuristic"  # a registered backend (medaction.policies.base.available())
    share: float = 1.0  # fraction of cases this teacher builds trees for (deterministic per case)
    replicas: int = 1
    max_concurrency: int = 8  # in-flight requests per replica (the driver never exceeds it)
    routing: str = "sticky"  # sticky (case -> one replica, prefix caching) | shared (no affinity; baseline)
    num_cpus: float = 0.0
    num_gpus: float = 0.0
    resources: dict[str, float] = {}  # custom node resources each replica needs (pins it to a node type)
    spread: bool = False  # replicas on different nodes (Ray SPREAD): a lost node costs one replica
    params: dict[str, Any] = {}  # SamplingParams fields
    config: dict[str, Any] = {}  # the backend's own config Struct, as a table


class OracleConfig(_Cfg):
    actors: int = 1  # each hosts the environments of a shard of the active cases
    resources: dict[str, float] = {}
    spread: bool = False


class ScoringConfig(_Cfg):
    name: str = "identity"  # a registered scorer ("identity", "kg", ...)
    fallback: str = ""  # scorer to use when `name` cannot be built here (e.g. no graph); empty = fail
    actors: int = 1
    resources: dict[str, float] = {}
    spread: bool = False
    config: dict[str, Any] = {}


class OutputConfig(_Cfg):
    dir: str = "runs/demo"
    rows_per_shard: int = 2000
    max_pending_writes: int = 64  # back-pressure: no new cases while this many finished trees await the writer


class EngineConfig(_Cfg):
    max_active_trees: int = 0  # 0 = 4 x total policy slots; bounds driver memory, not throughput
    call_timeout_s: float = 600.0  # per policy/oracle call
    call_retries: int = 2  # extra attempts on a live replica after a timeout or a replica death
    max_restarts: int = 3  # Ray actor restarts
    progress_every_s: float = 10.0
    flush_every_s: float = 30.0  # flush buffered rows this often, so a crash loses little work
    health_every_s: float = 2.0
    progress_bar: bool = True  # tqdm when stderr is a TTY
    steal_tail: bool = True  # once no cases are left, idle replicas take queued nodes of busier ones
    tail_priority: str = "critical"  # once no cases are left: critical (shallower first; shorter makespan) | deep


class RunConfig(_Cfg):
    seed: int = 0
    tree: TreeConfig = TreeConfig()
    cases: CasesConfig = CasesConfig()
    policies: tuple[TeacherConfig, ...] = (TeacherConfig(),)
    oracle: OracleConfig = OracleConfig()
    scoring: ScoringConfig = ScoringConfig()
    output: OutputConfig = OutputConfig()
    engine: EngineConfig = EngineConfig()

    def __post_init__(self) -> None:
        ids = [p.id for p in self.policies]
        if not ids or len(set(ids)) != len(ids):
            raise ValueError(f"policies: need at least one teacher and unique ids, got {ids}")
        for p in self.policies:
            if p.replicas < 1 or p.max_concurrency < 1 or not 0.0 <= p.share <= 1.0:
                raise ValueError(f"policies[{p.id}]: need replicas >= 1, max_concurrency >= 1, 0 <= share <= 1")
        if not 0.0 <= self.tree.free_share <= 1.0:
            raise ValueError("tree.free_share must be in [0, 1]")
        if self.engine.tail_priority not in ("critical", "deep"):
            raise ValueError(f"engine.tail_priority must be 'critical' or 'deep', got {self.engine.tail_priority!r}")


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw  # a bare word: a string


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """`a.b=c` sets data["a"]["b"]; numeric parts index lists (`policies.0.replicas=4`)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set expects key=value, got {assignment!r}")
    parts = key.strip().split(".")
    cur: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(cur, list):
            idx = int(part)
            while len(cur) <= idx:
                cur.append({})
            cur = cur[idx]
        else:
            nxt = parts[i + 1]
            cur = cur.setdefault(part, [] if nxt.isdigit() else {})
    last = parts[-1]
    if isinstance(cur, list):
        idx = int(last)
        while len(cur) <= idx:
            cur.append({})
        cur[idx] = _parse_value(raw.strip())
    else:
        cur[last] = _parse_value(raw.strip())


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{p}: invalid TOML: {exc}") from exc
        if "policies" not in data and "policy" in data:
            data["policies"] = [data.pop("policy")]
    for ov in overrides:
        apply_override(data, ov)
    if "policies" in data and not data["policies"]:
        raise ValueError("policies: empty list")
    if "policies" not in data and any(k.startswith("policies") for k in data):
        pass
    try:
        return msgspec.convert(data, RunConfig)
    except (msgspec.ValidationError, ValueError) as exc:
        raise ValueError(f"{path or '<defaults>'}: bad config: {exc}") from exc


# Fields that change how fast a run goes but not what it writes: excluded from the resume hash.
_SPEED_ONLY = {"replicas", "max_concurrency", "num_cpus", "num_gpus", "actors", "resources", "spread"}


def config_hash(cfg: RunConfig) -> str:
    data = msgspec.to_builtins(cfg)
    data.pop("engine", None)
    data.pop("output", None)

    def strip(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in sorted(obj.items()) if k not in _SPEED_ONLY}
        if isinstance(obj, (list, tuple)):
            return [strip(v) for v in obj]
        return obj

    return hashlib.sha256(msgspec.json.encode(strip(data))).hexdigest()[:16]


def to_toml_dict(cfg: RunConfig) -> dict[str, Any]:
    return msgspec.to_builtins(cfg)
