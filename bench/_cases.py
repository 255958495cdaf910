"""Bench helper: N distinct cases (the bundled AgentClinic cases, cycled, with new ids) as a JSONL file."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import msgspec

from medaction.envs.load import default_cases_path, iter_environments, write_jsonl
from medaction.envs.types import Environment


def many_cases(n: int) -> Iterator[Environment]:
    base = list(iter_environments("agentclinic", default_cases_path()))
    for i, env in zip(range(n), itertools.cycle(base), strict=False):
        yield msgspec.structs.replace(env, case_id=f"{env.case_id}-x{i:05d}")


def write_cases(n: int, path: Path) -> Path:
    write_jsonl(many_cases(n), path)
    return path
