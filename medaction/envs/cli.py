"""`medaction envs ...`: the environment command group. Each subcommand lives in its own module exposing
`register(subparsers)`; add a module name to SUBCOMMANDS to extend the group (e.g. extract, overlap)."""

from __future__ import annotations

import argparse
import importlib

SUBCOMMANDS = (
    "medaction.envs.cli_build",
    "medaction.envs.cli_show",
    "medaction.envs.cli_stats",
    "medaction.envs.cli_overlap",
    "medaction.stage1.extract_cli",
)


def add_parser(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description="Clinical environments E = (o1, test menu, oracle, ground truth) built from real cases.\n"
        "Sources: agentclinic (OSCE JSONL), medrbench (MedR-Bench diagnosis JSON), jsonl (our canonical JSONL, "
        "as written by `envs build`).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="envs_command", metavar="SUBCOMMAND")
    for module in SUBCOMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # not written yet
                continue
            raise
        mod.register(sub)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    return parser
