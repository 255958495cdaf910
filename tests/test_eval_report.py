"""Reports: analyses arithmetic, Markdown + JSON + PNGs, Table-2 comparison and the data-scaling plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medaction.eval.analyses import analyse, select_hard
from medaction.eval.hard_set import HardSet, ReferencePolicy
from medaction.eval.cli import add_parser  # noqa: F401  (the CLI module imports cleanly)
from medaction.eval.compare import compare, parse_point, scaling
from medaction.eval.runner import write_report
from medaction.eval.summary import build_result, read_cases, read_result
from medaction.eval.types import CaseResult

PNG = b"\x89PNG\r\n\x1a\n"


def _r(cid: str, run: int, *, turns: int, dtc: tuple, rac: tuple, tpt: tuple, rare: bool, stop: str = "final",
       correct: bool = True) -> CaseResult:
    return CaseResult(case_id=cid, run=run, seed=run, predicted_tests=("a", "b"), pred_matched=(True, False),
                      menu_matched=(True, False), menu=("m1", "m2"), precision=0.5, recall=0.5,
                      final_diagnosis="d", truth="d", correct=correct, n_turns=turns, stop=stop,
                      tests_per_turn=tpt, dtc=dtc, rac=rac, rare=rare)


RESULTS = [
    _r("A", 0, turns=3, dtc=(4, 2, 0), rac=(None, 1.0, 5.0), tpt=(2, 1, 0), rare=True),
    _r("B", 0, turns=2, dtc=(2, None), rac=(None, 2.0), tpt=(3, 0), rare=False, correct=False),
    _r("A", 1, turns=3, dtc=(4, 4, 2), rac=(None, 4.0, 3.0), tpt=(1, 1, 0), rare=True, stop="max_turns"),
    _r("B", 1, turns=2, dtc=(3, 1), rac=(None, 3.0), tpt=(2, 0), rare=False),
]


def test_analyses_hand_computed() -> None:
    a = analyse(RESULTS, rac_tau=3.0)
    dtc = {t.turn: (t.mean, t.n) for t in a.dtc_per_turn}
    assert dtc[1] == (pytest.approx(13 / 4), 4) and dtc[2] == (pytest.approx(7 / 3), 3) and dtc[3] == (1.0, 2)
    rac = {t.turn: (t.mean, t.n) for t in a.rac_pass_per_turn}
    assert rac[2] == (pytest.approx(3 / 4), 4)  # 1, 2, 3 pass; 4 fails (tau = 3, pass means <= tau)
    assert rac[3] == (pytest.approx(1 / 2), 2)
    assert a.turns_per_case == pytest.approx(2.5)
    assert a.tests_per_active_turn == pytest.approx((2 + 1 + 3 + 1 + 1 + 2) / 6)
    assert a.stop_reasons == {"final": 3, "max_turns": 1}
    assert a.turn_histogram == {2: 2, 3: 2}
    assert select_hard(RESULTS, ("A", "Z")) == ("A",)  # only the list decides; "Z" was not evaluated
    assert select_hard(RESULTS, ()) == ()


HARD = HardSet(name="test-hard", source="test", source_file="t.json", source_sha256="0" * 64, rule="listed",
               reference_policy=ReferencePolicy(backend="heuristic", seed=0, max_turns=8, mode="structured",
                                                oracle="matcher"), n_source_cases=3, n_rare=2, case_ids=("A", "Z"))


def _write(tmp: Path, label: str) -> Path:
    res = build_result(RESULTS, label=label, policy="heuristic", judge="offline(test)", graph="hpo", scorer="kg",
                       cases="test", hard_set=HARD)
    out = tmp / label
    write_report(out, res, RESULTS)
    return out


def test_report_json_and_plots(tmp_path: Path) -> None:
    out = _write(tmp_path, "m1")
    md = (out / "report.md").read_text()
    assert "judge**: offline(test)" in md and "graph** (DTC/RAC): hpo" in md
    assert "Diag Acc judged by `offline`; measured agreement" in md and "bench/judge_agreement.py" in md
    assert "P = R = 0" in md and "| m1 | 0.50 ± 0.00 |" in md
    for name in ("dtc_per_turn", "rac_pass_rate", "tests_per_turn", "turns_per_case"):
        png = out / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG and png.stat().st_size > 5000
        assert f"plots/{name}.png" in md
    data = json.loads((out / "eval.json").read_text())
    assert data["summary"]["accuracy"]["mean"] == pytest.approx(0.75)
    assert data["hard_cases"] == ["A"] and data["hard"]["n_cases"] == 1
    assert data["hard_set"] == "test-hard" and data["hard_set_size"] == 2
    assert "list `test-hard` (2 cases; listed): 1 of them evaluated here" in md
    assert read_result(out).summary.judge == "offline(test)"
    assert len(read_cases(out)) == 4


def test_compare_and_scaling(tmp_path: Path) -> None:
    d1, d2 = _write(tmp_path, "base"), _write(tmp_path, "sft")
    md = compare([d1, d2], tmp_path / "cmp")
    assert md.count("| base |") == 1 and md.count("| sft |") == 1 and "| Hard F1 |" in md
    assert (tmp_path / "cmp" / "dtc_per_turn.png").read_bytes()[:8] == PNG
    assert len(json.loads((tmp_path / "cmp" / "comparison.json").read_text())) == 2
    pts = [parse_point(f"dtc+rac:{n}:{d}") for n, d in ((1000, d1), (8000, d2))]
    png = scaling(pts, tmp_path / "scaling.png")
    assert png.read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="SERIES:SIZE:DIR"):
        parse_point("nosize")
    with pytest.raises(FileNotFoundError, match="no eval result"):
        compare([tmp_path / "missing"], tmp_path / "x")


def test_cli_compare_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="medaction")
    add_parser(parser.add_subparsers(dest="command"), "eval", "eval")  # only this layer's CLI: fast import

    def main(argv: list[str]) -> int:
        args = parser.parse_args(argv)
        return int(args.func(args))

    d1 = _write(tmp_path, "base")
    assert main(["eval", "compare", str(d1), "--out", str(tmp_path / "c")]) == 0
    assert "| base |" in capsys.readouterr().out
    assert main(["eval"]) == 2  # no --policy/--cases and no subcommand
    from medaction.outputs import UsageError  # medaction.cli.main prints it as one line, exit 2

    with pytest.raises(UsageError, match="expected SERIES:SIZE:DIR"):
        main(["eval", "scaling", "bad", "--out", str(tmp_path / "s.png")])
    with pytest.raises(UsageError, match="--policy-config .*invalid JSON"):
        main(["eval", "--policy", "heuristic", "--cases", "x", "--policy-config", "{oops"])


def test_read_scored_names_the_directory(tmp_path: Path) -> None:
    from medaction.eval.shards import read_scored

    with pytest.raises(FileNotFoundError, match=r"shards: no parquet shards"):
        read_scored(tmp_path)


def test_hard_columns_of_two_policies_use_the_committed_list(medrbench_path: Path) -> None:
    """Two policies that take very different numbers of turns on the same cases: the Hard columns of both are
    computed on the same committed case list (the old rule picked each model's own long cases)."""
    from medaction.envs.load import iter_environments
    from medaction.eval.hard_set import hard_set_for

    hs = hard_set_for("medrbench")
    assert hs is not None and hs.name == "medrbench-hard-v1" and len(hs.case_ids) == 65
    ids = [e.case_id for e in iter_environments("medrbench", medrbench_path)][:12]
    listed = {i for i in ids if i in hs.case_ids}
    assert listed and len(listed) < len(ids)  # the sample holds listed and unlisted cases
    fast = [_r(c, 0, turns=2, dtc=(1, 0), rac=(None, 1.0), tpt=(1, 0), rare=c in listed) for c in ids]
    slow = [_r(c, 0, turns=8 if i % 2 else 1, dtc=(1,), rac=(None,), tpt=(1,), rare=c in listed)
            for i, c in enumerate(ids)]
    a = build_result(fast, label="fast", policy="p1", judge="j", graph="g", scorer="kg", cases="c", hard_set=hs)
    b = build_result(slow, label="slow", policy="p2", judge="j", graph="g", scorer="kg", cases="c", hard_set=hs)
    assert a.hard_cases == b.hard_cases == tuple(sorted(listed))
    assert a.hard_set == b.hard_set == "medrbench-hard-v1" and a.hard_set_size == b.hard_set_size == 65
    assert a.hard is not None and b.hard is not None and a.hard.n_cases == b.hard.n_cases == len(listed)
