"""Stage-1 extraction quality on MedR-Bench: extract environments from `raw_case` with any policy backend, then
print the field-level agreement with the MedR-Bench importer's environments for the same cases (and failures).

    python bench/extract_agreement.py --policy hf --n 2 --max-report-chars 1500 --max-tokens 96
    python bench/extract_agreement.py --policy openai_http --policy-config '{"base_url": "..."}' --n 100
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

from medaction.envs.agreement import agreement
from medaction.stage1.extract import ExtractConfig, ExtractResult
from medaction.config import read_policy_config
from medaction.stage1.extract_run import ExtractOutputs, ReportJob, run_extraction
from medaction.envs.load import iter_environments
from medaction.policies.base import build
from medaction.policies.types import SamplingParams

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cases" / "medrbench_diagnosis_demo100.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=str(DEFAULT))
    ap.add_argument("--policy", required=True)
    ap.add_argument("--policy-config", default=None)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--max-report-chars", type=int, default=1500)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--concurrency", type=int, default=1)
    args = ap.parse_args()

    raw = json.loads(Path(args.cases).read_text(encoding="utf-8"))
    keys = list(itertools.islice(raw, args.n))
    jobs = [ReportJob(case_id=k, text=raw[k]["raw_case"]) for k in keys]
    cfg = ExtractConfig(max_report_chars=args.max_report_chars,
                        params=SamplingParams(temperature=0.0, max_tokens=args.max_tokens))
    policy = build(args.policy, read_policy_config(args.policy_config))
    results: list[ExtractResult] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ExtractOutputs(Path(tmp) / "e.jsonl") as out:
        summary = asyncio.run(run_extraction(jobs, policy, out, concurrency=args.concurrency, cfg=cfg,
                                             on_result=results.append))
    wall = time.perf_counter() - t0
    refs = [e for e in iter_environments("medrbench", args.cases) if e.case_id in set(keys)]
    rep = agreement([r.env for r in results if r.env is not None], refs)
    problems = collections.Counter(p.reason.split(":")[0][:60] for r in results for p in r.problems)
    print(f"policy {args.policy}; {len(jobs)} MedR-Bench reports (raw_case cut to {args.max_report_chars} chars, "
          f"max_tokens {args.max_tokens}); {wall:.1f}s")
    print(json.dumps(summary))
    for r in results:
        print(f"  {r.case_id}: {'ok' if r.ok else 'FAILED: ' + r.failure[:150]} (attempts {r.attempts})")
    print("validation problems:", dict(problems))
    print("\n".join(rep.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
