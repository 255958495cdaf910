"""Live weight updates (docs/rl.md, "Weight updates"): a LoRA adapter pushed to running hf policy actors in the
middle of a rollout. Turns served before the swap carry version 0, turns served after it version 1, the labels
agree with the actor's own serving log, and nothing restarts. Also: bad updates are refused, and the hf swap
really changes the served weights."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("peft")


@pytest.fixture(scope="module")
def zero_adapter(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A real peft LoRA adapter for SmolLM2 (B = 0 at init: same outputs, new version)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from medaction.policies.backends.hf import default_model_dir

    path = tmp_path_factory.mktemp("adapter") / "v1"
    model = AutoModelForCausalLM.from_pretrained(default_model_dir())
    get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], task_type="CAUSAL_LM")
                   ).save_pretrained(path)
    return path


def test_adapter_pushed_mid_run(ray_session, agentclinic_path, zero_adapter) -> None:  # type: ignore[no-untyped-def]
    # "retry" (the harder case for labels: requests may finish across the swap); "finish" is checked at the actor
    # level in test_inflight_requests_finish_or_retry
    on_inflight = "retry"
    import ray

    from medaction.engine.config import TeacherConfig
    from medaction.engine.rollout_service import RolloutService
    from medaction.envs.load import iter_environments
    from medaction.policies.types import SamplingParams
    from medaction.scoring.rows import from_row

    cases = [e for _, e in zip(range(2), iter_environments("agentclinic", agentclinic_path))]
    # max_concurrency 2: the 8 root lines are served two at a time, so the run is long enough to swap in the middle
    teacher = TeacherConfig(id="smol", backend="hf", max_concurrency=2,
                            config={"max_prompt_tokens": 96, "threads": 1, "max_batch": 2})
    with RolloutService(teacher, on_inflight=on_inflight) as svc:
        actor = svc.actors[0]
        pid = ray.get(actor.ping.remote())["pid"]
        box: dict = {}

        def run() -> None:
            try:
                box["batch"] = svc.rollout(cases, group_size=4, max_turns=2, trainer_step=1,
                                           params=SamplingParams(temperature=1.0, max_tokens=6))
            except BaseException as exc:  # noqa: BLE001
                box["error"] = exc

        th = threading.Thread(target=run)
        th.start()
        deadline = time.time() + 300
        while ray.get(actor.ping.remote())["calls"] < 3 and time.time() < deadline:
            time.sleep(0.2)
        rec = svc.update_weights(str(zero_adapter), version=1)[0]
        th.join(600)
        assert "error" not in box, box.get("error")
        batch = box["batch"]
        info = ray.get(actor.ping.remote())
        served = ray.get(actor.served_log.remote())

    assert info["pid"] == pid and info["version"] == 1  # same process: no restart
    assert rec["version"] == 1 and rec["on_inflight"] == on_inflight and 3 <= rec["at_call"] < info["calls"]
    nodes = [(row, n) for g in batch.groups for t in g.trajectories for row in [t.row]
             for n in from_row(row).trajectory.nodes]
    versions = [n.policy_version for _, n in nodes]
    assert 0 in versions and 1 in versions, versions
    for g in batch.groups:
        for t in g.trajectories:
            assert list(t.versions) == sorted(t.versions)  # never back to the old weights within a line
            assert t.row["policy_versions"] == list(t.versions)
    # the label of every turn is the version the actor served it with, and the actor served v0 strictly before v1
    by_seed = {(s, seed): v for s, seed, v, _ in served}
    for _, n in nodes:
        assert by_seed[(n.tree_id.partition("::")[2], n.seed)] == n.policy_version
    seq = [v for _, _, v, _ in served]
    assert seq == sorted(seq), seq  # all version-0 completions came before all version-1 completions
    assert batch.stats["versions"] == [0, 1] and batch.stats["max_lag"] == 1  # trainer step 1, oldest turn v0


def test_refused_updates(ray_session, zero_adapter, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import ray

    from medaction.engine.config import TeacherConfig
    from medaction.engine.rollout_service import RolloutService

    with RolloutService(TeacherConfig(id="h", backend="heuristic")) as svc:
        with pytest.raises(ray.exceptions.RayTaskError, match="no adapter_config.json"):
            svc.update_weights(str(tmp_path))
        with pytest.raises(ray.exceptions.RayTaskError, match="has no weights to update"):
            svc.update_weights(str(zero_adapter))
        assert ray.get(svc.actors[0].ping.remote())["version"] == 0 and svc.published == 0


async def test_hf_swap_changes_served_weights(zero_adapter, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In-process: a non-zero adapter changes the logits; a second version replaces (not stacks on) the first."""
    import torch
    from peft import PeftModel

    from medaction.policies.backends.hf import HFConfig, HFPolicy
    from medaction.policies.backends.weights import WeightUpdate, apply_update

    pol = HFPolicy(HFConfig(max_prompt_tokens=64))
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        base = pol.model(input_ids=ids).logits[0, -1]
    bumped = tmp_path / "v2"
    m = PeftModel.from_pretrained(pol.model, zero_adapter, is_trainable=True)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "lora_B" in name:
                p.fill_(0.05)
    m.save_pretrained(bumped)
    pol.model = m.unload()  # back to the plain base model for the policy under test
    await apply_update(pol, WeightUpdate(version=1, path=str(zero_adapter)))
    with torch.no_grad():
        v1 = pol.model(input_ids=ids).logits[0, -1]
    await apply_update(pol, WeightUpdate(version=2, path=str(bumped)))
    with torch.no_grad():
        v2 = pol.model(input_ids=ids).logits[0, -1]
    assert torch.allclose(v1, base, atol=1e-4)  # B = 0 adapter: same function
    assert (v2 - base).abs().max() > 1e-2  # the real adapter changed the served weights
    assert list(pol.model.peft_config) == ["v2"]  # the old adapter was dropped
    # full weights from a checkpoint dir (here the base model's own): the adapter is gone, base logits are back
    from medaction.policies.backends.hf import default_model_dir

    await apply_update(pol, WeightUpdate(version=3, path=str(default_model_dir()), kind="full"))
    with torch.no_grad():
        v3 = pol.model(input_ids=ids).logits[0, -1]
    assert not isinstance(pol.model, PeftModel) and torch.allclose(v3, base, atol=1e-4)


