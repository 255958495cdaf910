"""`medaction run [CONFIG] [--set k=v ...] [--out DIR] [--resume]`: the main job (also the `ray job submit`
entrypoint: `python -m medaction run configs/demo.toml`). Exit codes (docs/design.md, "Outputs and resume"):
0 done; 1 the run read no case or every trajectory failed; 2 bad config, input or --out; 130 Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys


def add_parser(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    p = subparsers.add_parser(name, help=help_text, description=help_text)
    p.add_argument("config", nargs="?", default=None, help="TOML run config (default: built-in defaults)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted override, repeatable: --set tree.k=4 --set policies.0.replicas=2")
    p.add_argument("--out", default=None, help="output dir (default: output.dir of the config)")
    p.add_argument("--resume", action="store_true", help="continue a run in --out, skipping finished trees")
    p.add_argument("--force-out", action="store_true",
                   help="write into an --out that is not empty and holds no medaction run (its files are kept; "
                        "files under shards/ are moved to orphans/)")
    p.add_argument("--retry-failed", action=argparse.BooleanOptionalAction, default=None,
                   help="with --resume, re-run trees that failed on a policy error (default: engine.retry_failed, "
                        "true)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from medaction.engine.config import load_config
    from medaction.outputs import UsageError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    overrides = list(args.overrides)
    if args.retry_failed is not None:
        overrides.append(f"engine.retry_failed={'true' if args.retry_failed else 'false'}")
    try:
        cfg = load_config(args.config, overrides)
    except (ValueError, OSError) as exc:
        raise UsageError(str(exc)) from None
    from medaction.engine.run_job import RunInterrupted, run

    try:
        summary = run(cfg, out_dir=args.out, resume=args.resume, progress=not args.no_progress,
                      force_out=args.force_out)
    except RunInterrupted as exc:
        again = ["medaction", "run", *([args.config] if args.config else []), "--out", exc.summary.out_dir,
                 *(x for kv in args.overrides for x in ("--set", kv)), "--resume"]
        raise KeyboardInterrupt(f"{exc}; resume with: {shlex.join(again)}") from None
    print(f"summary: {summary.out_dir}/summary.json")
    return 0
