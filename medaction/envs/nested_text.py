"""Readable text from nested JSON-like case data (AgentClinic dicts): keys become labels, lists become '; '."""

from __future__ import annotations

from collections.abc import Mapping


def label(key: str) -> str:
    """`Past_Medical_History` -> `Past medical history` (acronyms such as `CT`, `TSH` kept)."""
    words = key.replace("_", " ").split()
    out = []
    for i, w in enumerate(words):
        keep = any(c.isupper() for c in w[1:]) or any(c.isdigit() for c in w)
        out.append(w if keep else (w.capitalize() if i == 0 else w.lower()))
    return " ".join(out)


def inline(value: object) -> str:
    """One-line rendering: dicts as `Key: value; ...`, lists joined by '; '."""
    if isinstance(value, Mapping):
        parts = [f"{label(str(k))}: {inline(v)}" for k, v in value.items() if not _empty(v)]
        return "; ".join(parts)
    if isinstance(value, (list, tuple)):
        return "; ".join(inline(v) for v in value if not _empty(v))
    if value is None:
        return ""
    return str(value).strip()


def block(value: object, indent: int = 0) -> list[str]:
    """Multi-line rendering: one line per leaf or small sub-dict, nested dicts indented."""
    pad = "  " * indent
    if not isinstance(value, Mapping):
        text = inline(value)
        return [pad + text] if text else []
    lines: list[str] = []
    for k, v in value.items():
        if _empty(v):
            continue
        if isinstance(v, Mapping) and any(isinstance(x, Mapping) for x in v.values()):
            lines.append(f"{pad}{label(str(k))}:")
            lines.extend(block(v, indent + 1))
        else:
            lines.append(f"{pad}{label(str(k))}: {inline(v)}")
    return lines


def _empty(v: object) -> bool:
    return v is None or (isinstance(v, (str, list, tuple, Mapping)) and len(v) == 0)