@pytest.mark.parametrize("on_inflight", ["finish", "retry"])
def test_inflight_requests_finish_or_retry(ray_session, zero_adapter, on_inflight: str) -> None:  # type: ignore[no-untyped-def]
    """Two long requests are inside the actor when the update arrives: `finish` serves both on v0 and the swap waits
    for them; `retry` swaps at the next batch boundary without waiting for them, and each request reports the
    version it was produced on (a request finished across the swap is run again on v1)."""
    import ray

    from medaction.actors.policy import start_policy_actors
    from medaction.policies.types import Message, SamplingParams
    from medaction.policies.backends.weights import WeightUpdate

    (actor,) = start_policy_actors(teacher="t", backend="hf", config={"max_batch": 1, "threads": 1,
                                                                       "max_prompt_tokens": 64},
                                   replicas=1, max_concurrency=4, num_cpus=0, num_gpus=0, max_restarts=0)
    try:
        ray.get(actor.ping.remote())
        msgs = (Message("user", "Tell me a long story about a doctor."),)
        params = SamplingParams(temperature=1.0, max_tokens=48)
        refs = []
        for seed in (1, 2):  # one after the other, so the backend serves them in this order (max_batch 1)
            refs.append(actor.complete_versioned.remote(msgs, "s", seed, params))
            while ray.get(actor.ping.remote())["calls"] < len(refs):  # the request is inside the backend
                pass
        rec = ray.get(actor.load_weights.remote(WeightUpdate(version=1, path=str(zero_adapter)), on_inflight))
        versions = [v for _, v in ray.get(refs)]
        info = ray.get(actor.weights.remote())
    finally:
        ray.kill(actor)
    if on_inflight == "finish":
        assert versions == [0, 0] and info["retried"] == 0 and rec["waited_s"] > 0
    else:
        assert rec["waited_s"] < 0.5  # did not drain the running requests
        assert versions == sorted(versions) and versions[-1] == 1  # the queued one ran on (or was retried on) v1
    assert info["version"] == 1
