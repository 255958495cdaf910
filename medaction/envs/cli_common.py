"""Arguments shared by `envs` subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from medaction.envs.load import SOURCES


def add_source_args(p: argparse.ArgumentParser, *, path_required: bool = True) -> None:
    p.add_argument(
        "--source", choices=SOURCES, default="jsonl",
        help="input format: agentclinic = AgentClinic OSCE JSONL, medrbench = MedR-Bench diagnosis JSON, "
        "jsonl = canonical environments (default: %(default)s)",
    )
    p.add_argument("path", type=Path, nargs=None if path_required else "?", help="input file")
    p.add_argument("--strict", action="store_true", help="stop at the first malformed record (exit code 1)")
    p.add_argument("--rejects", type=Path, default=None, metavar="FILE",
                   help="write skipped malformed records as JSONL to FILE")
