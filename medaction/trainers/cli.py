"""`medaction train CONFIG [--set k=v ...] [--ray-workers N] [--examples-out FILE] [--plan]`.

Local by default (one process, accelerate); with --ray-workers N (or ray.workers in the config) the same loop runs
on Ray Train. On a cluster: `ray job submit --working-dir . -- medaction train configs/train_sft.toml
--ray-workers 4 --set ray.use_gpu=true`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

import msgspec


def add_parser(subparsers: Any, name: str, help_text: str) -> None:
    p = subparsers.add_parser(name, help=help_text, description=help_text)
    p.add_argument("config", help="TOML training config (see configs/train_*.toml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=1e-4 (repeatable)")
    p.add_argument("--ray-workers", type=int, default=None, help="run on Ray Train with N workers (0 = local)")
    p.add_argument("--examples-out", default=None,
                   help="write the selected examples (messages, train_on, provenance) to this parquet and exit")
    p.add_argument("--plan", action="store_true", help="print the data selection report and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from medaction.trainers.config import load_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(args.config, args.overrides)
    except (ValueError, FileNotFoundError) as exc:
        print(f"medaction train: {exc}", file=sys.stderr)
        return 2
    if args.ray_workers is not None:
        cfg = msgspec.structs.replace(cfg, ray=msgspec.structs.replace(cfg.ray, workers=args.ray_workers))
    if args.plan or args.examples_out:
        from medaction.trainers.examples import ExampleStats, write_examples
        from medaction.trainers.local import build_examples

        ex_stats = ExampleStats()
        try:
            table, sel = build_examples(cfg.data, ex_stats)
        except (ValueError, FileNotFoundError) as exc:
            print(f"medaction train: {exc}", file=sys.stderr)
            return 2
        out: dict[str, Any] = {"selection": sel.report(), "examples": table.num_rows,
                               "example_counts": msgspec.structs.asdict(ex_stats)}
        if args.examples_out:
            write_examples(table, args.examples_out)
            out["written"] = args.examples_out
        print(json.dumps(out))
        return 0
    try:
        from medaction.trainers.loop import accumulation

        accumulation(cfg, max(1, cfg.ray.workers))  # fail before loading anything
        if cfg.ray.workers >= 1:
            from medaction.trainers.ray_train import train_ray

            result = train_ray(cfg)
        else:
            from medaction.trainers.local import train_local

            result = train_local(cfg)
    except (ValueError, FileNotFoundError) as exc:
        print(f"medaction train: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=str))
    return 0
