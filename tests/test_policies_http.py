"""openai_http against real servers: a recording HTTP server (headers, body, key secrecy) and `medaction serve`
on Ray Serve with injected 429/500/stall faults (every request answered or reported, none dropped)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import httpx
import pytest
from http_fixtures import ChatHandler, serve
from policies_fixtures import free_port, serve_apps  # noqa: F401 - session fixture

from medaction.policies.base import PolicyError, build
from medaction.policies.backends.openai_http import OpenAIHTTPConfig, OpenAIHTTPPolicy
from medaction.policies.types import Completion, Message, SamplingParams

SECRET = "sk-test-DO-NOT-LEAK-4f9a2c"
MSGS = (Message("system", "You are a careful physician."), Message("user", "A 45-year-old man with chest pain."))
PARAMS = SamplingParams(temperature=0.3, top_p=0.9, max_tokens=64)


class _Recorder(ChatHandler):
    """Answers OpenAI-style; the first `fail_first` requests get 429 then 500 alternately; records every request."""

    seen: list[tuple[dict[str, str], dict]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        type(self).seen.append((dict(self.headers), body))
        n = len(type(self).seen)
        if n <= type(self).fail_first:
            self.send_empty(429 if n % 2 else 500)
            return
        self.send_json({
            "choices": [{"message": {"role": "assistant", "content": f"echo seed={body.get('seed')}"}}],
            "usage": {"prompt_tokens": 17, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 16}},
        })


@pytest.fixture()
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Rec", (_Recorder,), {"seen": [], "fail_first": 0})
    with serve(handler) as url:
        yield url, handler


async def test_request_fields_usage_and_retry(recorder, monkeypatch) -> None:
    url, rec = recorder
    rec.fail_first = 2  # one 429 then one 500, then success
    monkeypatch.setenv("MEDACTION_TEST_KEY", SECRET)
    pol = build("openai_http", {"base_url": url, "model": "m1", "api_key_env": "MEDACTION_TEST_KEY",
                                "backoff_base_s": 0.01, "max_attempts": 4})
    out = await pol.complete(MSGS, session="case-42", seed=1234, params=PARAMS)
    assert out.text == "echo seed=1234"
    assert (out.prompt_tokens, out.completion_tokens, out.cached_tokens) == (17, 5, 16)
    assert len(rec.seen) == 3 and pol.retries == 2
    headers, body = rec.seen[-1]
    assert headers["X-Session-Id"] == "case-42" and body["user"] == "case-42"
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert body["seed"] == 1234 and body["model"] == "m1"
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.3, 0.9, 64)
    assert body["messages"][1] == {"role": "user", "content": MSGS[1].content}
    await pol.aclose()


async def test_api_key_never_leaks(recorder, monkeypatch, caplog) -> None:
    url, rec = recorder
    rec.fail_first = 100  # always failing: exhausts retries
    monkeypatch.setenv("MEDACTION_TEST_KEY", SECRET)
    cfg = OpenAIHTTPConfig(base_url=url, api_key_env="MEDACTION_TEST_KEY", max_attempts=3, backoff_base_s=0.01)
    pol = OpenAIHTTPPolicy(cfg)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PolicyError) as info:
        await pol.complete(MSGS, session="s", seed=0, params=PARAMS)
    assert "3 attempts" in str(info.value)
    texts = [repr(pol), repr(cfg), str(cfg), str(info.value), repr(info.value), caplog.text]
    assert all(SECRET not in t for t in texts)
    assert "MEDACTION_TEST_KEY" in repr(cfg)  # only the variable's name is kept
    assert len(rec.seen) == 3
    await pol.aclose()


async def test_missing_key_env_is_a_policy_error(monkeypatch) -> None:
    monkeypatch.delenv("MEDACTION_ABSENT_KEY", raising=False)
    pol = OpenAIHTTPPolicy(OpenAIHTTPConfig(api_key_env="MEDACTION_ABSENT_KEY"))
    with pytest.raises(PolicyError, match="MEDACTION_ABSENT_KEY"):
        await pol.complete(MSGS, session="s", seed=0, params=PARAMS)


async def test_connection_refused_is_retried_then_reported() -> None:
    port = free_port()  # nothing listens there
    pol = OpenAIHTTPPolicy(OpenAIHTTPConfig(base_url=f"http://127.0.0.1:{port}/v1", max_attempts=3,
                                            backoff_base_s=0.01))
    with pytest.raises(PolicyError, match="connection error"):
        await pol.complete(MSGS, session="s", seed=0, params=PARAMS)
    assert pol.attempts == 3


# ---------------------------------------------------------------- real Ray Serve endpoint (`medaction serve`)
async def test_serve_clean_answers_and_is_deterministic(serve_apps) -> None:
    url = serve_apps["clean"]
    async with httpx.AsyncClient() as c:
        models = (await c.get(f"{url}/models")).json()
    assert models["data"][0]["id"] == "sim-clean"
    pol = OpenAIHTTPPolicy(OpenAIHTTPConfig(base_url=url, timeout_s=30))
    a = await pol.complete(MSGS, session="c1", seed=5, params=PARAMS)
    b = await pol.complete(MSGS, session="c1", seed=5, params=PARAMS)
    assert a.text == b.text and '"differential"' in a.text
    assert a.prompt_tokens > 0 and 0 < a.completion_tokens <= PARAMS.max_tokens
    assert b.cached_tokens > 0  # the sim's prefix cache saw this prompt already
    await pol.aclose()


async def test_serve_faults_every_request_answered_or_reported(serve_apps) -> None:
    url = serve_apps["faulty"]
    pol = OpenAIHTTPPolicy(OpenAIHTTPConfig(base_url=url, timeout_s=0.75, max_attempts=8, backoff_base_s=0.05,
                                            backoff_max_s=0.4, concurrency=16))
    n = 40
    results = await asyncio.gather(
        *(pol.complete(MSGS, session=f"case-{i}", seed=i, params=PARAMS) for i in range(n)), return_exceptions=True
    )
    answered = [r for r in results if isinstance(r, Completion)]
    reported = [r for r in results if isinstance(r, PolicyError)]
    assert len(answered) + len(reported) == n  # nothing dropped, no other exception type
    assert len(answered) >= n - 2  # 0.45^8 failure chance per request
    assert pol.retries > 0 and pol.attempts == n + pol.retries
    async with httpx.AsyncClient() as c:
        stats = (await c.get(f"{url}/stats")).json()
    assert stats["fault_429"] > 0 and stats["fault_500"] > 0 and stats["fault_stall"] > 0
    assert stats["ok"] >= len(answered)
    print(f"\nretry test: {n} requests, {len(answered)} answered, {len(reported)} PolicyError, "
          f"{pol.retries} retries, server stats {stats}")
    await pol.aclose()


async def test_serve_down_reports_policy_error(serve_apps) -> None:
    pol = OpenAIHTTPPolicy(OpenAIHTTPConfig(base_url=serve_apps["down"], max_attempts=2, backoff_base_s=0.01))
    with pytest.raises(PolicyError, match="HTTP 500"):
        await pol.complete(MSGS, session="s", seed=0, params=PARAMS)
    await pol.aclose()


async def test_loop_over_faulty_and_down_servers_keeps_every_trajectory(serve_apps) -> None:
    import itertools

    from medaction.envs.load import default_cases_path, iter_environments
    from medaction.tree.loop import rollout

    envs = list(itertools.islice(iter_environments("agentclinic", default_cases_path()), 4))
    flaky = OpenAIHTTPPolicy(OpenAIHTTPConfig(base_url=serve_apps["faulty"], timeout_s=0.75, max_attempts=8,
                                              backoff_base_s=0.05, backoff_max_s=0.4))
    trajs = await asyncio.gather(*(rollout(e, flaky, max_turns=3, seed=i, policy_id="sim-http")
                                   for i, e in enumerate(envs)))
    assert [t.case_id for t in trajs] == [e.case_id for e in envs]
    assert all(t.stop in ("final", "max_turns") and t.nodes for t in trajs)
    down = OpenAIHTTPPolicy(OpenAIHTTPConfig(base_url=serve_apps["down"], max_attempts=2, backoff_base_s=0.01))
    lost = await rollout(envs[0], down, max_turns=3, seed=0, policy_id="down")
    assert lost.stop == "policy_error" and "HTTP 500" in lost.error and lost.case_id == envs[0].case_id
    await flaky.aclose()
    await down.aclose()


def test_serve_cli_builds_config() -> None:
    import argparse

    from medaction.engine import serve_cli

    parser = argparse.ArgumentParser()
    serve_cli.add_parser(parser.add_subparsers(), "serve", "serve a policy")
    args = parser.parse_args(["serve", "--policy", "sim", "--policy-config", '{"time_scale": 0}', "--port", "9123",
                              "--fault-429", "0.1", "--fault-stall", "0.05", "--fault-seed", "4"])
    cfg = serve_cli.config_from_args(args)
    assert (cfg.backend, cfg.port, cfg.host, cfg.policy_config) == ("sim", 9123, "127.0.0.1", {"time_scale": 0})
    assert (cfg.faults.share_429, cfg.faults.share_stall, cfg.faults.seed) == (0.1, 0.05, 4)
    from medaction.outputs import UsageError  # medaction.cli.main prints it as one line, exit 2

    with pytest.raises(UsageError, match="policy-config"):
        serve_cli.config_from_args(parser.parse_args(["serve", "--policy-config", "{bad"]))
    with pytest.raises(ValueError, match="sum"):
        serve_cli.config_from_args(parser.parse_args(["serve", "--fault-429", "0.7", "--fault-500", "0.6"]))
