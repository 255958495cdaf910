"""Freeze the hard subset of a case file: rare-disease cases on which a fixed reference policy needed >= 5 turns.

The rule does not depend on any model being evaluated, so every eval of these cases reports its Hard columns on the
same case list (docs/eval.md, "Hard subset"). Reference policy: the offline `heuristic` backend, default config,
run seed 0, structured mode, at most 8 turns, the phrase-matcher oracle, one root rollout per case through the one
turn loop (tree/loop.py::rollout). Turns = the trajectory's nodes (every turn the policy took, the final one
included).

Run once and commit the output; the script refuses to overwrite an existing list (a list is frozen once made):
  python scripts/make_hard_subset.py ../shared/data/cases/medrbench_diagnosis_demo100.json \
      --out medaction/eval/data/hard_medrbench.json
Sources without a rare-disease flag (AgentClinic) have no hard subset: the script says so and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from pathlib import Path

import msgspec

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medaction.envs.load import iter_environments  # noqa: E402
from medaction.eval.hard_set import HardSet, ReferencePolicy  # noqa: E402
from medaction.eval.judging import is_rare  # noqa: E402
from medaction.policies.base import build  # noqa: E402
from medaction.tree.loop import rollout  # noqa: E402

MIN_TURNS = 5
REF = ReferencePolicy(backend="heuristic", seed=0, max_turns=8, mode="structured", oracle="matcher")


async def _turns(envs, policy) -> dict[str, int]:
    out = {}
    for env in envs:
        traj = await rollout(env, policy, max_turns=REF.max_turns, seed=REF.seed, mode=REF.mode,
                             policy_id=REF.backend)
        out[env.case_id] = len(traj.nodes)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", type=Path)
    ap.add_argument("--source", default="medrbench")
    ap.add_argument("--name", default="medrbench-hard-v1")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if a.out.exists():
        print(f"{a.out}: exists; a hard list is frozen once made (write a new file with a new --name)", file=sys.stderr)
        return 2
    envs = list(iter_environments(a.source, a.cases))
    rare = [e for e in envs if is_rare(e)]
    if not rare:
        print(f"{a.cases}: no case carries a rare-disease flag (source {a.source}): no hard subset", file=sys.stderr)
        return 2
    turns = asyncio.run(_turns(rare, build(REF.backend, {})))
    ids = tuple(sorted(cid for cid, n in turns.items() if n >= MIN_TURNS))
    hs = HardSet(
        name=a.name, source=a.source, source_file=a.cases.name,
        source_sha256=hashlib.sha256(a.cases.read_bytes()).hexdigest(),
        rule=(f"rare-disease cases (MedR-Bench checked_rare_disease non-empty) on which the reference policy took "
              f">= {MIN_TURNS} turns"),
        reference_policy=REF, n_source_cases=len(envs), n_rare=len(rare), case_ids=ids)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_bytes(msgspec.json.format(msgspec.json.encode(hs), indent=2) + b"\n")
    hist: dict[int, int] = {}
    for n in turns.values():
        hist[n] = hist.get(n, 0) + 1
    print(f"{a.out}: {len(ids)} of {len(rare)} rare cases ({len(envs)} in the file); "
          f"reference turns histogram {dict(sorted(hist.items()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
