"""RunConfig: the msgspec Struct tree of a run, read from TOML with dotted overrides (`--set tree.k=4`).

Unknown keys are errors (forbid_unknown_fields), so a typo in a config cannot silently fall back to a default;
out-of-range values are errors too (checked here, before anything starts).

The config hash (what `--resume` compares) covers every content-affecting field and a fingerprint of the case
data: the sha256 of the case file's bytes (docs/design.md, "Outputs and resume"). A content hash rather than
size+mtime: an edited file with the same size, or a copy with a new mtime, is judged by what it holds; reading the
file once costs about a second per GB, small next to any run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import msgspec

from medaction.config import apply_override, build_config, read_toml
from medaction.outputs import UsageError


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


CaseSource = Literal["auto", "agentclinic", "medrbench", "jsonl"]
OracleKind = Literal["matcher", "llm", "matcher+llm"]
TailPriority = Literal["critical", "deep"]


class CasesConfig(_Cfg):
    source: CaseSource = "agentclinic"  # auto = decided from the file's content
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
    """docs/design.md, "Oracle": the phrase matcher (default), an LLM (any registered Policy backend, configured
    like a teacher), or the matcher first and the LLM for what it cannot match."""

    actors: int = 1  # each hosts the environments of a shard of the active cases
    resources: dict[str, float] = {}
    spread: bool = False
    kind: OracleKind = "matcher"
    backend: str = ""  # a registered Policy backend, for the llm kinds (e.g. openai_http)
    config: dict[str, Any] = {}  # that backend's config Struct, as a table (e.g. base_url, model)
    max_tokens: int = 512  # the LLM's reply budget; a reply cut at it counts as unusable -> UNAVAILABLE
    max_result_chars: int = 2000  # a longer LLM reply is unusable -> UNAVAILABLE

    def __post_init__(self) -> None:
        if self.kind != "matcher":
            from medaction.policies.base import config_type

            try:
                msgspec.convert(self.config, config_type(self.backend))
            except KeyError as exc:
                raise ValueError(f"oracle.backend: {exc.args[0]}") from None
            except msgspec.ValidationError as exc:
                raise ValueError(f"oracle.config for backend {self.backend!r}: {exc}") from None
        if self.max_tokens < 1 or self.max_result_chars < 1:
            raise ValueError("oracle.max_tokens and oracle.max_result_chars must be >= 1")


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
    # Shard writers: 1 = one, on the driver's node. More (e.g. one per node, with spread) need --out on storage
    # every node reaches (s3://, gs://, a shared mount): each tree goes whole to one writer (by tree id).
    writers: int = 1
    resources: dict[str, float] = {}  # placement of the writers (docs/cluster.md, "What runs where")
    spread: bool = False


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
    tail_priority: TailPriority = "critical"  # once no cases are left: critical (shallower first) | deep
    retry_failed: bool = True  # --resume re-runs trees that failed on a policy error (CLI: --no-retry-failed)


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
        for p in self.policies:
            if p.routing not in ("sticky", "shared"):
                raise ValueError(f"policies[{p.id}].routing must be 'sticky' or 'shared', got {p.routing!r}")
            if p.num_cpus < 0 or p.num_gpus < 0:
                raise ValueError(f"policies[{p.id}]: num_cpus and num_gpus must be >= 0")
        e, t = self.engine, self.tree
        checks = [
            ("tree.k", t.k, t.k >= 1), ("tree.b", t.b, t.b >= 0), ("tree.width", t.width, t.width >= 1),
            ("tree.max_turns", t.max_turns, t.max_turns >= 1), ("cases.limit", self.cases.limit, self.cases.limit >= 0),
            ("oracle.actors", self.oracle.actors, self.oracle.actors >= 1),
            ("scoring.actors", self.scoring.actors, self.scoring.actors >= 1),
            ("output.rows_per_shard", self.output.rows_per_shard, self.output.rows_per_shard >= 1),
            ("output.max_pending_writes", self.output.max_pending_writes, self.output.max_pending_writes >= 1),
            ("output.writers", self.output.writers, self.output.writers >= 1),
            ("engine.max_active_trees", e.max_active_trees, e.max_active_trees >= 0),
            ("engine.call_timeout_s", e.call_timeout_s, e.call_timeout_s > 0),
            ("engine.call_retries", e.call_retries, e.call_retries >= 0),
            ("engine.max_restarts", e.max_restarts, e.max_restarts >= -1),
            ("engine.progress_every_s", e.progress_every_s, e.progress_every_s > 0),
            ("engine.flush_every_s", e.flush_every_s, e.flush_every_s > 0),
            ("engine.health_every_s", e.health_every_s, e.health_every_s > 0),
        ]
        for name, value, ok in checks:
            if not ok:
                raise ValueError(f"{name} = {value!r} is out of range")
        groups = [(f"policies[{p.id}]", p.resources) for p in self.policies] + [
            ("oracle", self.oracle.resources), ("scoring", self.scoring.resources), ("output", self.output.resources)]
        for where, res in groups:
            bad = {k: v for k, v in res.items() if not v > 0}
            if bad:
                raise ValueError(f"{where}.resources: amounts must be > 0, got {bad}")


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """The run's TOML (a single `[policy]` table is read as `[[policies]]`) plus `--set` overrides."""
    data: dict[str, Any] = read_toml(path) if path else {}
    if "policies" not in data and "policy" in data:
        data["policies"] = [data.pop("policy")]
    for ov in overrides:
        apply_override(data, ov)
    if "policies" in data and not data["policies"]:
        raise UsageError("policies: empty list")
    return build_config(data, RunConfig, where=str(path) if path else "<defaults>")


# Fields that change how fast a run goes but not what it writes: excluded from the resume hash.
_SPEED_ONLY = {"replicas", "max_concurrency", "num_cpus", "num_gpus", "actors", "resources", "spread"}


def cases_path(cfg: RunConfig) -> Path:
    """The case file a run reads (empty `cases.path`: the bundled AgentClinic cases; a URI such as s3://...: its
    local copy, downloaded once by medaction.storage)."""
    from medaction.envs.load import default_cases_path
    from medaction.storage import is_uri, local_copy

    if not cfg.cases.path:
        return default_cases_path()
    return local_copy(cfg.cases.path) if is_uri(cfg.cases.path) else Path(cfg.cases.path)


def cases_fingerprint(path: Path) -> str:
    """sha256 of the case file's bytes ("missing" when it cannot be read)."""
    from medaction.engine.manifest import file_sha256

    try:
        return file_sha256(path)
    except OSError:
        return "missing"


def config_hash(cfg: RunConfig) -> str:
    data = msgspec.to_builtins(cfg)
    data["cases_sha256"] = cases_fingerprint(cases_path(cfg))
    data.pop("engine", None)
    data.pop("output", None)

    def strip(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in sorted(obj.items()) if k not in _SPEED_ONLY}
        if isinstance(obj, (list, tuple)):
            return [strip(v) for v in obj]
        return obj

    return hashlib.sha256(msgspec.json.encode(strip(data))).hexdigest()[:16]
