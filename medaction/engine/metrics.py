"""Engine metrics: ray.util.metrics (exported on every node's Prometheus endpoint, shown in the dashboard's
Metrics view when Grafana is attached; the panels are in clusters/grafana/medaction.json, see docs/cluster.md)
plus local totals for the run summary. EngineMetrics lives in the driver; QualityMetrics in each scorer actor."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ray.util import metrics as rm

_TIME_BOUNDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]


class EngineMetrics:
    def __init__(self, run: str) -> None:
        tags = ("run",)
        self._tags = {"run": run}
        self.trees_done = rm.Counter("medaction_trees_done", "trees finished", tag_keys=tags)
        self.nodes_done = rm.Counter("medaction_nodes_done", "turns (nodes) finished", tag_keys=tags)
        self.trajectories = rm.Counter("medaction_trajectories", "trajectories by stop reason",
                                       tag_keys=("run", "stop"))
        self.failures = rm.Counter("medaction_failures", "failures by reason", tag_keys=("run", "reason"))
        self.tokens = rm.Counter("medaction_tokens", "tokens by kind", tag_keys=("run", "kind"))
        self.in_flight = rm.Gauge("medaction_in_flight", "trees / nodes in flight", tag_keys=("run", "what"))
        self.replica_load = rm.Gauge("medaction_replica_load", "in-flight requests per replica",
                                     tag_keys=("run", "teacher", "replica"))
        self.replica_queue = rm.Gauge("medaction_replica_queue", "nodes queued for a replica (its lane)",
                                      tag_keys=("run", "teacher", "replica"))
        self.seconds = rm.Histogram("medaction_seconds", "llm / oracle / queue / node time per turn",
                                    boundaries=_TIME_BOUNDS, tag_keys=("run", "kind"))
        # local totals (the summary)
        self.totals: Counter[str] = Counter()
        self.stops: Counter[str] = Counter()
        self.fail_reasons: Counter[str] = Counter()
        self.time_sum: Counter[str] = Counter()

    def node(self, *, prompt: int, completion: int, cached: int, llm_s: float, oracle_s: float, queue_s: float,
             node_s: float) -> None:
        self.nodes_done.inc(1, self._tags)
        for kind, n in (("prompt", prompt), ("completion", completion), ("cached", cached)):
            if n:
                self.tokens.inc(n, {**self._tags, "kind": kind})
            self.totals[f"{kind}_tokens"] += n
        for kind, s in (("llm", llm_s), ("oracle", oracle_s), ("queue", queue_s), ("node", node_s)):
            self.seconds.observe(s, {**self._tags, "kind": kind})
            self.time_sum[kind] += s
        self.totals["nodes"] += 1

    def trajectory(self, stop: str) -> None:
        self.trajectories.inc(1, {**self._tags, "stop": stop})
        self.stops[stop] += 1
        if stop in ("policy_error", "timeout", "parse_failed", "truncated"):
            self.failure(stop)

    def failure(self, reason: str) -> None:
        self.failures.inc(1, {**self._tags, "reason": reason})
        self.fail_reasons[reason] += 1

    def tree(self) -> None:
        self.trees_done.inc(1, self._tags)
        self.totals["trees"] += 1

    def gauges(self, *, trees: int, nodes: int, loads: dict[tuple[str, int], int],
               queues: Mapping[tuple[str, int], int] | None = None) -> None:
        self.in_flight.set(trees, {**self._tags, "what": "trees"})
        self.in_flight.set(nodes, {**self._tags, "what": "nodes"})
        for (teacher, replica), n in loads.items():
            self.replica_load.set(n, {**self._tags, "teacher": teacher, "replica": str(replica)})
        for (teacher, replica), n in (queues or {}).items():
            self.replica_queue.set(n, {**self._tags, "teacher": teacher, "replica": str(replica)})


class QualityMetrics:
    """Data quality, live: rows by filter verdict (kept / truncated / discarded), whether the fallback scorer made
    them, and how often a turn's DTC / RAC was defined, i.e. its diagnoses / tests linked to the graph."""

    def __init__(self, run: str, requested: str) -> None:
        self._tags = {"run": run}
        self.requested = requested
        self.rows = rm.Counter("medaction_rows", "scored rows by verdict; fallback=true: made by the fallback scorer",
                               tag_keys=("run", "verdict", "scorer", "fallback"))
        self.links = rm.Counter("medaction_turn_links", "scored turns whose DTC (diagnoses) / RAC (tests) linked",
                                tag_keys=("run", "kind", "linked"))

    def row(self, row: Mapping[str, Any]) -> None:
        scorer = str(row.get("scorer", ""))
        self.rows.inc(1, {**self._tags, "verdict": str(row.get("verdict", "")), "scorer": scorer,
                          "fallback": str(scorer != self.requested).lower()})
        # RAC is undefined at turn 1 by definition (no earlier differential): only later turns count.
        for kind, values in (("dtc", row.get("dtc") or ()), ("rac", (row.get("rac") or ())[1:])):
            linked = _count_defined(values)
            for flag, n in (("true", linked), ("false", len(values) - linked)):
                if n:
                    self.links.inc(n, {**self._tags, "kind": kind, "linked": flag})


def _count_defined(values: Sequence[Any]) -> int:
    return sum(v is not None for v in values)
