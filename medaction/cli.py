"""`medaction` command line. Each layer owns its subcommands in its own `cli.py`; this only dispatches."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# command -> (module, help). Modules expose `add_parser(subparsers)` that sets `func` on its parser(s).
_COMMANDS: dict[str, tuple[str, str]] = {
    "envs": ("medaction.envs.cli", "build, show, inspect and extract clinical environments"),
    "run": ("medaction.engine.cli", "run the rollout pipeline (cases -> trees -> scoring -> shards)"),
    "serve": ("medaction.engine.serve_cli", "serve a policy as an OpenAI-compatible endpoint (Ray Serve)"),
    "kg": ("medaction.scoring.cli", "build and inspect knowledge-graph stores"),
    "score": ("medaction.scoring.score_cli", "re-score existing shards with another graph or threshold"),
    "train": ("medaction.trainers.cli", "supervised fine-tuning on shards (accelerate, Ray Train)"),
    "eval": ("medaction.eval.cli", "active-diagnosis benchmark: metrics, judges, reports, plots"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medaction",
        description="MedAction: build, score, train on and evaluate multi-turn active-diagnosis trajectories.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in _COMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # that layer has no CLI yet
                continue
            raise
        mod.add_parser(sub, name, help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Errors follow one convention (medaction/outputs.py): one line on stderr naming the
    problem, exit 2 for bad input or config, 1 for a run that failed, 130 on Ctrl-C; never a traceback."""
    from medaction.outputs import RunFailed, UsageError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (UsageError, RunFailed) as exc:
        print(f"medaction {args.command}: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"medaction {args.command}: {_one_line(exc) if str(exc) else 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `medaction ... | head`: the reader left; no traceback, no flush error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
