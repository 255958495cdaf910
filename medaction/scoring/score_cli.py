"""`medaction score SHARDS_DIR -o OUT [--graph ... --tau ...]`: re-score existing parquet shards offline.

Reads rows through `medaction.scoring.rows.from_row`, re-scores each trajectory with the KG scorer (another graph,
threshold, encoder or filter) and writes the same rows with new dtc/rac/kept_turns/verdict/correct/graph columns
to OUT/shards/, plus OUT/retention.json. No rollout is re-run; the ground truth comes from the cases file.
It prints, and writes to retention.json, the decision counts of the run summary (scoring/counts.py): who decided
each trajectory (DTC/RAC or the fallback for what cannot be measured, --unmeasured), kept/truncated/discarded,
the truth and top-1 link rates and the free-form share.

Everything is written under OUT/.score-partial-PID/ and moved into place only when every shard was re-scored: an
unreadable shard or row is one line naming it (exit 2) and leaves OUT as it was. OUT may not hold the input shards,
and an existing non-empty OUT that is not a `medaction score` output is refused unless --overwrite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from medaction.outputs import UsageError, same_file
from medaction.scoring.graph import GraphError


def add_parser(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help=help_text, description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shards", type=Path, help="folder with *.parquet shards (or a run dir with shards/)")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--cases", type=Path, default=None, help="cases file (default: the bundled AgentClinic cases)")
    p.add_argument("--source", default="auto", choices=("auto", "agentclinic", "medrbench", "jsonl"),
                   help="format of --cases (default: auto = from the file's content)")
    p.add_argument("--graph", default="hpo", help="DTC graph: 'hpo' or a store dir (PrimeKG in the paper)")
    p.add_argument("--rac-graph", default="", help="RAC graph store dir (ClinGraph in the paper); default = --graph")
    p.add_argument("--tau", type=float, default=3.0)
    p.add_argument("--cap", type=int, default=8)
    p.add_argument("--encoder", default="lexical", help="lexical | minilm | medcpt")
    p.add_argument("--encoder-dir", default=None, help="model directory (medcpt; optional for minilm)")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--filter", default="dtc+rac", help="none | correctness | dtc+rac")
    p.add_argument("--unmeasured", default="correctness",
                   help="trajectories DTC cannot measure (< 2 linked turns): correctness | keep | discard")
    p.add_argument("--extractor", default="rules", help="b_t of turns without a differential: rules | policy | none")
    p.add_argument("--extractor-policy", default="", help="registered policy backend for --extractor policy")
    p.add_argument("--extractor-policy-config", default="{}", help="JSON config of that policy")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty OUT that is not a score output")
    p.set_defaults(func=run)
    return p


def _shard_files(d: Path) -> list[Path]:
    if not d.is_dir():
        raise UsageError(f"{d}: no such directory")
    files = sorted(d.glob("*.parquet")) or sorted((d / "shards").glob("*.parquet"))
    if not files:
        raise UsageError(f"{d}: no *.parquet shards (nor in {d / 'shards'})")
    return files


def _check_out(out: Path, files: list[Path], *, overwrite: bool) -> None:
    """OUT must not receive the input shards' names in their own folder, and must be ours (or empty, or new)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    for f in files:
        if same_file(out / "shards" / f.name, f) or same_file(out / f.name, f):
            raise UsageError(f"{out}: would write over the input shard {f}; choose another -o")
    if out.is_dir() and any(out.iterdir()) and not (out / "retention.json").is_file() and not overwrite:
        raise UsageError(f"{out}: not empty and not a `medaction score` output; not written (pass --overwrite)")


