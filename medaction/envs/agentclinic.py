"""AgentClinic OSCE JSON -> Environment (o1 = objective + patient actor + physical exam; menu = Test_Results)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from medaction.envs.errors import RecordError
from medaction.envs.nested_text import _empty, block, inline, label
from medaction.envs.types import Environment, TestItem

SOURCE = "agentclinic"

# A sub-dict whose keys are all of these words is ONE test's report ("Findings", "Result", ...), not a panel.
_REPORT_WORDS = frozenset(
    "findings finding result results level levels comment comments interpretation impression value values "
    "description report details detail note notes preliminary microscopic histopathology optional random other "
    "summary conclusion observation observations".split()
)


def _is_report(d: Mapping[str, object]) -> bool:
    if not d or any(isinstance(v, Mapping) for v in d.values()):
        return False
    for key in d:
        words = set(re.findall(r"[a-z]+", str(key).lower()))
        if not words & _REPORT_WORDS:
            return False
    return True


def _tests(node: Mapping[str, object], path: tuple[str, ...]) -> list[TestItem]:
    items: list[TestItem] = []
    for key, value in node.items():
        name = label(str(key)).strip()
        if not name or _empty(value):
            continue
        category = " > ".join(path)
        if isinstance(value, Mapping) and not _is_report(value):
            items.extend(_tests(value, path + (name,)))
            continue
        if isinstance(value, Mapping) and len(value) == 1:
            result = inline(next(iter(value.values())))  # {"Findings": text} -> text
        else:
            result = inline(value)
        items.append(TestItem(name=name, category=category, result=result))
    return items


def _need(obj: Mapping[str, object], key: str, types: tuple[type, ...], path: str, where: str) -> object:
    if key not in obj:
        raise RecordError(path, where, key, "missing")
    value = obj[key]
    if not isinstance(value, types):
        names = "/".join(t.__name__ for t in types)
        raise RecordError(path, where, key, f"expected {names}, got {type(value).__name__}")
    return value


def parse_record(obj: object, *, case_id: str, path: str, where: str) -> Environment:
    """One decoded JSONL object -> Environment; raises RecordError naming the bad field."""
    if not isinstance(obj, Mapping):
        raise RecordError(path, where, "<record>", f"expected a JSON object, got {type(obj).__name__}")
    osce = _need(obj, "OSCE_Examination", (dict,), path, where)
    assert isinstance(osce, dict)
    diagnosis = _need(osce, "Correct_Diagnosis", (str,), path, where)
    assert isinstance(diagnosis, str)
    if not diagnosis.strip():
        raise RecordError(path, where, "OSCE_Examination.Correct_Diagnosis", "empty diagnosis")
    actor = _need(osce, "Patient_Actor", (dict, str), path, where)
    tests = _need(osce, "Test_Results", (dict,), path, where)
    assert isinstance(tests, dict)
    objective = osce.get("Objective_for_Doctor", "")
    if not isinstance(objective, str):
        raise RecordError(path, where, "OSCE_Examination.Objective_for_Doctor", "expected str")
    exam = osce.get("Physical_Examination_Findings", {})
    if not isinstance(exam, (dict, str)):
        raise RecordError(path, where, "OSCE_Examination.Physical_Examination_Findings", "expected dict/str")

    lines: list[str] = []
    if objective.strip():
        lines.append(f"Objective: {objective.strip()}")
    lines.append("Patient:")
    lines.extend(block(actor, 1))
    exam_lines = block(exam, 1)
    if exam_lines:
        lines.append("Physical examination:")
        lines.extend(exam_lines)
    return Environment(
        case_id=case_id,
        source=SOURCE,
        initial_observation="\n".join(lines),
        tests=tuple(_tests(tests, ())),
        diagnosis=diagnosis.strip(),
        meta={"line": int(where.split()[-1]) if where.startswith("line ") else 0},
    )
