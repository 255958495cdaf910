"""Linking accuracy on a labelled JSONL set: {"text", "kind", "gold": [accepted node ids]} ([] = should be unlinked).

    python -m tests.support.linker_eval tests/data/linker_labels.jsonl [--encoder minilm] [--threshold 0.5]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from medaction.scoring.linker import EntityLinker


def load_labels(path: str | Path) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        if not isinstance(rec.get("text"), str) or not isinstance(rec.get("gold"), list):
            raise ValueError(f"{path}: line {n}: fields 'text' (string) and 'gold' (list) required")
        out.append(rec)
    return out


def evaluate(linker: EntityLinker, labels: list[dict[str, Any]]) -> dict[str, Any]:
    links = linker.link_many([r["text"] for r in labels])
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ok_linkable = [0, 0]
    errors = []
    for r, lk in zip(labels, links):
        good = (lk.node is None) if not r["gold"] else (lk.node_id in r["gold"])
        by_kind[r.get("kind", "?")][0] += good
        by_kind[r.get("kind", "?")][1] += 1
        if r["gold"]:
            ok_linkable[0] += good
            ok_linkable[1] += 1
        if not good:
            errors.append({"text": r["text"], "gold": r["gold"], "got": lk.node_id, "name": lk.name,
                           "method": lk.method, "score": round(lk.score, 3)})
    total = sum(v[0] for v in by_kind.values()), sum(v[1] for v in by_kind.values())
    return {"n": total[1], "accuracy": total[0] / total[1], "accuracy_linkable": ok_linkable[0] / ok_linkable[1],
            "by_kind": {k: {"n": v[1], "accuracy": v[0] / v[1]} for k, v in sorted(by_kind.items())},
            "errors": errors}


def main(argv: list[str] | None = None) -> int:
    from medaction.scoring.store import load_graph

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("labels", type=Path)
    ap.add_argument("--graph", default="hpo")
    ap.add_argument("--types", default="disease,phenotype")
    ap.add_argument("--encoder", default="lexical")
    ap.add_argument("--encoder-dir", default=None)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--errors", action="store_true")
    args = ap.parse_args(argv)
    g = load_graph(args.graph)
    linker = EntityLinker(g, types=args.types.split(","), encoder=args.encoder, threshold=args.threshold,
                          encoder_config={"model_dir": args.encoder_dir} if args.encoder_dir else {})
    res = evaluate(linker, load_labels(args.labels))
    print(f"graph: {g.describe()}\nencoder {args.encoder}, threshold {args.threshold}: accuracy "
          f"{res['accuracy']:.1%} on {res['n']} items ({res['accuracy_linkable']:.1%} on the linkable ones)")
    for k, v in res["by_kind"].items():
        print(f"  {k}: {v['accuracy']:.1%} of {v['n']}")
    if args.errors:
        for e in res["errors"]:
            print("  x", json.dumps(e))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
