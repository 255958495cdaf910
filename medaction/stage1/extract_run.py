"""Streaming, resumable extraction over many reports with a bounded number of cases in flight (no Ray).

Outputs are append-only JSONL: environments (readable by `iter_environments("jsonl", ...)`) and failures (one
`ExtractFailure` per line). Each line is flushed as its case finishes, so a killed run loses at most the cases in
flight; `--resume` reads both files, drops a torn last line, and skips every case id already there. The Ray job
(medaction/engine/extract_job.py) drives the same `extract_case` and the same `ExtractOutputs`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import IO

import msgspec

from medaction.stage1.extract import Check, ExtractConfig, ExtractResult, Problem, extract_case
from medaction.envs.types import Environment
from medaction.policies.base import Policy


class ReportJob(msgspec.Struct, frozen=True, kw_only=True):
    """One report to extract: its case id, its text, and metadata copied to the environment (title, file, ...)."""

    case_id: str
    text: str
    meta: dict[str, object] = {}


class ExtractFailure(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the failures file."""

    case_id: str
    reason: str
    attempts: int = 0
    problems: tuple[Problem, ...] = ()
    raw: str = ""


class _IdOnly(msgspec.Struct):
    case_id: str


def _read_ids(path: Path) -> set[str]:
    """Case ids of a JSONL file; a torn last line (killed mid-write) is cut off the file."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    ids: set[str] = set()
    good_end = 0
    dec = msgspec.json.Decoder(_IdOnly)
    pos = 0
    for line in data.splitlines(keepends=True):
        pos += len(line)
        if not line.strip():
            good_end = pos
            continue
        try:
            ids.add(dec.decode(line).case_id)
        except msgspec.DecodeError:
            if pos < len(data):  # a bad line in the middle is not ours to repair
                raise ValueError(f"{path}: byte {pos - len(line)}: unreadable line; cannot resume") from None
            break
        good_end = pos
    if good_end < len(data) or (data and not data.endswith(b"\n")):
        with path.open("r+b") as fh:  # drop the torn tail and make the file end with a newline
            fh.truncate(good_end)
            if good_end and not data[:good_end].endswith(b"\n"):
                fh.write(b"\n")
    return ids


class ExtractOutputs:
    """The two append-only result files plus counters. `done` holds the ids to skip when resuming."""

    def __init__(self, envs_path: str | Path, failures_path: str | Path | None = None, *, resume: bool = False):
        self.envs_path = Path(envs_path)
        self.failures_path = Path(failures_path) if failures_path else self.envs_path.with_suffix(".failures.jsonl")
        self.done: set[str] = set()
        if not resume:  # never truncate a file this run did not write (docs/design.md, "Outputs")
            for p in (self.envs_path, self.failures_path):
                if p.exists() and p.stat().st_size:
                    raise FileExistsError(f"{p} is not empty; pass --resume to continue it, or choose a new output")
        if self.failures_path == self.envs_path:
            raise FileExistsError(f"{self.failures_path}: the failures file must differ from the environments file")
        if resume:
            self.done = _read_ids(self.envs_path) | _read_ids(self.failures_path)
        mode = "ab" if resume else "wb"
        for p in (self.envs_path, self.failures_path):
            p.parent.mkdir(parents=True, exist_ok=True)
        self._envs: IO[bytes] = self.envs_path.open(mode)
        self._fails: IO[bytes] = self.failures_path.open(mode)
        self._enc = msgspec.json.Encoder()
        self.ok = 0
        self.failed = 0
        self.repaired = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def write(self, r: ExtractResult) -> None:
        self.prompt_tokens += r.prompt_tokens
        self.completion_tokens += r.completion_tokens
        if r.env is not None:
            self.ok += 1
            self.repaired += r.attempts > 1
            self._envs.write(self._enc.encode(r.env) + b"\n")
            self._envs.flush()
        else:
            self.failed += 1
            f = ExtractFailure(case_id=r.case_id, reason=r.failure, attempts=r.attempts, problems=r.problems, raw=r.raw)
            self._fails.write(self._enc.encode(f) + b"\n")
            self._fails.flush()
        self.done.add(r.case_id)

    def summary(self) -> dict[str, object]:
        return {
            "ok": self.ok, "failed": self.failed, "repaired": self.repaired,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "envs": str(self.envs_path), "failures": str(self.failures_path),
        }

    def close(self) -> None:
        self._envs.close()
        self._fails.close()

    def __enter__(self) -> ExtractOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pending(jobs: Iterable[ReportJob], done: set[str]) -> Iterable[ReportJob]:
    """Jobs not done yet; a case id seen twice in the input is extracted once."""
    seen = set(done)
    for job in jobs:
        if job.case_id not in seen:
            seen.add(job.case_id)
            yield job


async def extract_stream(
    jobs: Iterable[ReportJob],
    policy: Policy,
    *,
    concurrency: int = 8,
    cfg: ExtractConfig = ExtractConfig(),
    checks: Sequence[Check] = (),
    seed: int = 0,
) -> AsyncIterator[ExtractResult]:
    """Results in completion order, at most `concurrency` cases in flight; the input is read lazily."""
    it = iter(jobs)
    inflight: set[asyncio.Task[ExtractResult]] = set()

    def launch() -> bool:
        job = next(it, None)
        if job is None:
            return False
        coro = extract_case(job.case_id, job.text, policy, seed=seed, cfg=cfg, checks=checks, meta=job.meta)
        inflight.add(asyncio.ensure_future(coro))
        return True

    while len(inflight) < concurrency and launch():
        pass
    while inflight:
        done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            inflight.discard(task)
            yield task.result()
            launch()


async def run_extraction(
    jobs: Iterable[ReportJob],
    policy: Policy,
    out: ExtractOutputs,
    *,
    concurrency: int = 8,
    cfg: ExtractConfig = ExtractConfig(),
    checks: Sequence[Check] = (),
    seed: int = 0,
    on_result: Callable[[ExtractResult], None] | None = None,
) -> dict[str, object]:
    """Extract every pending job into `out`; returns the summary counters."""
    async for r in extract_stream(
        pending(jobs, out.done), policy, concurrency=concurrency, cfg=cfg, checks=checks, seed=seed
    ):
        out.write(r)
        if on_result is not None:
            on_result(r)
    return out.summary()


def read_envs(path: str | Path) -> list[Environment]:
    """The environments of an extraction output (for tests and small tools; big files: iter_environments)."""
    dec = msgspec.json.Decoder(Environment)
    return [dec.decode(line) for line in Path(path).read_bytes().splitlines() if line.strip()]
