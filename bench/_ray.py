"""Bench helper: the local Ray every engine benchmark runs on, set up one way."""

from __future__ import annotations

import os


def start_local_ray(num_cpus: int) -> None:
    """A private local Ray on 127.0.0.1 with auth off (benchmarks only; the library never sets these)."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # Ray nices its workers to 15; on a shared box that measures the neighbours, not the engine.
    os.environ.setdefault("RAY_worker_niceness", "0")
    import ray

    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
