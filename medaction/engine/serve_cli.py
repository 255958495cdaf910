"""`medaction serve`: expose a registered policy as an OpenAI-compatible endpoint on Ray Serve."""

from __future__ import annotations

import argparse
import signal
import socket
import threading
from typing import TYPE_CHECKING

from medaction.config import read_policy_config
from medaction.policies.base import check_config
from medaction.outputs import RunFailed, UsageError

if TYPE_CHECKING:  # serve.py imports Ray Serve: keep `medaction --help` fast
    from medaction.engine.serve import ServeConfig


def add_parser(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--policy", default="heuristic", help="registered backend name (see medaction.policies.base)")
    p.add_argument("--policy-config", default="{}", help="backend config as JSON, e.g. '{\"time_scale\": 0}'")
    p.add_argument("--model-name", default="", help="name reported by /v1/models (default: the backend name)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default: start a local one)")
    p.add_argument("--fault-429", type=float, default=0.0, help="share of requests answered 429 (testing)")
    p.add_argument("--fault-500", type=float, default=0.0, help="share of requests answered 500 (testing)")
    p.add_argument("--fault-stall", type=float, default=0.0, help="share of requests stalled (testing)")
    p.add_argument("--stall-s", type=float, default=5.0)
    p.add_argument("--fault-seed", type=int, default=0)
    p.set_defaults(func=run)
    return p


def config_from_args(args: argparse.Namespace) -> ServeConfig:
    from medaction.engine.serve import FaultSpec, ServeConfig

    policy_config = read_policy_config(args.policy_config)
    check_config(args.policy, policy_config, where=f"--policy {args.policy}")
    try:
        faults = FaultSpec(
            share_429=args.fault_429, share_500=args.fault_500, share_stall=args.fault_stall,
            stall_s=args.stall_s, seed=args.fault_seed,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.replicas < 1:
        raise UsageError(f"--replicas {args.replicas}: must be >= 1")
    return ServeConfig(
        backend=args.policy, policy_config=policy_config, model_name=args.model_name, host=args.host,
        port=args.port, num_replicas=args.replicas, faults=faults,
    )


def check_port_free(host: str, port: int) -> None:
    """Bind the port once ourselves: a busy port is one line here, not a 100-line Ray Serve traceback later."""
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: not a TCP port (1-65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: cannot resolve ({exc.strerror})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT from a just-stopped server is fine
        try:
            s.bind(addr)
        except OSError as exc:
            raise UsageError(f"{host}:{port}: port not available ({exc.strerror}); pick another with --port") from None


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    check_port_free(cfg.host, cfg.port)

    import ray

    from medaction.engine import serve as serve_mod

    ray.init(address=args.ray_address, include_dashboard=False, ignore_reinit_error=True)
    try:
        url = serve_mod.start(cfg)
    except Exception as exc:  # Ray's message is many lines with the cause last: keep the cause
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        raise RunFailed(f"Ray Serve did not start: {lines[-1] if lines else type(exc).__name__}") from None
    print(f"serving policy {cfg.backend!r} at {url}/chat/completions (Ctrl-C to stop)", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    serve_mod.stop(cfg)
    return 0
