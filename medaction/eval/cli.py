"""`medaction eval` (run the benchmark), `eval compare`, `eval scaling`, `eval agreement`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import msgspec

from medaction.config import read_policy_config
from medaction.envs.case_input import resolve_source
from medaction.policies.base import check_config
from medaction.outputs import UsageError, same_file

def _judge(args: argparse.Namespace):  # noqa: ANN202
    from medaction.eval.judges.base import build_judge

    cfg = read_policy_config(args.judge_config, option="--judge-config")
    try:
        return build_judge(args.judge, cfg or None)
    except (KeyError, ValueError, msgspec.ValidationError) as exc:
        raise UsageError(f"--judge {args.judge}: {str(exc).strip(chr(34) + chr(39))}") from None


def _run(args: argparse.Namespace) -> int:
    if not args.policy or not args.cases:
        print("medaction eval: --policy and --cases are required (or use a subcommand: compare, scaling, agreement)",
              file=sys.stderr)
        return 2
    from medaction.eval.engine_backend import EngineBackend
    from medaction.eval.runner import EvalSpec, evaluate

    from medaction.scoring.base import SCORERS

    SCORERS.check(args.scorer)  # a misspelled scorer is an error, never a silent identity fallback
    scorer_cfg = read_policy_config(args.scorer_config, option="--scorer-config")
    policy_cfg = read_policy_config(args.policy_config)
    backend_cfg = {k: v for k, v in policy_cfg.items() if k != "sampling"}  # `sampling` is the eval's, not the backend's
    check_config(args.policy, backend_cfg, where="--policy/--policy-config")
    source = resolve_source(args.source, Path(args.cases))
    judge = _judge(args)
    spec = EvalSpec(
        policy=args.policy, policy_config=policy_cfg, cases=str(args.cases),
        source=source, out=str(args.out), runs=args.runs, limit=args.limit, max_turns=args.max_turns,
        base_seed=args.seed, scorer=args.scorer, scorer_config=scorer_cfg, label=args.label or "",
        rac_tau=float(scorer_cfg.get("tau", 3.0)),
    )
    res = evaluate(spec, backend=EngineBackend(), judge=judge)
    s = res.summary
    print(f"{s.label}: P={s.precision.mean:.3f}±{s.precision.std:.3f} R={s.recall.mean:.3f}±{s.recall.std:.3f} "
          f"F1={s.f1.mean:.3f}±{s.f1.std:.3f} Acc={s.accuracy.mean:.3f}±{s.accuracy.std:.3f} "
          f"({s.n_cases} cases, {len(s.runs)} runs; judge {s.judge}; graph {s.graph})")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from medaction.eval.compare import compare

    dirs = [Path(d) for d in args.dirs]
    _check_results(dirs)
    if any(same_file(Path(args.out), d) for d in dirs):
        raise UsageError(f"{args.out}: --out is one of the compared directories; choose another")
    print(compare(dirs, Path(args.out)))
    return 0


def _check_results(dirs: list[Path]) -> None:
    """Every eval directory is read once before anything is written: a typo is one line, not a traceback."""
    from medaction.eval.summary import read_result

    for d in dirs:
        if not d.exists():
            raise UsageError(f"{d}: no such directory")
        try:
            read_result(d)
        except (OSError, ValueError, msgspec.DecodeError) as exc:
            raise UsageError(" ".join(str(exc).split())[:300]) from None


def _scaling(args: argparse.Namespace) -> int:
    from medaction.eval.compare import parse_point, scaling

    try:
        pts = [parse_point(p) for p in args.points]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _check_results([d for _, _, d in pts])
    print(scaling(pts, Path(args.out)))
    return 0


def _agreement(args: argparse.Namespace) -> int:
    from medaction.eval.agreement import load_labels, measure, render
    from medaction.outputs import UsageError, refuse_input_as_output, write_bytes_atomic

    labels_path = Path(args.labels)
    if not labels_path.is_file():
        raise UsageError(f"medaction eval agreement: {labels_path}: labels file not found")
    if args.json:
        refuse_input_as_output(args.json, labels_path)
    try:
        labels = load_labels(labels_path)
    except ValueError as exc:
        raise UsageError(f"medaction eval agreement: {exc}") from None
    res = asyncio.run(measure(_judge(args), labels))
    if args.json:
        import msgspec

        write_bytes_atomic(args.json, msgspec.json.format(msgspec.json.encode(res), indent=2))
    sys.stdout.write(render(res))  # its last line is "agreement: 0.xxx"
    return 0


def _judge_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--judge", default="offline", help="offline (default) or llm")
    p.add_argument("--judge-config", help='TOML/JSON file or inline JSON, e.g. \'{"policy": "openai_http", ...}\'')


def add_parser(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> None:
    p = subparsers.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--policy", help="policy backend name (see medaction.policies.base.available())")
    p.add_argument("--policy-config", help="TOML/JSON file or inline JSON for the backend's config")
    p.add_argument("--cases", help="case file")
    p.add_argument("--source", choices=("auto", "agentclinic", "medrbench", "jsonl"), default="auto",
                   help="format of --cases (default: auto = from the file's content)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", default="runs/eval")
    p.add_argument("--limit", type=int, default=None, help="first N cases only")
    p.add_argument("--max-turns", type=int, default=8)
    p.add_argument("--seed", type=int, default=0, help="base seed; run k uses base + 1009 k")
    p.add_argument("--scorer", default="kg", help="scorer for DTC/RAC analyses (kg, or identity for none)")
    p.add_argument("--scorer-config", help="scorer config (TOML/JSON file or inline JSON), e.g. graph paths, tau")
    p.add_argument("--label", help="row name in Table 2 (default: the policy name)")
    _judge_args(p)
    p.set_defaults(func=_run)
    sub = p.add_subparsers(dest="eval_command", metavar="SUBCOMMAND")
    c = sub.add_parser("compare", help="Table 2 side by side for several eval output directories")
    c.add_argument("dirs", nargs="+")
    c.add_argument("--out", default="runs/eval-compare")
    c.set_defaults(func=_compare)
    s = sub.add_parser("scaling", help="data-scaling plot from several training runs' eval results")
    s.add_argument("points", nargs="+", help="SERIES:SIZE:DIR, e.g. dtc+rac:8000:runs/eval-8k")
    s.add_argument("--out", default="runs/eval-scaling/scaling.png")
    s.set_defaults(func=_scaling)
    a = sub.add_parser("agreement", help="agreement of a judge with labels (hand labels, or JSON lines "
                         "with answer, truth, correct); last line: agreement: 0.xxx")
    a.add_argument("--labels", required=True)
    a.add_argument("--json", help="also write the agreement as JSON here")
    _judge_args(a)
    a.set_defaults(func=_agreement)
