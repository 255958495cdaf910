"""`medaction` command line. Each layer owns its subcommands in its own `cli.py`; this only dispatches."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# command -> (module, help). Each module exposes `add_parser(subparsers, name, help)`, setting `func`.
_COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("medaction.engine.cli", "run the rollout pipeline (cases -> trees -> scoring -> shards)"),
    "serve": ("medaction.engine.serve_cli", "serve a policy as an OpenAI-compatible endpoint (Ray Serve)"),
    "kg": ("medaction.scoring.cli", "build, inspect and link against knowledge-graph stores"),
    "score": ("medaction.scoring.score_cli", "re-score existing shards with another graph or threshold"),
    "train": ("medaction.trainers.cli", "supervised fine-tuning on shards (accelerate, Ray Train)"),
    "eval": ("medaction.eval.cli", "active-diagnosis benchmark: metrics, judges, reports, plots"),
}
# group -> (modules each exposing `add_subcommands(subparsers)`, help): one group may span layers, e.g. the
# envs commands that need no Ray and the Stage-1 commands that start Ray jobs.
_GROUPS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "envs": (("medaction.envs.cli", "medaction.engine.stage1_cli"),
             "build, show, inspect and extract clinical environments",
             "Clinical environments E = (o1, test menu, oracle, ground truth) built from real cases.\n"
             "Sources: auto (from the file's content), agentclinic (OSCE JSONL), medrbench (MedR-Bench diagnosis "
             "JSON), jsonl (our canonical JSONL, as written by `envs build`)."),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medaction",
        description="MedAction: build, score, train on and evaluate multi-turn active-diagnosis trajectories.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (modules, help_text, description) in _GROUPS.items():
        group = sub.add_parser(name, help=help_text, description=description,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        group_sub = group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
        for module in modules:
            importlib.import_module(module).add_subcommands(group_sub)
        group.set_defaults(func=lambda args, g=group: (g.print_help(), 2)[1])
    for name, (module, help_text) in _COMMANDS.items():
        importlib.import_module(module).add_parser(sub, name, help_text)
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
    command = " ".join(x for x in (args.command, getattr(args, f"{args.command}_command", None)) if x)
    try:
        return int(args.func(args) or 0)
    except (UsageError, RunFailed) as exc:
        print(f"medaction {command}: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"medaction {command}: {_one_line(exc) if str(exc) else 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `medaction ... | head`: the reader left; no traceback, no flush error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
