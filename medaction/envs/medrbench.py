"""MedR-Bench diagnosis JSON -> Environment (o1 = summary before "Ancillary Tests"; menu = the ancillary block)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from medaction.envs.errors import RecordError
from medaction.envs.medrbench_summary import ancillary_items, split_summary
from medaction.envs.types import Environment, TestItem
from medaction.envs.vocab import default_vocabulary

SOURCE = "medrbench"


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def leaked_results(o1: str, tests: tuple[TestItem, ...], *, min_words: int = 3) -> list[TestItem]:
    """Menu items whose result text (>= min_words words, normalised) appears verbatim in o1."""
    hay = f" {_norm(o1)} "
    out = []
    for t in tests:
        needle = _norm(t.result)
        if len(needle.split()) >= min_words and f" {needle} " in hay:
            out.append(t)
    return out


_SHORT = 6  # words: a result this short ("Normal.") is qualified with its test name to stand on its own


def _hide_from_o1(o1: str, items: list[TestItem]) -> tuple[TestItem, ...]:
    """Results must be hidden evidence: qualify short ones with the test name, drop any still verbatim in o1."""
    out = []
    for t in items:
        if len(t.result.split()) < _SHORT and not _norm(t.result).startswith(_norm(t.name)):
            t = TestItem(name=t.name, category=t.category, result=f"{t.name}: {t.result}", aliases=t.aliases)
        t = _with_aliases(t)
        if not leaked_results(o1, (t,), min_words=1):
            out.append(t)
    return tuple(out)


def _with_aliases(t: TestItem) -> TestItem:
    """A generic name ("Imaging", "Labs") gets the tests its result names as aliases, so requests can find it."""
    vocab = default_vocabulary()
    if vocab.tag(t.name).concepts:
        return t
    found = sorted(vocab.tag(t.result).concepts)
    aliases = tuple(vocab.concepts[c].names[0] for c in found)
    return TestItem(name=t.name, category=t.category, result=t.result, aliases=aliases) if aliases else t


def _str_list(value: object, path: str, where: str, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(path, where, field, "expected a list of strings")
    return [v for v in value if v.strip()]


def parse_record(key: str, obj: object, *, path: str) -> Environment:
    """One `PMCxxxx: {...}` entry -> Environment; raises RecordError naming the bad field."""
    where = f"key {key}"
    if not isinstance(obj, Mapping):
        raise RecordError(path, where, "<record>", f"expected a JSON object, got {type(obj).__name__}")
    gen = obj.get("generate_case")
    if not isinstance(gen, Mapping):
        raise RecordError(path, where, "generate_case", "missing" if gen is None else "expected an object")
    summary = gen.get("case_summary")
    if not isinstance(summary, str):
        raise RecordError(path, where, "generate_case.case_summary", "missing" if summary is None else "expected str")
    diagnosis = gen.get("diagnosis_results")
    if not isinstance(diagnosis, str):
        raise RecordError(
            path, where, "generate_case.diagnosis_results", "missing" if diagnosis is None else "expected str"
        )
    if not diagnosis.strip():
        raise RecordError(path, where, "generate_case.diagnosis_results", "empty diagnosis")
    split = split_summary(summary)
    if split is None:
        raise RecordError(path, where, "generate_case.case_summary", "no 'Ancillary Tests' section")
    o1, _, block = split
    if not o1:
        raise RecordError(path, where, "generate_case.case_summary", "nothing before 'Ancillary Tests'")
    # An empty menu (the section lists nothing, or only results already in o1) is kept, as by every importer:
    # see load.py's module docstring.
    tests = _hide_from_o1(o1, [t for t in ancillary_items(block) if t.result.strip()])
    rare = _str_list(obj.get("checked_rare_disease"), path, where, "checked_rare_disease")
    meta: dict[str, object] = {
        "body_category": _str_list(obj.get("body_category"), path, where, "body_category"),
        "disorder_category": _str_list(obj.get("disorder_category"), path, where, "disorder_category"),
        "rare_disease": bool(rare),
        "rare_disease_names": rare,
    }
    for opt in ("final_diagnosis", "differential_diagnosis"):
        if isinstance(gen.get(opt), str):
            meta[opt] = gen[opt]
    if isinstance(obj.get("receive_time"), str):
        meta["receive_time"] = obj["receive_time"]
    return Environment(
        case_id=key, source=SOURCE, initial_observation=o1, tests=tests, diagnosis=diagnosis.strip(), meta=meta
    )
