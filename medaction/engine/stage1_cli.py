"""`medaction envs extract | gold | agreement`: Stage-1 commands; medaction/cli.py adds them to the envs group.

extract   reports (MedR-Bench raw_case, text files, PMC JATS XML) -> environments JSONL via any policy backend;
          local asyncio by default, `--ray` runs it on the Ray cluster with the engine's PolicyActors.
gold      environments -> gold trajectories in parquet shards (origin="gold").
agreement extracted environments vs. a reference importer's environments for the same case ids.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from medaction.config import read_policy_config

from medaction.envs.errors import RejectLog
from medaction.outputs import UsageError
from medaction.stage1.extract import Check, ExtractConfig
from medaction.stage1.extract_run import ExtractOutputs, ReportJob, run_extraction
from medaction.policies.types import SamplingParams


def report_jobs(paths: Sequence[str], fmt: str | None, rejects: RejectLog | None = None) -> Iterator[ReportJob]:
    """Reports from the input parsers of envs/report_input.py, as extraction jobs; bad files go to `rejects`."""
    from medaction.envs import report_input  # raw text / JATS / MedR-Bench raw_case parsing

    for rep in report_input.iter_reports([Path(p) for p in paths], fmt=fmt, rejects=rejects):
        yield ReportJob(case_id=rep.case_id, text=rep.text, meta=dict(rep.meta))


def default_checks() -> list[Check]:
    """The leakage check of envs/leakage.py (o1 must not reveal menu results or the diagnosis)."""
    from medaction.stage1.extract import leakage_check

    return [leakage_check]


def _extract(args: argparse.Namespace) -> int:
    cfg = ExtractConfig(
        max_report_chars=args.max_report_chars,
        params=SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens),
        repair=not args.no_repair,
    )
    backend_cfg = read_policy_config(args.policy_config)
    rejects = RejectLog(args.rejects)
    jobs: Iterator[ReportJob] = report_jobs(args.input, args.format, rejects)
    first = next(jobs, None)  # zero readable reports is an error before any output is opened
    if first is None:
        rejects.close()
        for rej in rejects.rejects[:10]:
            print(f"medaction envs extract: rejected input {rej.file}: {rej.where}: {rej.field}: {rej.reason}",
                  file=sys.stderr)
        raise UsageError(f"no readable report in {', '.join(args.input)} ({rejects.count} inputs rejected)")
    jobs = itertools.chain([first], jobs)
    if args.limit:
        jobs = itertools.islice(jobs, args.limit)
    checks = [] if args.no_leakage_check else default_checks()
    with rejects, ExtractOutputs(args.out, args.failures, resume=args.resume) as out:
        if args.ray:
            from medaction.engine.extract_job import ExtractJobConfig, run_extract_job  # Ray lives in the engine

            job = ExtractJobConfig(backend=args.policy, config=backend_cfg, replicas=args.replicas,
                                   max_concurrency=args.concurrency, num_gpus=args.num_gpus)
            summary = run_extract_job(jobs, out, job, cfg=cfg, checks=checks, seed=args.seed)
        else:
            from medaction.policies.base import build

            policy = build(args.policy, backend_cfg)
            summary = asyncio.run(run_extraction(jobs, policy, out, concurrency=args.concurrency, cfg=cfg,
                                                 checks=checks, seed=args.seed))
    for rej in rejects.rejects:  # unreadable input files: named on stderr, the others went through
        print(f"rejected input {rej.file}: {rej.where}: {rej.field}: {rej.reason}", file=sys.stderr)
    print(json.dumps({**summary, "rejected_inputs": rejects.count}))
    return 0


def _gold(args: argparse.Namespace) -> int:
    from medaction.engine.gold_job import write_gold_shards
    from medaction.envs.case_input import nonempty_cases
    from medaction.scoring.base import build_scorer

    envs = nonempty_cases(args.source, Path(args.cases))
    if args.limit:
        envs = itertools.islice(envs, args.limit)
    narrator = None
    if args.narrator:
        from medaction.policies.base import build

        narrator = build(args.narrator, read_policy_config(args.narrator_config, option="--narrator-config"))
    summary = write_gold_shards(envs, args.out, build_scorer(args.scorer), max_turns=args.max_turns,
                                resume=args.resume, narrator=narrator, narrator_id=args.narrator or "")
    print(json.dumps(summary))
    return 0


def _agreement(args: argparse.Namespace) -> int:
    from medaction.envs.agreement import agreement
    from medaction.envs.case_input import nonempty_cases

    rep = agreement(nonempty_cases("jsonl", Path(args.extracted)),
                    nonempty_cases(args.reference_source, Path(args.reference)))
    if args.json:
        print(msgspec.json.encode(rep).decode())
    else:
        print("\n".join(rep.lines()))
    return 0


def _guard(fn: Any) -> Any:
    """Errors the Stage-1 code raises for bad input (missing files, bad configs or records) are user mistakes:
    one line and exit 2 through medaction/cli.py's convention."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(fn(args))
        except UsageError:
            raise
        except (FileNotFoundError, FileExistsError, KeyError, ValueError) as exc:
            raise UsageError(" ".join(str(exc).split())) from None

    return run


