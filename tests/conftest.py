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

REPO = Path(__file__).resolve().parents[1]
# The real public cases live beside the checkout (../shared); MEDACTION_SHARED points elsewhere.
SHARED = Path(os.environ.get("MEDACTION_SHARED") or REPO.parent / "shared")
AGENTCLINIC = SHARED / "data" / "cases" / "agentclinic_medqa_extended.jsonl"
MEDRBENCH = SHARED / "data" / "cases" / "medrbench_diagnosis_demo100.json"


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
    return _shared(AGENTCLINIC)


@pytest.fixture(scope="session")
def medrbench_path() -> Path:
    return _shared(MEDRBENCH)


def _shared(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"shared case data not found: {path} (run from a checkout beside ../shared, or set "
                    f"MEDACTION_SHARED=/path/to/shared)", pytrace=False)
    return path
