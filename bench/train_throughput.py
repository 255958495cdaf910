"""SFT throughput on this machine: steps/s and tokens/s for the tiny random Llama (full FT and LoRA) and for
SmolLM2-135M LoRA, all on the same synthetic shards in one run; prints the ratios.

    python bench/train_throughput.py [--steps 20] [--smollm2-steps 6] [--threads 1] [--max-length 256]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests.support helpers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--smollm2-steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--micro-batch", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sft-bench-") as d:
        run(args, Path(d))


def run(args: argparse.Namespace, tmp: Path) -> None:
    from medaction.trainers.config import load_config
    from medaction.trainers.local import build_examples, train_local
    from tests.support.synthetic import synthetic_shards
    from tests.support.tiny import build_tiny_student

    shards = synthetic_shards(tmp / "shards", n_cases=64, n_turns=3)
    base = [f"data.shards=['{tmp / 'shards'}']", "data.free_share=0.0", f"model.max_length={args.max_length}",
            f"optim.micro_batch={args.micro_batch}", f"optim.global_batch={args.micro_batch * 2}",
            f"optim.cpu_threads={args.threads}", "optim.epochs=100", "output.log_every=1000"]
    table, _ = build_examples(load_config(None, base).data)
    tiny = build_tiny_student(tmp / "tiny", [m["content"] for r in table.to_pylist() for m in r["messages"]])
    runs = {
        "tiny_full_ft": [f"model.path='{tiny}'", "lora.enabled=false", f"optim.max_steps={args.steps}"],
        "tiny_lora": [f"model.path='{tiny}'", f"optim.max_steps={args.steps}"],
        "smollm2_lora": ["model.loader='smollm2'", f"optim.max_steps={args.smollm2_steps}"],
    }
    results = {}
    for name, extra in runs.items():
        cfg = load_config(None, [*base, *extra, f"output.dir='{tmp / name}'"])
        t0 = time.perf_counter()
        r = train_local(cfg, report=lambda m, c: None)
        results[name] = {"steps": r["step"], "steps_per_s": round(r["steps_per_s"], 3),
                         "tokens_per_s": round(r["tokens_per_s"], 1), "wall_s": round(time.perf_counter() - t0, 1),
                         "final_loss": round(r["loss"], 3)}
        print(name, json.dumps(results[name]), flush=True)
    t, s = results["tiny_lora"], results["smollm2_lora"]
    print(f"global batch {args.micro_batch * 2} (micro {args.micro_batch} x accum 2), max_length {args.max_length}, "
          f"threads {args.threads}, shards {len(shards)}")
    print(f"ratio tokens/s tiny_lora / smollm2_lora = {t['tokens_per_s'] / s['tokens_per_s']:.1f}x")
    print(f"ratio tokens/s tiny_full_ft / tiny_lora = "
          f"{results['tiny_full_ft']['tokens_per_s'] / t['tokens_per_s']:.2f}x")


if __name__ == "__main__":
    main()
