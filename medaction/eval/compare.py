"""`medaction eval compare` (Table 2 side by side + overlaid Fig.-5 curves) and `medaction eval scaling`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from medaction.eval.plots import plot_all, plot_scaling
from medaction.eval.report import table2
from medaction.eval.summary import EvalResult, read_result


def compare(dirs: Sequence[Path], out: Path) -> str:
    results: list[EvalResult] = [read_result(d) for d in dirs]
    out.mkdir(parents=True, exist_ok=True)
    plots = plot_all([(r.summary.label, r.analyses) for r in results], out,
                     note="graphs: " + ", ".join(sorted({r.summary.graph.split(":")[0] for r in results})))
    md = "\n".join([
        "# Table 2: comparison",
        "",
        table2(results),
        "",
        "Judges and graphs (in full):",
        "",
        *[f"- {r.summary.label} ({d}): judge = {r.summary.judge}; graph = {r.summary.graph}; scorer = {r.scorer}"
          for d, r in zip(dirs, results, strict=True)],
        "",
        *[f"![{p.stem}]({p.name})" for p in plots],
    ]) + "\n"
    (out / "comparison.md").write_text(md)
    rows = [{"dir": str(d), "summary": r.summary, "hard": r.hard} for d, r in zip(dirs, results, strict=True)]
    (out / "comparison.json").write_bytes(msgspec.json.format(msgspec.json.encode(rows), indent=2))
    return md


def parse_point(spec: str) -> tuple[str, float, Path]:
    """`SERIES:SIZE:DIR` (e.g. `dtc+rac:8000:runs/eval-8k`) -> (series, size, dir)."""
    parts = spec.split(":", 2)
    if len(parts) != 3:
        raise ValueError(f"scaling point {spec!r}: expected SERIES:SIZE:DIR")
    try:
        size = float(parts[1])
    except ValueError:
        raise ValueError(f"scaling point {spec!r}: SIZE {parts[1]!r} is not a number") from None
    return parts[0], size, Path(parts[2])


def scaling(points: Sequence[tuple[str, float, Path]], out: Path) -> Path:
    pts = [(name, size, read_result(d).summary) for name, size, d in points]
    return plot_scaling(pts, out)
