"""`medaction serve`: expose a registered policy as an OpenAI-compatible endpoint on Ray Serve."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import TYPE_CHECKING

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

    try:
        policy_config = json.loads(args.policy_config)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--policy-config is not valid JSON: {exc}") from None
    if not isinstance(policy_config, dict):
        raise SystemExit("--policy-config must be a JSON object")
    faults = FaultSpec(
        share_429=args.fault_429, share_500=args.fault_500, share_stall=args.fault_stall,
        stall_s=args.stall_s, seed=args.fault_seed,
    )
    return ServeConfig(
        backend=args.policy, policy_config=policy_config, model_name=args.model_name, host=args.host,
        port=args.port, num_replicas=args.replicas, faults=faults,
    )


def run(args: argparse.Namespace) -> int:
    import ray

    from medaction.engine import serve as serve_mod

    cfg = config_from_args(args)
    ray.init(address=args.ray_address, include_dashboard=False, ignore_reinit_error=True)
    url = serve_mod.start(cfg)
    print(f"serving policy {cfg.backend!r} at {url}/chat/completions (Ctrl-C to stop)", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    serve_mod.stop(cfg)
    return 0
