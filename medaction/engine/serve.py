"""Ray Serve deployment exposing any registered policy as an OpenAI-compatible chat-completions endpoint.

Routes: POST /v1/chat/completions, GET /v1/models. Binds 127.0.0.1 by default. `FaultSpec` injects seeded 429 / 500
answers and stalls so clients' retry paths are exercised against a real server.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from typing import Any

import msgspec
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from medaction.policies.base import PolicyError, build
from medaction.policies.types import Message, SamplingParams


class FaultSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Shares of requests answered with a fault; the draw is seeded so a test run is reproducible."""

    share_429: float = 0.0
    share_500: float = 0.0
    share_stall: float = 0.0
    stall_s: float = 5.0  # a stalled request waits this long, then answers 503 (the client has timed out by then)
    seed: int = 0

    def __post_init__(self) -> None:
        total = self.share_429 + self.share_500 + self.share_stall
        if min(self.share_429, self.share_500, self.share_stall) < 0 or total > 1.0:
            raise ValueError(f"FaultSpec: shares must be >= 0 and sum to <= 1 (got {total})")


class ServeConfig(msgspec.Struct, frozen=True, kw_only=True):
    backend: str = "heuristic"
    policy_config: dict[str, Any] = {}
    model_name: str = ""  # name reported by /v1/models; defaults to the backend name
    host: str = "127.0.0.1"
    port: int = 8000
    app_name: str = "medaction-policy"
    route_prefix: str = "/"
    num_replicas: int = 1
    max_ongoing_requests: int = 128
    num_cpus: float = 1.0  # per replica; a GPU backend sets num_gpus
    num_gpus: float = 0.0
    faults: FaultSpec = FaultSpec()


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def _params(body: dict[str, Any]) -> SamplingParams:
    stop = body.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(str(s) for s in stop)
    defaults = SamplingParams()
    return SamplingParams(
        temperature=float(body.get("temperature", defaults.temperature)),
        top_p=float(body.get("top_p", defaults.top_p)),
        max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or defaults.max_tokens),
        stop=stop,
    )


@serve.deployment
class PolicyServer:
    """One replica holds one built policy. Counters are for tests and monitoring (GET /v1/stats)."""

    def __init__(self, config_json: bytes) -> None:
        self.cfg = msgspec.json.decode(config_json, type=ServeConfig)
        self.policy = build(self.cfg.backend, self.cfg.policy_config or None)
        self.model_name = self.cfg.model_name or self.cfg.backend
        self._rng = random.Random(self.cfg.faults.seed)
        self.stats = {"requests": 0, "ok": 0, "fault_429": 0, "fault_500": 0, "fault_stall": 0, "errors": 0}

    def _fault(self) -> str:
        f = self.cfg.faults
        u = self._rng.random()
        if u < f.share_429:
            return "429"
        if u < f.share_429 + f.share_500:
            return "500"
        if u < f.share_429 + f.share_500 + f.share_stall:
            return "stall"
        return ""

    async def __call__(self, request: Request) -> Response:
        path = request.url.path.rstrip("/")
        if request.method == "GET" and path.endswith("/v1/models"):
            return JSONResponse({"object": "list", "data": [{"id": self.model_name, "object": "model"}]})
        if request.method == "GET" and path.endswith("/v1/stats"):
            return JSONResponse(self.stats)
        if request.method == "POST" and path.endswith("/v1/chat/completions"):
            return await self._chat(request)
        return _error(404, f"no route {request.method} {path}", "not_found")

    async def _chat(self, request: Request) -> Response:
        self.stats["requests"] += 1
        fault = self._fault()
        if fault == "429":
            self.stats["fault_429"] += 1
            return _error(429, "injected rate limit", "rate_limit")
        if fault == "500":
            self.stats["fault_500"] += 1
            return _error(500, "injected server error", "server_error")
        if fault == "stall":
            self.stats["fault_stall"] += 1
            await asyncio.sleep(self.cfg.faults.stall_s)
            return _error(503, "injected stall", "server_error")
        try:
            body = json.loads(await request.body())
            messages = [Message(role=str(m["role"]), content=str(m["content"])) for m in body["messages"]]
            params = _params(body)
            seed = int(body.get("seed") or 0)
        except (ValueError, KeyError, TypeError) as exc:
            self.stats["errors"] += 1
            return _error(400, f"bad request: {type(exc).__name__}: {exc}", "invalid_request_error")
        session = request.headers.get("x-session-id") or str(body.get("user") or "")
        try:
            out = await self.policy.complete(messages, session=session, seed=seed, params=params)
        except PolicyError as exc:
            self.stats["errors"] += 1
            return _error(502, f"policy error: {exc}", "server_error")
        self.stats["ok"] += 1
        message = {"role": "assistant", "content": out.text}
        if out.reasoning:  # the field vLLM/SGLang reasoning parsers use, so clients keep it apart
            message["reasoning_content"] = out.reasoning
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model_name,
                "choices": [
                    {"index": 0, "message": message, "finish_reason": out.finish_reason or "stop"}
                ],
                "usage": {
                    "prompt_tokens": out.prompt_tokens,
                    "completion_tokens": out.completion_tokens,
                    "total_tokens": out.prompt_tokens + out.completion_tokens,
                    "prompt_tokens_details": {"cached_tokens": out.cached_tokens},
                },
            }
        )


def build_app(cfg: ServeConfig) -> serve.Application:
    dep = PolicyServer.options(
        num_replicas=cfg.num_replicas,
        max_ongoing_requests=cfg.max_ongoing_requests,
        ray_actor_options={"num_cpus": cfg.num_cpus, "num_gpus": cfg.num_gpus},
    )
    return dep.bind(msgspec.json.encode(cfg))


def start(cfg: ServeConfig) -> str:
    """Start Serve's HTTP proxy on cfg.host:cfg.port (Ray must be initialised) and deploy; returns the base URL."""
    serve.start(http_options={"host": cfg.host, "port": cfg.port})
    serve.run(build_app(cfg), name=cfg.app_name, route_prefix=cfg.route_prefix, blocking=False)
    prefix = cfg.route_prefix.rstrip("/")
    return f"http://{cfg.host}:{cfg.port}{prefix}/v1"


def stop(cfg: ServeConfig) -> None:
    serve.delete(cfg.app_name)
