"""`medaction run [CONFIG] [--set k=v ...] [--out DIR] [--resume]`: the main job (also the `ray job submit`
entrypoint: `python -m medaction run configs/demo.toml`)."""

from __future__ import annotations

import argparse
import logging
import sys


def add_parser(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    p = subparsers.add_parser(name, help=help_text, description=help_text)
    p.add_argument("config", nargs="?", default=None, help="TOML run config (default: built-in defaults)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted override, repeatable: --set tree.k=4 --set policies.0.replicas=2")
    p.add_argument("--out", default=None, help="output dir (default: output.dir of the config)")
    p.add_argument("--resume", action="store_true", help="continue a run in --out, skipping finished trees")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from medaction.engine.config import load_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    try:
        cfg = load_config(args.config, args.overrides)
    except (ValueError, OSError) as exc:
        print(f"medaction run: {exc}", file=sys.stderr)
        return 2
    from medaction.engine.driver import run

    try:
        summary = run(cfg, out_dir=args.out, resume=args.resume, progress=not args.no_progress)
    except (FileExistsError, ValueError) as exc:
        print(f"medaction run: {exc}", file=sys.stderr)
        return 2
    print(f"summary: {summary.out_dir}/summary.json")
    return 0
