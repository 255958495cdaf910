"""What free-form trajectories get from hypothesis extraction, on real rollouts.

Takes a run's shards (e.g. the demo: `python -m medaction run configs/demo.toml --out /tmp/demo --set
cases.limit=20`), strips the differential from every turn (what a free-form turn leaves: prose reasoning plus
tests or a final diagnosis), and re-scores them with the rule extractor and with none, printing the decision counts
(scoring/counts.py) and how often the extracted top-1 equals the top-1 the turn had written.

Run: python bench/free_form_rescore.py RUN_DIR [--source agentclinic --cases PATH]
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import msgspec
import pyarrow.parquet as pq

from medaction.envs.load import default_cases_path, iter_environments
from medaction.policies.parsing.hypotheses import extract_hypotheses
from medaction.scoring.counts import counts_from_rows
from medaction.scoring.kg_scorer import KGScorer, KGScorerConfig
from medaction.scoring.rows import from_row, to_row

KEYS = ("decided_by_dtc_rac", "decided_by_fallback", "kept_whole", "truncated", "discarded", "free_top1_share",
        "free_extracted_share", "top1_link_rate")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--source", default="agentclinic")
    ap.add_argument("--cases", type=Path, default=None)
    args = ap.parse_args()
    envs = {e.case_id: e for e in iter_environments(args.source, args.cases or default_cases_path())}
    rows = [r for f in sorted(glob.glob(str(args.run / "shards" / "*.parquet"))) for r in pq.read_table(f).to_pylist()]
    if not rows:
        print(f"{args.run}: no shards")
        return 2
    trajs, same, n = [], 0, 0
    for r in rows:
        t = from_row(r).trajectory
        for node in t.nodes:
            if node.turn.differential and not node.turn.final_diagnosis:
                h = extract_hypotheses(node.turn.reasoning)
                n += 1
                same += bool(h) and h[0].diagnosis.casefold() == node.turn.differential[0].diagnosis.casefold()
        nodes = tuple(msgspec.structs.replace(x, turn=msgspec.structs.replace(x.turn, differential=()))
                      for x in t.nodes)
        trajs.append(msgspec.structs.replace(t, nodes=nodes, mode="free"))
    for ex in ("rules", "none"):
        s = KGScorer(KGScorerConfig(extractor=ex))
        rep = counts_from_rows(to_row(s.score(t, envs[t.case_id])) for t in trajs if t.case_id in envs).report()
        print(ex, {k: rep[k] for k in KEYS})
    print(f"extracted top-1 == written top-1 on {same / max(n, 1):.1%} of {n} non-final turns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
