"""Oracle matcher quality: micro precision/recall over matched menu items on tests/data/oracle_labels*.jsonl.
(oracle_labels.jsonl was labelled while the matcher was developed; oracle_labels_heldout.jsonl was written
afterwards, without looking at matcher output, and first scored P 0.901 / R 0.932 before two general fixes.)

Run: python bench/oracle_quality.py [--errors]
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medaction.envs.load import default_cases_path  # noqa: E402
from tests.support.oracle_eval import evaluate  # noqa: E402

MEDRBENCH = REPO.parent / "shared" / "data" / "cases" / "medrbench_diagnosis_demo100.json"


def main() -> int:
    for name in ("oracle_labels.jsonl", "oracle_labels_heldout.jsonl"):
        q = evaluate(REPO / "tests" / "data" / name, {"agentclinic": default_cases_path(), "medrbench": MEDRBENCH})
        print(f"{name}: pairs {q.pairs} (decoys {q.decoys})  precision {q.precision:.3f}  recall {q.recall:.3f}  "
              f"exact-set {q.exact / q.pairs:.3f}  tp {q.tp} fp {q.fp} fn {q.fn}")
        if "--errors" in sys.argv:
            print("\n".join("  " + e for e in q.errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
