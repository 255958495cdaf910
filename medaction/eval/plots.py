"""Headless PNG plots (matplotlib Agg): DTC per turn, RAC pass rate, tests per turn, turns per case, data scaling.

Each plot takes any number of labelled series so `eval compare` overlays models like the paper's Fig. 5.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

from matplotlib.ticker import MaxNLocator  # noqa: E402

from medaction.eval.analyses import Analyses, TurnStat  # noqa: E402
from medaction.eval.types import Summary  # noqa: E402

Series = Sequence[tuple[str, Analyses]]


def _turn_plot(series: Sequence[tuple[str, Sequence[TurnStat]]], *, title: str, ylabel: str, path: Path,
               band: bool = True, ylim: tuple[float, float] | None = None, note: str = "") -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    drawn = False
    for label, stats in series:
        if not stats:
            continue
        xs = [s.turn for s in stats]
        ys = [s.mean for s in stats]
        ax.plot(xs, ys, marker="o", label=f"{label}")
        if band:
            ax.fill_between(xs, [s.mean - s.std for s in stats], [s.mean + s.std for s in stats], alpha=0.15)
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no data (scorer gave no values)", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("turn")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=8)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="gray")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_all(series: Series, out: Path, *, note: str = "") -> list[Path]:
    """Writes dtc_per_turn.png, rac_pass_rate.png, tests_per_turn.png, turns_per_case.png into `out`."""
    paths = [
        _turn_plot([(n, a.dtc_per_turn) for n, a in series], title="DTC per turn (mean ± sd; lower = closer)",
                   ylabel="DTC (KG hops to ground truth)", path=out / "dtc_per_turn.png", note=note),
        _turn_plot([(n, a.rac_pass_per_turn) for n, a in series],
                   title=f"RAC pass rate per turn (RAC_t <= tau={series[0][1].rac_tau if series else 3:g})",
                   ylabel="pass rate", path=out / "rac_pass_rate.png", ylim=(0, 1.05), note=note),
        _turn_plot([(n, a.tests_per_turn) for n, a in series], title="Tests ordered per turn (mean ± sd)",
                   ylabel="tests", path=out / "tests_per_turn.png", note=note),
    ]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    width = 0.8 / max(1, len(series))
    for k, (name, a) in enumerate(series):
        xs = list(a.turn_histogram)
        ax.bar([x + k * width for x in xs], list(a.turn_histogram.values()), width=width, label=name)
    ax.set_xlabel("turns in trajectory")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("trajectories")
    ax.set_title("Turns per case", fontsize=10)
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "turns_per_case.png")
    plt.close(fig)
    return [*paths, out / "turns_per_case.png"]


def plot_scaling(points: Sequence[tuple[str, float, Summary]], path: Path) -> Path:
    """Data-scaling plot: x = training-set size per eval result, y = F1 and accuracy (mean ± sd over runs).

    `points` = (series name, size, summary); one line per series (e.g. per filtering strategy, paper Fig. 5c).
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    groups: dict[str, list[tuple[float, Summary]]] = {}
    for name, size, s in points:
        groups.setdefault(name, []).append((size, s))
    for name, pts in groups.items():
        pts.sort(key=lambda p: p[0])
        xs = [p[0] for p in pts]
        ax.errorbar(xs, [p[1].f1.mean for p in pts], yerr=[p[1].f1.std for p in pts], marker="o", capsize=3,
                    label=f"{name} F1")
        ax.errorbar(xs, [p[1].accuracy.mean for p in pts], yerr=[p[1].accuracy.std for p in pts], marker="s",
                    linestyle="--", capsize=3, label=f"{name} Diag Acc")
    ax.set_xscale("log" if points and min(p[1] for p in points) > 0 else "linear")
    ax.set_xlabel("training examples")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.0)
    ax.set_title("Data scaling", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
