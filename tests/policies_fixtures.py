"""Shared fixtures of the policy tests: `medaction serve` apps on one real Ray Serve instance (started once)."""

from __future__ import annotations

import functools
import socket
from collections.abc import Iterator
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@functools.cache
def shared_smol() -> Any:
    """One SmolLM2 HFPolicy per test process (loading costs seconds; several modules use it)."""
    from medaction.policies.backends.hf import HFConfig, HFPolicy

    return HFPolicy(HFConfig(max_batch=8, batch_wait_ms=30))


_STATE: dict[str, object] = {"refs": 0, "urls": None, "apps": None}


@pytest.fixture(scope="session")
def serve_apps(ray_session) -> Iterator[dict[str, str]]:
    """Imported by several test modules, so pytest makes one fixture per module: the apps are started once
    (module-global state) and shut down when the last user is torn down."""
    from ray import serve

    from medaction.engine.serve import FaultSpec, ServeConfig, start

    if _STATE["urls"] is None:
        port = free_port()
        sim = {"time_scale": 0.0}
        apps = {
            # num_cpus=0: the session Ray has 2 CPUs and these apps outlive this module; reserving CPU here
            # starves the Ray Train / Ray Data tests that run later in the same session.
            "clean": ServeConfig(backend="sim", policy_config=sim, port=port, num_cpus=0, app_name="t-clean",
                                 route_prefix="/clean", model_name="sim-clean"),
            "faulty": ServeConfig(backend="sim", policy_config=sim, port=port, num_cpus=0, app_name="t-faulty",
                                  route_prefix="/faulty",
                                  faults=FaultSpec(share_429=0.2, share_500=0.15, share_stall=0.1, stall_s=1.5,
                                                   seed=3)),
            "down": ServeConfig(backend="sim", policy_config=sim, port=port, num_cpus=0, app_name="t-down",
                                route_prefix="/down", faults=FaultSpec(share_500=1.0)),
        }
        _STATE["urls"] = {k: start(cfg) for k, cfg in apps.items()}
        _STATE["apps"] = apps
    _STATE["refs"] = int(_STATE["refs"]) + 1  # type: ignore[call-overload]
    yield dict(_STATE["urls"])  # type: ignore[call-overload]
    _STATE["refs"] = int(_STATE["refs"]) - 1  # type: ignore[call-overload]
    if _STATE["refs"] == 0:
        for cfg in _STATE["apps"].values():  # type: ignore[union-attr]
            serve.delete(cfg.app_name)
        serve.shutdown()
        _STATE["urls"] = _STATE["apps"] = None
