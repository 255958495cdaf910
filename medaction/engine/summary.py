"""The final run summary: a JSON file next to the manifest and a readable table on stdout."""

from __future__ import annotations

from typing import Any

import msgspec

from medaction.scoring.counts import summary_lines


class RunSummary(msgspec.Struct, kw_only=True):
    out_dir: str
    config_hash: str
    scorer: str
    scorer_fallback: str = ""  # why the configured scorer was replaced by its named fallback ("" = it was not)
    wall_s: float  # from the first dispatch to the last shard write (actor startup excluded)
    startup_s: float = 0.0
    cases_seen: int = 0
    trees_done: int = 0
    trees_skipped: int = 0  # already done (resume)
    trees_failed: int = 0  # trees with a policy_error trajectory (written; re-run by --resume unless disabled)
    trees_retried: int = 0  # failed trees of an earlier run re-opened by this resume
    records_rejected: int = 0  # case records skipped as invalid (file, line/key and field in first_reject)
    reject_reasons: dict[str, int] = {}  # "field: reason" -> records
    first_reject: str = ""
    trajectories: int = 0
    nodes: int = 0
    stops: dict[str, int] = {}
    failures: dict[str, int] = {}
    failure_causes: dict[str, int] = {}  # "stop: root cause" -> trajectories (policy_error, timeout)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    llm_s: float = 0.0
    oracle_s: float = 0.0
    queue_s: float = 0.0
    replica_nodes: dict[str, int] = {}  # "teacher/replica" -> nodes run there
    replica_sessions: dict[str, int] = {}  # "teacher/replica" -> distinct cases it served (seen by the actor)
    sessions_split: int = 0  # cases served by more than one replica of a teacher (0 unless a replica died)
    replica_deaths: int = 0
    requeued_nodes: int = 0
    stolen_nodes: int = 0  # tail work stealing: nodes run off their case's replica once no cases were left
    oracle: dict[str, int] = {}  # LLM oracle counts (requests, cache hits, outcomes incl. unusable_*); {} = matcher
    shards: int = 0
    rows: int = 0
    scoring: dict[str, Any] = {}  # filter decision counts (scoring/counts.py), rows written this session
    shards_invalid: list[str] = []  # shards found missing or corrupt on resume ("file: problem"); their trees re-ran
    orphans_moved: list[str] = []  # files under shards/ the manifest did not list, and where they went
    complete: bool = False
    interrupted: bool = False  # Ctrl-C: finished trees written, the rest re-run on --resume


def table(s: RunSummary) -> str:
    rate = s.nodes / s.wall_s if s.wall_s else 0.0
    cache = s.cached_tokens / s.prompt_tokens if s.prompt_tokens else 0.0
    rows = [
        ("output", s.out_dir),
        ("config hash", s.config_hash),
        ("scorer", s.scorer + (f" (fallback: {s.scorer_fallback})" if s.scorer_fallback else "")),
        ("complete", str(s.complete)),
        ("wall (+ actor startup)", f"{s.wall_s:.1f} s (+ {s.startup_s:.1f} s)"),
        ("cases seen", str(s.cases_seen)),
        ("trees done / skipped", f"{s.trees_done} / {s.trees_skipped}"),
        ("trees failed / retried", f"{s.trees_failed} / {s.trees_retried}"),
        ("records rejected", str(s.records_rejected) + (f" (first: {s.first_reject})" if s.first_reject else "")),
        ("trajectories", str(s.trajectories)),
        ("stops", ", ".join(f"{k}={v}" for k, v in sorted(s.stops.items())) or "-"),
        ("failures", ", ".join(f"{k}={v}" for k, v in sorted(s.failures.items())) or "none"),
        ("failure causes", "; ".join(f"{v}x {k}" for k, v in s.failure_causes.items()) or "none"),
        ("nodes (turns)", f"{s.nodes} ({rate:.1f}/s)"),
        ("tokens prompt/completion", f"{s.prompt_tokens} / {s.completion_tokens}"),
        ("cached prompt tokens", f"{s.cached_tokens} ({cache:.1%})"),
        ("time llm / oracle / queue", f"{s.llm_s:.1f} / {s.oracle_s:.1f} / {s.queue_s:.1f} s (summed over nodes)"),
        ("nodes per replica", ", ".join(f"{k}={v}" for k, v in sorted(s.replica_nodes.items()))),
        ("cases per replica", ", ".join(f"{k}={v}" for k, v in sorted(s.replica_sessions.items()))),
        ("cases split over replicas", str(s.sessions_split)),
        ("replica deaths / requeued", f"{s.replica_deaths} / {s.requeued_nodes}"),
        ("tail nodes stolen", str(s.stolen_nodes)),
        ("llm oracle", ", ".join(f"{k}={v}" for k, v in s.oracle.items()) or "- (matcher)"),
        ("shards / rows", f"{s.shards} / {s.rows}"),
        *summary_lines(s.scoring),
    ]
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(w)}  {v}" for k, v in rows)
