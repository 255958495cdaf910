"""Markdown reports: one eval's report and the Table-2-style comparison of any number of evals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from medaction.eval.judges.measured import judge_agreement_line
from medaction.eval.summary import EvalResult
from medaction.eval.types import Stat, Summary


def _ms(s: Stat) -> str:
    return f"{s.mean:.2f} ± {s.std:.2f}" if s.n > 1 else f"{s.mean:.2f}"


def _cells(s: Summary | None) -> list[str]:
    if s is None:
        return ["–"] * 4
    return [_ms(s.precision), _ms(s.recall), _ms(s.f1), _ms(s.accuracy)]


def _short(text: str, stop: str) -> str:
    """The judge's / graph's name without its details (the report header carries them in full)."""
    return text.split(stop, 1)[0].strip()


def table2(results: Sequence[EvalResult]) -> str:
    """Rows = evals side by side; main set and its hard subset like the paper's MedR-Bench / 300-Hard columns."""
    head = ("| Model | Prec | Rec | F1 | Diag Acc | Hard Prec | Hard Rec | Hard F1 | Hard Diag Acc | cases (hard) "
            "| runs | judge | graph |")
    lines = [head, "|" + "---|" * 13]
    for r in results:
        s = r.summary
        n_hard = r.hard.n_cases if r.hard else 0
        lines.append("| " + " | ".join([s.label, *_cells(s), *_cells(r.hard), f"{s.n_cases} ({n_hard})",
                                        str(len(s.runs)), _short(s.judge, "("),
                                        _short(s.graph, ":")]) + " |")
    return "\n".join(lines)


def render(result: EvalResult, plots: Sequence[Path], out: Path) -> str:
    s, a = result.summary, result.analyses
    lines = [
        f"# Active-diagnosis evaluation: {s.label}",
        "",
        f"- **policy**: {s.policy}",
        f"- **cases**: {s.cases} ({s.n_cases} cases)",
        f"- **judge**: {s.judge}",
        f"- **Diag Acc**: {judge_agreement_line(s.judge)}",
        f"- **graph** (DTC/RAC): {s.graph} (scorer: {result.scorer})",
        "",
        "## Table 2 (MedR-Bench protocol; mean ± sd over runs)",
        "",
        table2([result]),
        "",
        "### Per run",
        "",
        "| run | seed | cases | Prec | Rec | F1 | Diag Acc | no tests ordered | no final diagnosis |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in s.runs:
        lines.append(f"| {m.run} | {m.seed} | {m.n_cases} | {m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} | "
                     f"{m.accuracy:.3f} | {m.n_no_tests} | {m.n_no_final} |")
    lines += ["", "### Protocol notes", ""] + [f"- {n}" for n in result.notes]
    if result.hard_set:
        hard_line = (f"- hard subset: list `{result.hard_set}` ({result.hard_set_size} cases; {result.hard_set_rule}): "
                     f"{len(result.hard_cases)} of them evaluated here")
    else:
        hard_line = ("- hard subset: none (no committed hard list for this case source; AgentClinic cases carry no "
                     "rare-disease flag)")
    lines += [
        "",
        "## Analyses (all runs pooled)",
        "",
        f"- turns per case: {a.turns_per_case:.2f} ± {a.turns_per_case_std:.2f}; histogram {a.turn_histogram}",
        f"- tests per ordering turn: {a.tests_per_active_turn:.2f}",
        f"- stop reasons: {a.stop_reasons}",
        hard_line,
        "",
        "| turn | DTC mean | DTC sd | n | RAC pass | n | tests mean |",
        "|---|---|---|---|---|---|---|",
    ]
    dtc = {t.turn: t for t in a.dtc_per_turn}
    rac = {t.turn: t for t in a.rac_pass_per_turn}
    tpt = {t.turn: t for t in a.tests_per_turn}
    for t in sorted(set(dtc) | set(rac) | set(tpt)):
        d, r, k = dtc.get(t), rac.get(t), tpt.get(t)
        lines.append(
            f"| {t} | {f'{d.mean:.2f}' if d else '–'} | {f'{d.std:.2f}' if d else '–'} | {d.n if d else 0} | "
            f"{f'{r.mean:.2f}' if r else '–'} | {r.n if r else 0} | {f'{k.mean:.2f}' if k else '–'} |"
        )
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.relative_to(out).as_posix()})" for p in plots]
    return "\n".join(lines) + "\n"
