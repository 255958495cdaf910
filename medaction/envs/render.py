"""Human-readable text for environments (what `medaction envs show` prints)."""

from __future__ import annotations

import textwrap

from medaction.envs.types import Environment


def _wrap(text: str, indent: str, width: int) -> list[str]:
    out: list[str] = []
    for line in text.splitlines() or [""]:
        lead = line[: len(line) - len(line.lstrip())]
        out.extend(textwrap.wrap(line.strip(), width, initial_indent=indent + lead,
                                 subsequent_indent=indent + lead + "  ") or [indent])
    return out


def format_environment(env: Environment, *, width: int = 100, show_hidden: bool = True) -> str:
    """o1, then (if show_hidden) the test menu with results and the ground-truth diagnosis."""
    lines = [f"=== {env.case_id}  [{env.source}]  {len(env.tests)} tests", "Initial observation (o1):"]
    lines += _wrap(env.initial_observation, "  ", width)
    if show_hidden:
        lines.append("Test menu (hidden from the policy):")
        if not env.tests:
            lines.append("  (none: every request is answered UNAVAILABLE)")
        for i, t in enumerate(env.tests, 1):
            head = f"{t.category} > {t.name}" if t.category else t.name
            lines.append(f"  {i:>2}. {head}")
            lines += _wrap(t.result, "      ", width)
        lines.append(f"Ground-truth diagnosis: {env.diagnosis}")
        meta = {k: v for k, v in env.meta.items() if k not in ("final_diagnosis", "differential_diagnosis")}
        if meta:
            lines.append("Meta: " + ", ".join(f"{k}={v}" for k, v in meta.items()))
    return "\n".join(lines)
