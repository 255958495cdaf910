"""Shared fixtures of the policy tests: `medaction serve` apps on one real Ray Serve instance (started once)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def serve_apps(ray_session) -> Iterator[dict[str, str]]:
    from ray import serve

    from medaction.engine.serve import FaultSpec, ServeConfig, start

    port = free_port()
    sim = {"time_scale": 0.0}
    apps = {
        "clean": ServeConfig(backend="sim", policy_config=sim, port=port, num_cpus=0.1, app_name="t-clean",
                             route_prefix="/clean", model_name="sim-clean"),
        "faulty": ServeConfig(backend="sim", policy_config=sim, port=port, num_cpus=0.1, app_name="t-faulty",
                              route_prefix="/faulty",
                              faults=FaultSpec(share_429=0.2, share_500=0.15, share_stall=0.1, stall_s=1.5, seed=3)),
        "down": ServeConfig(backend="sim", policy_config=sim, port=port, num_cpus=0.1, app_name="t-down", route_prefix="/down",
                            faults=FaultSpec(share_500=1.0)),
    }
    urls = {k: start(cfg) for k, cfg in apps.items()}
    yield urls
    for cfg in apps.values():
        serve.delete(cfg.app_name)
    serve.shutdown()