def add_subcommands(envs_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """`extract`, `gold` and `agreement` in the `medaction envs` group (assembled by medaction/cli.py)."""
    p = envs_sub.add_parser("extract", help="LLM extraction of environments from case reports (Stage 1)")
    p.add_argument("--input", nargs="+", required=True, metavar="PATH", help="report files or folders")
    p.add_argument("--format", choices=("medrbench", "text", "jats"), default=None,
                   help="input format (default: from each file's extension/content)")
    p.add_argument("--policy", required=True, help="a registered policy backend (openai_http, hf, vllm, ...)")
    p.add_argument("--policy-config", default=None, help="backend config: .json/.toml file or inline JSON")
    p.add_argument("-o", "--out", required=True, help="environments JSONL (appended to with --resume)")
    p.add_argument("--failures", default=None, help="per-case failures JSONL (default: OUT.failures.jsonl)")
    p.add_argument("--resume", action="store_true", help="skip case ids already in OUT or FAILURES")
    p.add_argument("--rejects", default=None, help="JSONL of input files that could not be read (optional)")
    p.add_argument("--concurrency", type=int, default=8, help="cases in flight (per replica with --ray)")
    p.add_argument("--max-report-chars", type=int, default=ExtractConfig().max_report_chars)
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="stop after N reports (0 = all)")
    p.add_argument("--no-repair", action="store_true", help="no repair retry after an invalid answer")
    p.add_argument("--no-leakage-check", action="store_true", help="skip the o1 leakage check")
    p.add_argument("--ray", action="store_true", help="run on Ray with PolicyActor replicas")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--num-gpus", type=float, default=0.0, help="GPUs per replica (--ray)")
    p.set_defaults(func=_guard(_extract))

    g = envs_sub.add_parser("gold", help="gold trajectories (documented test order) into parquet shards")
    g.add_argument("--source", choices=("auto", "agentclinic", "medrbench", "jsonl"), default="auto",
                   help="cases format (default: auto = from the file's content)")
    g.add_argument("--cases", required=True, help="environments file (e.g. the output of `envs extract`)")
    g.add_argument("-o", "--out", required=True, help="output dir: shards/*.parquet + manifest.json")
    g.add_argument("--scorer", default="identity", help="registered scorer (identity, kg, ...)")
    g.add_argument("--max-turns", type=int, default=8)
    g.add_argument("--limit", type=int, default=0)
    g.add_argument("--resume", action="store_true")
    g.add_argument("--narrator", default=None, help="policy backend that writes richer reasoning (optional)")
    g.add_argument("--narrator-config", default=None)
    g.set_defaults(func=_guard(_gold))

    a = envs_sub.add_parser("agreement", help="field-level agreement of extracted vs. reference environments")
    a.add_argument("extracted", help="environments JSONL from `envs extract`")
    a.add_argument("--reference", required=True, help="reference cases file")
    a.add_argument("--reference-source", choices=("auto", "agentclinic", "medrbench", "jsonl"), default="medrbench")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_guard(_agreement))

