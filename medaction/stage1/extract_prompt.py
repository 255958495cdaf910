"""The Stage-1 extraction prompt (ours; the paper does not publish one) and the repair message. Versioned."""

from __future__ import annotations

from collections.abc import Sequence

from medaction.policies.types import Message

EXTRACT_PROMPT_VERSION = "extract-v1"

SYSTEM = (
    "You convert a published clinical case report into an interactive diagnosis exercise. You copy facts from the "
    "report; you never invent findings. You answer with one JSON object and nothing else."
)

_SCHEMA = """{
  "o1": {
    "chief_complaint": "why the patient presented, in the patient's terms",
    "history": "age, sex, history of present illness, past medical, family, social and drug history",
    "examination": "vital signs and physical examination findings at presentation"
  },
  "tests": [
    {"name": "short standard test name, e.g. Complete blood count, CT abdomen, Skin biopsy",
     "category": "Laboratory | Imaging | Pathology | Procedure | Physiologic | Genetic | Microbiology | Other",
     "result": "the documented result, with values and units as written"}
  ],
  "diagnosis": "the final diagnosis stated by the report"
}"""

RULES = """Rules:
1. o1 holds only what a doctor knows at the first visit BEFORE any test: complaint, history, examination.
   It must not contain any laboratory, imaging, pathology or other test result, and must not name or hint at the
   final diagnosis.
2. tests lists every diagnostic test the report documents, in the order they were done, each with its documented
   result. Do not list treatments. Physical examination belongs in o1, not in tests. A test done twice is one item
   whose result gives both results.
3. diagnosis is the final diagnosis as the report states it, as a short phrase.
Answer with the JSON object only, in this schema:"""


def build_messages(report_text: str, *, max_chars: int) -> tuple[tuple[Message, ...], bool]:
    """The extraction prompt for one report; returns (messages, truncated). The report goes last (after rules)."""
    truncated = len(report_text) > max_chars
    body = report_text[:max_chars]
    user = f"{RULES}\n{_SCHEMA}\n\nCase report:\n<<<\n{body}\n>>>"
    return (Message("system", SYSTEM), Message("user", user)), truncated


def repair_messages(
    messages: Sequence[Message], answer: str, reasons: Sequence[str], *, answer_chars: int = 6000
) -> tuple[Message, ...]:
    """The one corrective turn: the model's previous answer, then what was wrong with it."""
    listed = "\n".join(f"- {r}" for r in reasons)
    fix = (
        f"Your answer could not be used:\n{listed}\n"
        "Reply again with only the corrected JSON object in the schema given above."
    )
    return (*messages, Message("assistant", answer[:answer_chars]), Message("user", fix))
