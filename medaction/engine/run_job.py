"""`run(config)`: the main job around the Driver. Everything checkable is checked before Ray starts and before
anything is created (docs/design.md, "Outputs and resume"): the config, the output directory and the first good
case; then Ray, the Driver, the summary on disk and on the console, and the exit verdict (RunFailed when no case
was read or every trajectory failed, RunInterrupted on Ctrl-C)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import ray

from medaction.engine import manifest as mf
from medaction.engine.config import RunConfig, cases_path, config_hash
from medaction.engine.driver import Driver, open_cases
from medaction.engine.errors import plain
from medaction.engine.summary import RunSummary, table
from medaction.engine.validate import validate_run
from medaction.envs.errors import RecordError, RejectLog
from medaction.envs.types import Environment
from medaction.outputs import RunFailed, UsageError
from medaction.storage import is_uri, resolve

log = logging.getLogger("medaction.engine")


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C: admission stopped, finished trees flushed, manifest written; `summary` says what was kept."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(f"interrupted; {summary.trees_done} trees written this time to {summary.out_dir} "
                         f"(manifest saved)")
        self.summary = summary


# Trajectory stops that mean the run's machinery failed, not the model: the tree is recorded as failed.
def ensure_ray() -> None:
    """Local Ray by default; an existing cluster when RAY_ADDRESS is set (as under `ray job submit`)."""
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=True)



def first_case(cfg: RunConfig) -> tuple[Iterator[Environment], RejectLog]:
    """Open the cases and read up to the first good one, before Ray starts: a file with no usable record fails
    here (RunFailed, nothing created); a bad record under cases.strict is a UsageError naming it."""
    envs, rejects = open_cases(cfg)
    try:
        first = next(envs, None)
    except RecordError as exc:
        raise UsageError(f"cases.strict: {exc}") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cases.path: {exc}") from None
    if first is None:
        r = rejects.rejects[0] if rejects.rejects else None
        where = f"; first: {r.file}: {r.where}: field {r.field!r}: {r.reason}" if r else " (the file is empty)"
        raise RunFailed(plain(f"no case read from {cases_path(cfg)} (cases.source {cfg.cases.source!r}): "
                              f"{rejects.count} records rejected{where}"))
    return itertools.chain([first], envs), rejects


def run(cfg: RunConfig, *, out_dir: str | Path | None = None, resume: bool = False,
        progress: bool = True, force_out: bool = False) -> RunSummary:
    """cases -> environments -> trees of turns -> scoring -> parquet shards + manifest. Returns the summary.

    Everything checkable is checked before Ray starts and before anything is created (UsageError, exit 2). A run
    that read no case, or whose every trajectory failed on a policy error, raises RunFailed (exit 1) after writing
    its summary; Ctrl-C raises RunInterrupted after writing the finished trees and the manifest."""
    validate_run(cfg)
    target = str(out_dir or cfg.output.dir)
    out = target if is_uri(target) else Path(target).absolute()  # a URI (s3://...) or a local directory
    mf.prepare_output(out, config_hash(cfg), resume=resume, force_out=force_out)
    cases = first_case(cfg)
    ensure_ray()
    resolve(out).mkdirs()
    driver = Driver(cfg, out, resume=resume, progress=progress, force_out=force_out, cases=cases)
    try:
        summary = asyncio.run(driver.run())
    finally:
        driver.shutdown()
    resolve(out).join(mf.SUMMARY).write_bytes(msgspec.json.format(msgspec.json.encode(summary)))
    log.info("run summary\n%s", table(summary))
    _report(summary)
    if summary.interrupted:
        raise RunInterrupted(summary)
    if summary.cases_seen == 0:
        first = f"; first: {summary.first_reject}" if summary.first_reject else ""
        raise RunFailed(f"no case read from {driver.cases_path} (cases.source {cfg.cases.source!r}): "
                        f"{summary.records_rejected} records rejected{first}")
    failed = summary.stops.get("policy_error", 0)
    if summary.trajectories and failed == summary.trajectories:
        cause = next(iter(summary.failure_causes), "policy_error")
        raise RunFailed(f"every trajectory failed ({failed}), e.g. {cause}; fix the cause and rerun with --resume "
                        f"(failed trees are retried)")
    return summary


def _report(s: RunSummary) -> None:
    """The counts a user must see even without the log: rejected records and failed trajectories by cause."""
    if s.records_rejected:
        print(f"medaction run: {s.records_rejected} case records rejected (first: {s.first_reject})", file=sys.stderr)
    for cause, n in s.failure_causes.items():
        print(f"medaction run: {n} trajectories failed: {cause}", file=sys.stderr)
    for line in s.shards_invalid:
        print(f"medaction run: shard dropped on resume, its trees re-run: {line}", file=sys.stderr)
    for line in s.orphans_moved:
        print(f"medaction run: unlisted file set aside: {line}", file=sys.stderr)
