"""Session fixtures: one real local Ray for the whole test session (ray.init costs ~4 s)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Bind Ray to 127.0.0.1 on this machine (tests only; the library never sets it).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Property tests draw the same examples on every run (a suite that fails by chance blocks a landing); set
# MEDACTION_HYPOTHESIS_EXPLORE=1 to draw new ones when hunting bugs (then pin what they find as a plain test).
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("deterministic", derandomize=True, database=None)
    _hypothesis_settings.register_profile("explore")
    _hypothesis_settings.load_profile("explore" if os.environ.get("MEDACTION_HYPOTHESIS_EXPLORE") else "deterministic")
except ImportError:  # hypothesis is a dev extra; the tests that use it import it themselves
    pass

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
# The core suite needs nothing outside the repository: AgentClinic is bundled in the package (MIT) and a 20-case
# MedR-Bench subset lies in tests/data (CC BY-NC-SA, see LICENSE-medrbench.md). The full public sets beside the
# checkout (../shared, or MEDACTION_SHARED) are optional: the tests that need them skip when they are absent.
SHARED = Path(os.environ.get("MEDACTION_SHARED") or REPO.parent / "shared")
SHARED_MEDRBENCH = SHARED / "data" / "cases" / "medrbench_diagnosis_demo100.json"
SHARED_JUDGED = SHARED / "data" / "judge" / "medrbench_judged_answers_dev.jsonl"
MEDRBENCH_SUBSET = DATA / "medrbench_subset20.json"


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray, started once per test session. Tests that need Ray take this fixture."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield ray
    # shut down at session end only: other tests reuse it


@pytest.fixture(scope="session")
def agentclinic_path() -> Path:
    """The 214 AgentClinic cases (the package's bundled copy of the public file)."""
    from medaction.envs.load import default_cases_path

    return default_cases_path()


@pytest.fixture(scope="session")
def medrbench_path() -> Path:
    """20 real MedR-Bench cases bundled with the tests: the same cases on every machine."""
    return MEDRBENCH_SUBSET


@pytest.fixture(scope="session")
def medrbench_full_path() -> Path:
    """All 100 MedR-Bench demo cases; skips where ../shared is absent (a fresh clone)."""
    return _optional(SHARED_MEDRBENCH)


@pytest.fixture(scope="session")
def judged_answers_path() -> Path:
    """The 1,257 LLM answers with LLM-judge labels; skips where ../shared is absent (a fresh clone)."""
    return _optional(SHARED_JUDGED)


def _optional(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"optional shared data not found: {path} (set MEDACTION_SHARED=/path/to/shared to run this)")
    return path
