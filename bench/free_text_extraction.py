"""How often the free-text hypothesis extractor (policies/parsing/hypotheses.py) finds a top-1 in real free-form
diagnostic reasoning: MedR-Bench's clinician-written `differential_diagnosis` texts (../shared/data).

The rules were adjusted after reading texts 0-2 only; texts 3-99 are the held-out figure.
Run: python bench/free_text_extraction.py [path to medrbench_diagnosis_demo100.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from medaction.policies.parsing.hypotheses import extract_hypotheses

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cases" / "medrbench_diagnosis_demo100.json"


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        print(f"{path}: not found (the shared MedR-Bench cases); nothing measured", file=sys.stderr)
        return 2
    data = json.loads(path.read_text())
    texts = [v["generate_case"].get("differential_diagnosis") or "" for v in data.values()]
    texts = [t for t in texts if isinstance(t, str) and t.strip()]
    for name, part in (("all", texts), ("held-out 3..", texts[3:])):
        hyps = [extract_hypotheses(t) for t in part]
        print(f"{name}: {len(part)} texts, with a top-1 {sum(bool(h) for h in hyps) / len(part):.1%}, "
              f"mean hypotheses {sum(len(h) for h in hyps) / len(part):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