def _read_rows(f: Path) -> list[dict]:
    try:
        return pq.ParquetFile(f).read().to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise UsageError(f"{f}: unreadable parquet shard ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def run(args: argparse.Namespace) -> int:
    from medaction.config import read_policy_config
    from medaction.envs.case_input import read_cases
    from medaction.envs.load import default_cases_path
    from medaction.scoring.counts import DecisionCounts, summary_lines
    from medaction.scoring.filters import retention
    from medaction.scoring.kg_scorer import KGScorer, KGScorerConfig
    from medaction.scoring.extractor import EXTRACTORS
    from medaction.scoring.filters import FILTERS, UNMEASURED
    from medaction.scoring.rows import from_row, to_row, to_table

    for flag, value, known in (("--filter", args.filter, FILTERS), ("--unmeasured", args.unmeasured, UNMEASURED),
                               ("--extractor", args.extractor, EXTRACTORS)):
        if value not in known:
            raise UsageError(f"{flag}: {value!r} not one of {', '.join(known)}")
    policy_config = read_policy_config(args.extractor_policy_config, option="--extractor-policy-config")
    t0 = time.perf_counter()
    files = _shard_files(args.shards)
    _check_out(args.out, files, overwrite=args.overwrite)
    cases_path = args.cases or default_cases_path()
    envs = {e.case_id: e for e in read_cases(args.source, cases_path)}
    try:
        cfg = KGScorerConfig(dtc_graph=args.graph, rac_graph=args.rac_graph, tau=args.tau, cap=args.cap,
                             encoder=args.encoder, threshold=args.threshold, filter=args.filter,
                             encoder_config={"model_dir": args.encoder_dir} if args.encoder_dir else {},
                             unmeasured=args.unmeasured, extractor=args.extractor,
                             extractor_policy=args.extractor_policy,
                             extractor_policy_config=policy_config)
        scorer = KGScorer(cfg)
    except (GraphError, FileNotFoundError, KeyError, ValueError) as exc:
        raise UsageError(_short(exc)) from None
    created_out = not args.out.exists()
    stage = args.out / f".score-partial-{os.getpid()}"
    try:
        (stage / "shards").mkdir(parents=True)
        scored_all = []
        counts = DecisionCounts()
        missing = 0
        for f in files:
            rows = []
            for i, row in enumerate(_read_rows(f)):
                try:
                    old = from_row(row)
                except (msgspec.MsgspecError, KeyError, TypeError, ValueError) as exc:
                    raise UsageError(f"{f}: row {i}: field trajectory_json: {_short(exc)}") from None
                env = envs.get(old.trajectory.case_id)
                if env is None:  # keep the row as it was; say so
                    missing += 1
                    rows.append(row)
                    continue
                st = scorer.score(old.trajectory, env)
                scored_all.append(st)
                rows.append(to_row(st, origin=row.get("origin") or "rollout"))
                counts.add_row(rows[-1])
            pq.write_table(to_table(rows), stage / "shards" / f.name)
        stats = {"graph": scorer.graph_label, "filter": args.filter, "tau": args.tau, "cap": args.cap,
                 "encoder": args.encoder, "cases": str(cases_path), "rows_without_case": missing,
                 "unmeasured": args.unmeasured, "extractor": args.extractor,
                 **retention(scored_all), "decisions": counts.report()}
        (stage / "retention.json").write_text(json.dumps(stats, indent=1))
        out_dir = args.out / "shards"
        out_dir.mkdir(exist_ok=True)
        for f in files:  # every shard is complete: move them in, retention.json (the "ours" mark) last
            os.replace(stage / "shards" / f.name, out_dir / f.name)
        os.replace(stage / "retention.json", args.out / "retention.json")
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created_out:
            shutil.rmtree(args.out, ignore_errors=True)  # we made it and it holds nothing complete
        raise
    shutil.rmtree(stage, ignore_errors=True)
    print(f"graph: {scorer.graph_label}")
    print(f"re-scored {len(scored_all)} trajectories from {len(files)} shards in {time.perf_counter() - t0:.1f} s "
          f"-> {out_dir}; trajectories kept {stats['trajectory_retention']:.1%}, turns kept "
          f"{stats['turn_retention']:.1%}" + (f"; {missing} rows had no case in {cases_path}" if missing else ""))
    lines = summary_lines(stats["decisions"])
    w = max(len(k) for k, _ in lines)
    print("\n".join(f"  {k.ljust(w)}  {v}" for k, v in lines))
    return 0
