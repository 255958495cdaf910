"""The accelerate SFT loop on a tiny random Llama (local tokenizer, no hub): learning, checkpoints, resume, CLI,
and the Ray Train path with 2 workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import torch

from medaction.trainers.config import DataConfig, TrainConfig, load_config
from medaction.trainers.local import build_examples, micro_batches
from medaction.trainers.loop import train_loop
from medaction.trainers.student import load_student
from tests.support.tiny import build_tiny_student
from tests.support.stdout_json import last_json_object
from medaction.trainers.tokens import tokenize_rows


TURNS = [
    'The picture suggests an infection.\n{"differential": [{"diagnosis": "pneumonia", "confidence": 0.6}, '
    '{"diagnosis": "bronchitis", "confidence": 0.3}], "pivot": "imaging separates them", "tests": ["chest x-ray"]}',
    'Imaging is decisive.\n{"differential": [{"diagnosis": "pneumonia", "confidence": 0.8}], "pivot": "confirm", '
    '"tests": ["blood culture"]}',
    'Committing.\n{"final_diagnosis": "pneumonia", "differential": [{"diagnosis": "pneumonia", "confidence": 0.9}]}',
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, ray_session) -> tuple[Path, Path]:
    """Shards from a real small engine run (scripted teacher, 6 bundled cases, K=2 + 1 branch) + a tiny student."""
    from medaction.engine.config import load_config as run_config
    from medaction.engine.run_job import run

    root = tmp_path_factory.mktemp("sft")
    cfg = run_config(None, ["cases.limit=6", "tree.k=2", "tree.b=1", "tree.width=1", "tree.free_share=0.0",
                            "policies.0.backend=scripted",
                            "policies.0.id=scripted", f"policies.0.config.turns={json.dumps(TURNS)}",
                            f"output.dir={root / 'run'}", "engine.progress_bar=false"])
    summary = run(cfg, progress=False)
    assert summary.rows == 18 and summary.stops == {"final": 18}
    shards = root / "run" / "shards"
    # identity-scored rows: DTC measured nothing, so the default dtc+rac filter's fallback keeps none of them
    # (correct is unknown); these tests are about training, so they select with filter = "none"
    assert build_examples(DataConfig(shards=(str(shards),), free_share=None))[0].num_rows == 0
    table, _ = build_examples(DataConfig(shards=(str(shards),), free_share=None, dedupe=False, filter="none"))
    assert table.num_rows == 54  # 18 trajectories x 3 kept turns
    # the scripted teacher writes the same texts on both roots and the branch of a case: one example per
    # distinct (prompt, target), i.e. 3 per case
    assert build_examples(DataConfig(shards=(str(shards),), free_share=None, filter="none"))[0].num_rows == 18
    texts = [m["content"] for r in table.to_pylist()[:12] for m in r["messages"]]
    return shards, build_tiny_student(root / "tiny", texts)


def _cfg(setup: tuple[Path, Path], out: Path, *extra: str) -> TrainConfig:
    shards, tiny = setup
    return load_config(None, [f"data.shards=['{shards}']", "data.dedupe=false", "data.filter=none",
                              f"model.path='{tiny}'",
                              "model.max_length=160",
                              "optim.global_batch=8", "optim.micro_batch=4", "optim.lr=3e-3",
                              "lora.dropout=0.0", "optim.cpu_threads=1", f"output.dir='{out}'", *extra])


def _run(cfg: TrainConfig) -> tuple[Any, list[dict[str, Any]], Any]:
    model, tok = load_student(cfg.model)
    table, _ = build_examples(cfg.data)
    rows = tokenize_rows(table.to_pylist(), tok, max_length=cfg.model.max_length, truncation="left", packing=False)
    seen: list[dict[str, Any]] = []
    result = train_loop(cfg, model, tok, micro_batches(rows, cfg.optim.micro_batch, cfg.optim.seed), len(rows),
                        lambda m, ckpt: seen.append(dict(m, ckpt=ckpt)))
    return model, seen, result


def test_full_ft_loss_decreases_over_20_steps(setup, tmp_path: Path) -> None:
    cfg = _cfg(setup, tmp_path, "lora.enabled=false", "optim.epochs=4")
    _, seen, result = _run(cfg)
    losses = [m["loss"] for m in seen]
    assert result["total_steps"] == 4 * 7 and result["step"] == 28  # 51 examples / 8 -> 7 steps per epoch
    assert sum(losses[-3:]) / 3 < 0.75 * sum(losses[:3]) / 3
    assert seen[-1]["lr"] == pytest.approx(0.0, abs=1e-9)  # cosine ends at 0
    assert max(m["lr"] for m in seen) <= 3e-3
    assert result["tokens_per_s"] > 0 and result["steps_per_s"] > 0


def test_lora_checkpoint_reload_reproduces_outputs(setup, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = _cfg(setup, tmp_path, "optim.epochs=1", "output.save_every=3")
    model, seen, result = _run(cfg)
    assert [m["ckpt"].name for m in seen if m["ckpt"]] == ["checkpoint-000003", "checkpoint-000006",
                                                             "checkpoint-000007"]
    assert seen[-1]["loss"] < seen[0]["loss"]
    ckpt = Path(result["checkpoint"]) / "model"
    assert (ckpt / "adapter_config.json").is_file()  # LoRA by default: the adapter is what is saved
    base = AutoModelForCausalLM.from_pretrained(cfg.model.path)
    reloaded = PeftModel.from_pretrained(base, ckpt).eval()
    model.eval()
    x = torch.tensor([[5, 17, 42, 99, 7, 3]])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x).logits, model(x).logits, rtol=1e-5, atol=1e-5)
        fresh = AutoModelForCausalLM.from_pretrained(cfg.model.path)(x).logits
    assert not torch.allclose(fresh, model(x).logits, atol=1e-4)  # training changed the outputs


def test_resume_from_checkpoint_matches_uninterrupted_run(setup, tmp_path: Path) -> None:
    base = ["lora.enabled=false", "optim.epochs=2", "output.save_every=5"]
    full_model, full_seen, _ = _run(_cfg(setup, tmp_path / "a", *base))
    resumed_cfg = _cfg(setup, tmp_path / "a", *base, f"output.resume_from='{tmp_path / 'a' / 'checkpoint-000005'}'")
    resumed_cfg = msgspec.structs.replace(resumed_cfg, output=msgspec.structs.replace(resumed_cfg.output,
                                                                                      dir=str(tmp_path / "b")))
    res_model, res_seen, res = _run(resumed_cfg)
    assert res_seen[0]["step"] == 6 and res["step"] == full_seen[-1]["step"] == 14
    for (name, p), (_, q) in zip(full_model.named_parameters(), res_model.named_parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)


def test_cli_plan_and_examples_out(setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medaction.cli import main

    shards, tiny = setup
    cfg = tmp_path / "t.toml"
    cfg.write_text(f'[data]\nshards = ["{shards}"]\nfree_share = 0.1\nfilter = "none"\n'
                   f'[model]\nloader = "hf_dir"\npath = "{tiny}"\n')
    out = tmp_path / "ex.parquet"
    assert main(["train", str(cfg), "--examples-out", str(out), "--set", "data.format=chat"]) == 0
    report = last_json_object(capsys.readouterr().out)
    # chat: one per trajectory; each case's second root writes exactly what its first wrote (scripted teacher), so
    # its conversation is a duplicate: 18 selected, 12 examples, 6 duplicates counted
    assert report["selection"]["selected"] == 18 and report["examples"] == 12
    assert report["example_counts"]["duplicates"] == 6
    assert out.is_file()
    assert main(["train", str(cfg), "--set", "optim.global_batch=7"]) == 2
    assert "global_batch 7 is not a multiple of micro_batch 4" in capsys.readouterr().err
    assert main(["train", str(cfg), "--set", "data.shards=['/nonexistent/x.parquet']", "--plan"]) == 2
    assert "/nonexistent/x.parquet" in capsys.readouterr().err


def test_cli_ray_train_two_workers(setup, tmp_path: Path, ray_session, capsys: pytest.CaptureFixture[str]) -> None:
    """`medaction train CONFIG --ray-workers 2`: TorchTrainer, each worker streaming its Ray Data shard."""
    from medaction.cli import main

    shards, tiny = setup
    cfg = tmp_path / "t.toml"
    cfg.write_text(f'[data]\nshards = ["{shards}"]\nmax_examples = 32\ndedupe = false\nfilter = "none"\n'
                   f'[model]\npath = "{tiny}"\n'
                   f'max_length = 160\n[optim]\nepochs = 1\nglobal_batch = 8\nmicro_batch = 4\ncpu_threads = 1\n'
                   f'[output]\ndir = "{tmp_path / "out"}"\nlog_every = 2\n[ray]\ncpus_per_worker = 0.5\n')
    assert main(["train", str(cfg), "--ray-workers", "2"]) == 0
    metrics = last_json_object(capsys.readouterr().out)
    assert metrics["step"] == 4  # 32 examples / global batch 8 (2 workers x micro 4 x accumulation 1)
    assert metrics["tokens"] > 0 and metrics["loss"] == metrics["loss"]  # not NaN
    assert 0 < metrics["left_truncated_rank"] <= 16  # rank 0's 16 rows; real prompts exceed 160 tokens
    assert (tmp_path / "out" / "checkpoint-000004" / "model" / "adapter_config.json").is_file()
    assert metrics["ray_checkpoint"] and Path(metrics["ray_checkpoint"]).is_dir()


def test_cli_local_train(setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from medaction.cli import main

    shards, tiny = setup
    config = Path(__file__).resolve().parents[1] / "configs" / "train_sft.toml"
    args = ["train", str(config), "--set", f"data.shards=['{shards}']", "--set", "data.dedupe=false",
            "--set", "data.filter=none", "--set", "model.loader=hf_dir",
            "--set", f"model.path='{tiny}'", "--set", "model.max_length=160", "--set", "optim.max_steps=2",
            "--set", "optim.global_batch=8", "--set", "optim.cpu_threads=1", "--set", f"output.dir='{tmp_path}'"]
    assert main(args) == 0
    result = last_json_object(capsys.readouterr().out)
    assert result["step"] == 2 and result["selection"]["selected"] == 18
    assert result["tokenisation"]["left_truncated"] > 0  # real prompts exceed 160 tokens: cut on the left only
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 3  # 2 steps + the end checkpoint
