"""`openai_http`: any OpenAI-compatible chat-completions server (vLLM, SGLang, hosted APIs, `medaction serve`).

Retries with jittered exponential backoff on 429/5xx/timeouts/connection errors, bounded attempts, then PolicyError.
The API key is read from the env var NAMED in the config at request time and is never stored on the config, put in
a repr, an exception message or a log line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Sequence
from typing import Any

import httpx
import msgspec

from medaction.policies.base import Backend, PolicyError
from medaction.policies.parsing.reasoning import split_think
from medaction.policies.types import Completion, Message, SamplingParams

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class OpenAIHTTPConfig(msgspec.Struct, frozen=True, kw_only=True):
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "default"
    api_key_env: str = ""  # NAME of the env var holding the key; empty = no Authorization header
    timeout_s: float = 120.0  # per request attempt
    connect_timeout_s: float = 10.0
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    concurrency: int = 64
    send_seed: bool = True
    extra_body: dict[str, Any] = {}  # passed through, e.g. {"chat_template_kwargs": {...}}


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


class OpenAIHTTPPolicy:
    """Async client; one pooled httpx.AsyncClient per event loop (Ray actors and tests each run their own loop)."""

    def __init__(self, config: OpenAIHTTPConfig, *, rng: random.Random | None = None) -> None:
        if config.max_attempts < 1:
            raise ValueError("openai_http: max_attempts must be >= 1")
        if config.concurrency < 1:
            raise ValueError("openai_http: concurrency must be >= 1")
        self.config = config
        self._rng = rng or random.Random()
        # per event loop (keyed by id, the loop object kept to detect id reuse after a loop is closed)
        self._clients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient, asyncio.Semaphore]] = {}
        self.attempts = 0  # total HTTP attempts made (observability; tests read it)
        self.retries = 0

    def __repr__(self) -> str:  # config holds only the env var NAME, never the key
        return f"OpenAIHTTPPolicy(base_url={self.config.base_url!r}, model={self.config.model!r})"

    def _api_key(self) -> str | None:
        name = self.config.api_key_env
        if not name:
            return None
        key = os.environ.get(name)
        if not key:
            raise PolicyError(f"openai_http: env var {name} named by api_key_env is not set")
        return key

    def _client(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        hit = self._clients.get(id(loop))
        if hit is None or hit[0] is not loop or hit[1].is_closed:
            c = self.config
            limits = httpx.Limits(max_connections=c.concurrency, max_keepalive_connections=c.concurrency)
            timeout = httpx.Timeout(c.timeout_s, connect=c.connect_timeout_s)
            client = httpx.AsyncClient(base_url=c.base_url.rstrip("/") + "/", limits=limits, timeout=timeout)
            hit = (loop, client, asyncio.Semaphore(c.concurrency))
            self._clients[id(loop)] = hit
        return hit[1], hit[2]

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for _, client, _ in clients.values():
            await client.aclose()

    def _body(self, messages: Sequence[Message], session: str, seed: int, params: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "user": session,
        }
        if params.stop:
            body["stop"] = list(params.stop)
        if self.config.send_seed:
            body["seed"] = int(seed)
        body.update(self.config.extra_body)
        return body

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        c = self.config
        cap = min(c.backoff_max_s, c.backoff_base_s * (2**attempt))
        delay = self._rng.uniform(0.0, cap)  # "full jitter": spreads a burst of 429s apart
        if retry_after is not None:
            delay = max(delay, min(retry_after, c.backoff_max_s))
        return delay

    async def complete(
        self, messages: Sequence[Message], *, session: str, seed: int, params: SamplingParams
    ) -> Completion:
        key = self._api_key()
        headers = {"X-Session-Id": session}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = self._body(messages, session, seed, params)
        client, sem = self._client()
        last = ""
        t0 = time.perf_counter()
        async with sem:
            for attempt in range(self.config.max_attempts):
                self.attempts += 1
                try:
                    return _parse(await self._attempt(client, body, headers), time.perf_counter() - t0)
                except PolicyError as exc:  # not retryable; the server's body could echo anything
                    raise PolicyError(_redact(str(exc), key)) from None
                except _Retryable as exc:
                    last = _redact(exc.reason, key)
                    if attempt + 1 >= self.config.max_attempts:
                        break
                    self.retries += 1
                    delay = self._backoff(attempt, exc.retry_after)
                    log.info("openai_http retry %d for session %s after %s (%.2fs)", attempt + 1, session, last, delay)
                    await asyncio.sleep(delay)
        raise PolicyError(f"openai_http: {self.config.max_attempts} attempts failed; last: {last}")

    async def _attempt(self, client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]) -> Any:
        try:
            resp = await client.post("chat/completions", json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout ({type(exc).__name__})") from None
        except (httpx.TransportError, OSError) as exc:  # connection refused/reset, protocol errors
            raise _Retryable(f"connection error ({type(exc).__name__})") from None
        if resp.status_code in _RETRY_STATUS or resp.status_code >= 500:
            raise _Retryable(f"HTTP {resp.status_code}", _retry_after(resp))
        if resp.status_code >= 400:
            # not retryable (bad request, auth): the body may echo the request but never the key header
            raise PolicyError(f"openai_http: HTTP {resp.status_code}: {resp.text[:300]}")
        try:
            return resp.json()
        except ValueError:
            raise _Retryable("invalid JSON body") from None


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _parse(data: Any, latency: float) -> Completion:
    """Server output is untrusted: missing fields -> PolicyError with the field named, never KeyError."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
        text = message["content"] or ""
    except (KeyError, IndexError, TypeError):
        raise PolicyError("openai_http: response has no choices[0].message.content") from None
    # Reasoning parsers (vLLM, SGLang) and hosted reasoning APIs put the thoughts beside the answer; a server
    # without one leaves a <think> block inline in the content.
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    if not isinstance(reasoning, str):
        reasoning = ""
    text = str(text)
    if not reasoning:
        reasoning, text = split_think(text)
    finish = choice.get("finish_reason") if isinstance(choice, dict) else None
    usage = data.get("usage") or {} if isinstance(data, dict) else {}
    if not isinstance(usage, dict):
        usage = {}
    details = usage.get("prompt_tokens_details") or {}
    return Completion(
        text=text,
        reasoning=reasoning,
        finish_reason=finish if isinstance(finish, str) and len(finish) <= 32 else "",
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        cached_tokens=_int(details.get("cached_tokens") if isinstance(details, dict) else 0),
        latency_s=latency,
    )


def _int(v: Any) -> int:
    try:
        return max(0, int(v or 0))
    except (TypeError, ValueError):
        return 0


BACKEND = Backend(config_type=OpenAIHTTPConfig, factory=OpenAIHTTPPolicy)
