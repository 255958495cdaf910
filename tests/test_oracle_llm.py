"""The LLM oracle against a real OpenAI-compatible HTTP server on 127.0.0.1 that plays the oracle model: answers
from the prompt's documented record, caching per (case, normalised order), untrusted replies mapped to UNAVAILABLE
and counted, the matcher as a first pass, persistence across actor restarts, and a whole engine run."""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest
from http_fixtures import ChatHandler, serve

from medaction.envs.types import UNAVAILABLE, Environment, TestItem
from medaction.policies.llm_oracle import SYSTEM, LLMOracle, LLMOracleSettings
from medaction.policies.backends.openai_http import OpenAIHTTPConfig, OpenAIHTTPPolicy

ENV = Environment(
    case_id="c-llm", source="jsonl", initial_observation="A 40-year-old with fatigue.",
    tests=(TestItem(name="Hemoglobin", category="Complete blood count", result="Hemoglobin 9.1 g/dL, low"),
           TestItem(name="Ferritin", category="Iron studies", result="Ferritin 6 ng/mL, very low"),
           TestItem(name="Chest X-ray", category="Imaging", result="No acute cardiopulmonary process")),
    diagnosis="Iron deficiency anemia")


class _OracleModel(ChatHandler):
    """Plays the oracle model: looks the order up in the prompt's record; some orders trigger bad replies."""

    orders: Counter[str] = Counter()
    bodies: list[dict] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_json()
        user = body["messages"][-1]["content"]
        order = user.rsplit("Ordered test:", 1)[1].strip()
        with self.lock:
            type(self).orders[order] += 1
            type(self).bodies.append(body)
        finish, content = "stop", UNAVAILABLE
        if order == "ramble":
            content = "Hemoglobin " * 500
        elif order == "invent":
            content = "Serum unobtainium 42 zorbs per litre, strikingly raised"
        elif order == "cutoff":
            finish, content = "length", "Hemoglobin 9."
        elif order == "blank":
            content = "   "
        else:
            words = [w for w in re.findall(r"[a-z]+", order.lower()) if len(w) > 3]
            for line in re.findall(r"^\d+\. (.+)$", user, re.M):
                label, _, result = line.partition(": ")
                if any(w in label.lower() for w in words):
                    content = result
                    break
        self.send_json({"choices": [{"message": {"role": "assistant", "content": content},
                                     "finish_reason": finish}], "usage": {"prompt_tokens": 50, "completion_tokens": 9}})


@pytest.fixture()
def model_url():
    _OracleModel.orders, _OracleModel.bodies = Counter(), []
    with serve(_OracleModel) as url:
        yield url


def _oracle(url: str, **kw) -> LLMOracle:
    return LLMOracle(ENV, OpenAIHTTPPolicy(OpenAIHTTPConfig(base_url=url, max_attempts=1)),
                     settings=LLMOracleSettings(**kw))


def test_answers_from_record_and_caches_per_normalised_order(model_url):
    o = _oracle(model_url)

    async def go():
        a = await o.answer(["ferritin", "Ferritin.", "  FERRITIN  ", "ferritin"])  # concurrent, one key
        b = await o.answer(["chest x-ray", "troponin"])
        return a, b

    (f1, f2, f3, f4), (cxr, trop) = asyncio.run(go())
    assert {r.result for r in (f1, f2, f3, f4)} == {"Ferritin 6 ng/mL, very low"} and f1.available
    assert f1.matched == ("Iron studies > Ferritin",) and f2.request == "Ferritin."
    assert _OracleModel.orders["ferritin"] == 1 and sum(_OracleModel.orders.values()) == 3  # one call per key
    assert cxr.result == "No acute cardiopulmonary process" and not trop.available and trop.result == UNAVAILABLE
    body = _OracleModel.bodies[0]
    assert body["temperature"] == 0.0 and body["messages"][0]["content"] == SYSTEM
    assert "Iron deficiency" not in str(body)  # the ground truth never reaches the oracle model
    assert o.stats["cache_hits"] == 3 and o.stats["llm_available"] == 2 and o.stats["llm_unavailable"] == 1


def test_unusable_replies_become_unavailable_and_are_counted(model_url):
    o = _oracle(model_url, max_result_chars=300)
    replies = asyncio.run(o.answer(["ramble", "invent", "cutoff", "blank"]))
    assert all(not r.available and r.result == UNAVAILABLE for r in replies)
    assert {k: v for k, v in o.stats.items() if k.startswith("unusable_")} == {
        "unusable_too_long": 1, "unusable_ungrounded": 1, "unusable_truncated": 1, "unusable_empty": 1}


def test_matcher_first_pass_spares_the_model(model_url):
    o = _oracle(model_url, matcher_first=True)
    hb, cxr_like = asyncio.run(o.answer(["hemoglobin", "plain film of the thorax"]))
    assert hb.available and "9.1" in hb.result and _OracleModel.orders["hemoglobin"] == 0  # matcher answered
    assert o.stats["matcher"] >= 1 and o.stats["llm_calls"] == sum(_OracleModel.orders.values())


def test_actor_cache_survives_restart(ray_session, model_url, tmp_path):
    import ray

    from medaction.actors.oracle import OracleActor

    kw = {"kind": "llm", "backend": "openai_http", "backend_config": {"base_url": model_url, "max_attempts": 1},
          "cache_dir": str(tmp_path), "index": 0}
    a = OracleActor.remote(**kw)
    ray.get(a.add.remote(ENV))
    first = ray.get(a.answer.remote(ENV.case_id, ("ferritin", "troponin")))
    ray.kill(a)
    b = OracleActor.remote(**kw)  # a restart: same arguments, state lost, file kept
    ray.get(b.add.remote(ENV))
    again = ray.get(b.answer.remote(ENV.case_id, ("Ferritin", "troponin")))
    assert [r.result for r in again] == [r.result for r in first]
    assert sum(_OracleModel.orders.values()) == 2  # the second actor asked the model nothing
    assert ray.get(b.counts.remote())["cache_hits"] == 2
    ray.kill(b)


def test_engine_run_with_llm_oracle(ray_session, model_url, tmp_path: Path):
    from medaction.engine.config import load_config
    from medaction.engine.run_job import run

    cfg = load_config(None, [
        "cases.limit=2", "tree.k=1", "tree.b=1", "tree.max_turns=4", "tree.free_share=0.0",
        "policies.0.id=heuristic", "policies.0.backend=heuristic", "engine.call_timeout_s=30",
        "engine.progress_bar=false", "oracle.kind=llm", "oracle.backend=openai_http",
        f"oracle.config.base_url={model_url!r}".replace("'", '"'), "oracle.config.max_attempts=2"])
    summary = run(cfg, out_dir=tmp_path / "run", progress=False)
    assert summary.trajectories >= 2 and summary.oracle["llm_calls"] == sum(_OracleModel.orders.values()) > 0
    assert summary.oracle["requests"] >= summary.oracle["llm_calls"]
    replies = []
    for shard in msgspec.json.decode((tmp_path / "run" / "manifest.json").read_bytes())["shards"]:
        for row in pq.read_table(tmp_path / "run" / shard["file"]).to_pylist():
            for node in msgspec.json.decode(row["trajectory_json"])["nodes"]:
                replies.extend(node["replies"])
    assert replies and any(r["available"] for r in replies)
    lines = (tmp_path / "run" / "oracle_cache" / "oracle-0.jsonl").read_bytes().splitlines()
    assert len(lines) == summary.oracle["llm_calls"]
