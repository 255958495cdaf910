"""On-policy GRPO with LoRA on the offline SmolLM2 over the rollout service (docs/rl.md, "On-policy loop").

    python scripts/grpo_smollm2.py --cases 2 --group 2 --iterations 3 --max-tokens 12 --out runs/grpo-demo

Prints one line per iteration (weights version, mean return, loss, lag, timings, the probe completion) and writes
the rows of every rollout (with per-turn policy versions) to OUT/rows-v{version}.parquet.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pyarrow.parquet as pq


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=2)
    ap.add_argument("--group", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--max-turns", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=12)
    ap.add_argument("--max-prompt-tokens", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--entropy-coef", type=float, default=0.0)
    ap.add_argument("--invalid", type=float, default=0.1, help="reward weight of the unusable-turn penalty")
    ap.add_argument("--out", default="runs/grpo-demo")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from medaction.envs.load import default_cases_path, iter_environments
    from medaction.policies.types import SamplingParams
    from medaction.scoring.rewards import RewardConfig
    from medaction.scoring.rows import to_table
    from medaction.trainers.grpo import GRPOConfig, run_grpo

    cases = [e for _, e in zip(range(a.cases), iter_environments("agentclinic", default_cases_path()))]
    cfg = GRPOConfig(iterations=a.iterations, group_size=a.group, max_turns=a.max_turns, lr=a.lr,
                     params=SamplingParams(temperature=1.0, max_tokens=a.max_tokens),
                     max_prompt_tokens=a.max_prompt_tokens, entropy_coef=a.entropy_coef,
                     rewards=RewardConfig(invalid=a.invalid), out_dir=a.out)
    out = Path(a.out)
    for it in run_grpo(cases, cfg):
        pq.write_table(to_table(it.rows), out / f"rows-v{it.version}.parquet")
        print(f"iteration {it.iteration}: version {it.version} mean return {it.mean_return:+.4f} "
              f"returns {[round(r, 3) for r in it.returns]} loss {it.loss} trained turns {it.trained_turns} "
              f"lag {it.lag} rollout {it.rollout_s:.1f}s update {it.update_s:.1f}s probe {it.probe!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
