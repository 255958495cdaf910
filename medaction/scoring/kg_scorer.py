"""The knowledge-graph scorer ("kg"): links entities, computes DTC/RAC per turn, applies a filter.

Listed as "kg" in `medaction.scoring.base.SCORERS`; the engine builds it with `build_scorer("kg", cfg)` where
cfg is a KGScorerConfig, a dict of its fields, or None (offline defaults: the HPO graph for DTC and RAC, lexical
encoder, tau 3, cap 8, filter dtc+rac). Graphs load once per process (store.load_graph) and per-case BFS
distance arrays are LRU-cached, so trajectories of one tree cost one BFS.

A turn that wrote no differential (free-form reasoning) gets b_t from the configured extractor (scoring/extractor.py)
before DTC/RAC. What DTC cannot measure (fewer than two linked turns, an unlinked s*) goes to the fallback named by
`unmeasured` (filters.decide; docs/design.md "What cannot be measured"); the verdict records who decided it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np

from medaction.envs.diagnosis import same_diagnosis
from medaction.envs.mentions import normalise_diagnosis
from medaction.envs.types import Environment
from medaction.policies.types import Turn
from medaction.scoring.extractor import ExtractorKind, build_extractor
from medaction.scoring.filters import FILTERS, UNMEASURED, FilterName, Unmeasured, decide
from medaction.scoring.graph import GraphStore
from medaction.scoring.hops import bfs_distances
from medaction.scoring.linker import EntityLinker
from medaction.scoring.mention_linker import DiagnosisLinker
from medaction.scoring.metrics import DiagKey, dtc_series, rac_series, turn_differential
from medaction.scoring.store import load_graph
from medaction.scoring.types import ScoredTrajectory
from medaction.tree.types import Trajectory


class KGScorerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    dtc_graph: str = "hpo"  # "hpo" or a store dir (PrimeKG in the paper)
    rac_graph: str = ""  # "" = same as dtc_graph (ClinGraph in the paper)
    tau: float = 3.0
    cap: int = 8
    encoder: str = "lexical"  # lexical | minilm | medcpt
    encoder_config: dict[str, Any] = {}
    threshold: float = 0.5
    link_parents: bool = True  # a subtype the graph lacks links to its parent ("parent" links: DTC only)
    filter: FilterName = "dtc+rac"
    unmeasured: Unmeasured = "correctness"  # what DTC cannot measure (filters.py)
    extractor: ExtractorKind = "rules"  # b_t of turns without a differential (extractor.py)
    extractor_policy: str = ""  # registered policy backend for extractor = "policy"
    extractor_policy_config: dict[str, Any] = {}
    bfs_cache: int = 256  # distance arrays kept (one per s* / test set)


class _DistCache:
    """LRU of int8 BFS distance arrays keyed by a frozenset of source nodes."""

    def __init__(self, graph: GraphStore, cap: int, size: int) -> None:
        self.graph, self.cap, self.size = graph, cap, size
        self._d: OrderedDict[frozenset[int], np.ndarray] = OrderedDict()

    def get(self, sources: Sequence[int]) -> np.ndarray:
        key = frozenset(int(s) for s in sources)
        hit = self._d.get(key)
        if hit is None:
            hit = self._d[key] = bfs_distances(self.graph, sorted(key), cap=self.cap)
            if len(self._d) > self.size:
                self._d.popitem(last=False)
        else:
            self._d.move_to_end(key)
        return hit


def _types(graph: GraphStore, key: str, default: list[str]) -> list[str]:
    return [t for t in graph.meta.get(key, default) if t in graph.types] or list(graph.types)


class KGScorer:
    name = "kg"

    def __init__(self, config: KGScorerConfig | None = None, *, dtc_graph: GraphStore | None = None,
                 rac_graph: GraphStore | None = None) -> None:
        cfg = self.config = config or KGScorerConfig()
        if cfg.filter not in FILTERS:
            raise KeyError(f"unknown filter {cfg.filter!r}; known: {', '.join(FILTERS)}")
        if cfg.unmeasured not in UNMEASURED:
            raise ValueError(f"unmeasured: {cfg.unmeasured!r} not one of {', '.join(UNMEASURED)}")
        self.extractor = build_extractor(cfg.extractor, cfg.extractor_policy, cfg.extractor_policy_config)
        self.dtc_graph = dtc_graph or load_graph(cfg.dtc_graph)
        self.rac_graph = rac_graph or (load_graph(cfg.rac_graph) if cfg.rac_graph else self.dtc_graph)
        kw = {"encoder": cfg.encoder, "encoder_config": dict(cfg.encoder_config), "threshold": cfg.threshold}
        # diagnoses (truths, differential entries, final answers) go through the mention linker; tests do not
        dx_kw = {**kw, "backoff": cfg.link_parents}
        self.dtc_linker = DiagnosisLinker(self.dtc_graph, types=_types(self.dtc_graph, "disease_types", ["disease"]),
                                          **dx_kw)
        same = self.rac_graph is self.dtc_graph
        self.diag_linker = self.dtc_linker if same else DiagnosisLinker(
            self.rac_graph, types=_types(self.rac_graph, "disease_types", ["disease"]), **dx_kw)
        self.test_linker = EntityLinker(self.rac_graph, types=_types(self.rac_graph, "test_types", ["test"]), **kw)
        self._dtc_bfs = _DistCache(self.dtc_graph, cfg.cap, cfg.bfs_cache)
        self._rac_bfs = _DistCache(self.rac_graph, cfg.cap, cfg.bfs_cache)
        self.graph_label = (self.dtc_graph.describe() if same else
                            f"DTC: {self.dtc_graph.describe()}; RAC: {self.rac_graph.describe()}")

    # -- per-turn quantities --------------------------------------------------------------------------------
    def dtc(self, truth: str, top1: Sequence[str | None]) -> tuple[list[int | None], int | None]:
        """DTC per turn and the linked s* node (None when s* is unlinked: DTC undefined)."""
        dtc, s, _ = self.dtc_linked(truth, top1)
        return dtc, s

    def dtc_linked(self, truth: str,
                   top1: Sequence[str | None]) -> tuple[list[int | None], int | None, list[bool | None]]:
        """DTC per turn, the s* node, and per turn whether the top-1 linked (None: no top-1 at all)."""
        links = self.dtc_linker.link_many([t or "" for t in top1])
        nodes = [lk.node if t else None for lk, t in zip(links, top1)]
        linked = [None if not t else n is not None for n, t in zip(nodes, top1)]
        s = self.dtc_linker.link(truth).node if truth.strip() else None
        if s is None:
            return [None] * len(top1), None, linked
        dist = self._dtc_bfs.get([s])
        return list(dtc_series(nodes, lambda n: int(dist[n]), self.config.cap)), s, linked

    def rac(self, diffs: Sequence[Sequence[str]], tests: Sequence[Sequence[str]]) -> list[float | None]:
        flat_d = [d for ds in diffs for d in ds]
        flat_t = [a for ts in tests for a in ts]
        dl = dict(zip(flat_d, self.diag_linker.link_many(flat_d)))
        tl = dict(zip(flat_t, self.test_linker.link_many(flat_t)))
        keys: list[list[DiagKey]] = [
            [dl[d].node if dl[d].node is not None else ("unlinked", normalise_diagnosis(d)) for d in ds] for ds in diffs]
        test_nodes = [sorted({tl[a].node for a in ts if tl[a].node is not None}) for ts in tests]
        return rac_series(keys, test_nodes, lambda d, srcs: int(self._rac_bfs.get(srcs)[d]), self.config.cap,
                          ordered=[sum(1 for a in ts if a.strip()) for ts in tests])

    def differentials(self, turns: Sequence[Turn]) -> tuple[list[list[str]], list[str]]:
        """b_t per turn (top-1 first) and where it came from: "parsed", "extracted" (free text) or ""."""
        diffs: list[list[str]] = []
        source: list[str] = []
        for t in turns:
            d = turn_differential(t)
            src = "parsed" if d else ""
            if not d:
                text = t.reasoning if t.reasoning.strip() else t.raw
                d = [x for x in dict.fromkeys(x.strip() for x in self.extractor.extract(text)) if x]
                src = "extracted" if d else ""
            diffs.append(d)
            source.append(src)
        return diffs, source

    # -- Scorer protocol ------------------------------------------------------------------------------------
    def score(self, trajectory: Trajectory, env: Environment) -> ScoredTrajectory:
        turns = [n.turn for n in trajectory.nodes]
        diffs, source = self.differentials(turns)
        top1 = [d[0] if d else None for d in diffs]
        dtc, s, linked = self.dtc_linked(env.diagnosis, top1)
        rac = self.rac(diffs, [t.tests for t in turns])
        final = next((t.final_diagnosis for t in reversed(turns) if t.final_diagnosis), None)
        correct = self.is_correct(final, env.diagnosis, s)
        d = decide(self.config.filter, dtc, rac, correct, self.config.tau, self.config.unmeasured)
        return ScoredTrajectory(trajectory=trajectory, dtc=tuple(dtc), rac=tuple(rac), kept_turns=d.kept,
                                verdict=d.verdict, correct=correct, graph=self.graph_label, scorer=self.name,
                                decided_by=d.decided_by, truth_linked=s is not None, top1_linked=tuple(linked),
                                top1_source=tuple(source))

    def is_correct(self, final: str | None, truth: str, truth_node: int | None = None) -> bool:
        """Final diagnosis names s*: the one text equivalence (envs.diagnosis.same_diagnosis, also the offline
        judge's and the RL reward's), or, one layer up and only when s* is linked, the same graph node - by name
        on both sides: a "parent" link (a subtype backed off to the node the graph has) stands in for DTC
        distance only, so "Pneumonia" never matches "COVID-19 pneumonia" through the Pneumonia node."""
        if not final or not final.strip():
            return False
        if same_diagnosis(final, truth):
            return True
        if truth_node is None:
            return False
        named = self.dtc_linker.link(final)
        return named.node == truth_node and "parent" not in (named.method, self.dtc_linker.link(truth).method)


def config_from(cfg: Any) -> KGScorerConfig:
    if cfg is None:
        return KGScorerConfig()
    if isinstance(cfg, KGScorerConfig):
        return cfg
    if isinstance(cfg, dict):
        return msgspec.convert(cfg, KGScorerConfig)
    return msgspec.convert(msgspec.to_builtins(cfg), KGScorerConfig)


def build_kg_scorer(cfg: Any) -> KGScorer:
    return KGScorer(config_from(cfg))
