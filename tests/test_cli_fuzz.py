"""Fuzz the non-Ray commands (docs/notes/safety-cli.md): random argv over envs/kg/score/eval-compare with good, bad
and missing paths, and random corruptions of case files. Invariants: exit code 0/1/2, no traceback (every stderr
line is a `medaction ...` one-liner, or argparse's usage text), no input file changed, and every valid record of a
corrupted case file comes through `envs build`. Derandomized so the suite is repeatable; runs in seconds."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medaction.cli import main
from medaction.envs import canonical
from medaction.envs.load import default_cases_path, iter_environments

DATA = Path(__file__).parent / "data"
# MEDACTION_FUZZ_EXAMPLES=2000 runs a longer, randomized search (the suite default is short and repeatable).
_DEEP = int(os.environ.get("MEDACTION_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_DEEP or 80, deadline=None, derandomize=not _DEEP, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def arena(tmp_path_factory) -> dict[str, Path]:
    """Inputs the commands may read (never changed) and an out/ folder they may write to."""
    d = tmp_path_factory.mktemp("arena")
    ac = default_cases_path().read_bytes().splitlines()[:3]
    (d / "ac.jsonl").write_bytes(b"\n".join(ac) + b"\n")
    envs = list(iter_environments("agentclinic", d / "ac.jsonl"))
    (d / "good.jsonl").write_bytes(b"".join(canonical.encode(e) + b"\n" for e in envs))
    (d / "notes.txt").write_text("precious\n")
    (d / "empty.jsonl").write_bytes(b"")
    (d / "deep.jsonl").write_bytes(b"[" * 50_000 + b"]" * 50_000 + b"\n")
    (d / "adir").mkdir()
    (d / "adir" / "keep.txt").write_text("not ours\n")  # a non-empty folder nobody may write into
    (d / "run" / "shards").mkdir(parents=True)
    (d / "run" / "shards" / "s.parquet").write_bytes(b"PAR1 truncated")
    shutil.copy(DATA / "kg_primekg_small.csv", d / "kg.csv")
    (d / "kg_bad.csv").write_text((DATA / "kg_primekg_small.csv").read_text().splitlines()[0] + "\n1,2\nx,y,z\n")
    assert main(["kg", "build", "--primekg", str(d / "kg.csv"), "-o", str(d / "store")]) == 0
    for name, damage in (("npz", "graph.npz"), ("parquet", "nodes.parquet"), ("meta", "meta.json")):
        shutil.copytree(d / "store", d / f"store_{name}")
        f = d / f"store_{name}" / damage
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])  # truncated, as after a full disk
    (d / "out").mkdir()
    return {p.name: p for p in d.iterdir()} | {"missing": d / "missing.jsonl", "root": d}


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "out" not in p.relative_to(root).parts}


def run_cli(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse: bad usage (2); --help (0)
            rc = exc.code if isinstance(exc.code, int) else 2
    return rc, err.getvalue()


def assert_clean(rc: int, err: str, argv: list[str]) -> None:
    assert rc in (0, 1, 2), (rc, argv, err[-2000:])
    assert "Traceback" not in err, (argv, err[-2000:])
    for line in err.split("\n"):  # not splitlines(): argparse echoes a stray "\r" token inside its one line
        if line.strip():
            assert line.startswith(("medaction", "usage:", " ")), (argv, line)


INPUTS = ["ac.jsonl", "good.jsonl", "notes.txt", "empty.jsonl", "deep.jsonl", "adir", "missing", "kg.csv"]
SOURCES = ["auto", "agentclinic", "medrbench", "jsonl"]
NUMS = ["0", "-1", "1", "3", "7", "128", "0.5", "nan", "1e9", "x"]


@st.composite
def argv_for(draw, arena: dict[str, Path]) -> list[str]:  # noqa: ANN001
    p = lambda name: str(arena[name])  # noqa: E731
    inp = st.sampled_from(INPUTS).map(p)
    cmd = draw(st.sampled_from(["build", "stats", "show", "overlap", "kg-info", "kg-build", "score", "compare",
                                "soup"]))
    src = draw(st.sampled_from(SOURCES))
    if cmd == "build":
        source = draw(inp)
        out = draw(st.sampled_from([str(arena["out"] / "o.jsonl"), source, p("notes.txt"), p("adir"),
                                    str(arena["notes.txt"] / "sub.jsonl")]))
        argv = ["envs", "build", "--source", src, source, "-o", out]
        argv += draw(st.sampled_from([[], ["--strict"], ["--rejects", str(arena["out"] / "rej.jsonl")],
                                      ["--rejects", source], ["--rejects", p("notes.txt")]]))
    elif cmd == "stats":
        source = draw(inp)
        argv = ["envs", "stats", "--source", src, source] + draw(st.sampled_from(
            [[], ["--strict"], ["--rejects", source], ["--rejects", p("notes.txt")],
             ["--rejects", str(arena["out"] / "rej.jsonl")]]))
    elif cmd == "show":
        argv = ["envs", "show", "--source", src, draw(inp), "--limit", draw(st.sampled_from(NUMS))]
        argv += draw(st.sampled_from([[], ["--case", "agentclinic-0002"], ["--case", "nope"], ["--o1-only"]]))
    elif cmd == "overlap":
        argv = ["envs", "overlap", draw(inp), draw(inp), "--source-a", src, "--source-b",
                draw(st.sampled_from(SOURCES))]
        for flag in ("--threshold", "--num-perm", "--bands", "--shingle"):
            if draw(st.booleans()):
                argv += [flag, draw(st.sampled_from(NUMS))]
        argv += draw(st.sampled_from([[], ["--fail-on-overlap"]]))
    elif cmd == "kg-info":
        argv = ["kg", "info", draw(st.sampled_from([p("store"), p("store_npz"), p("store_parquet"), p("store_meta"),
                                                    p("adir"), p("missing"), p("kg.csv")]))]
    elif cmd == "kg-build":
        argv = ["kg", "build", "--primekg", draw(st.sampled_from([p("kg.csv"), p("kg_bad.csv"), p("missing"),
                                                                   p("notes.txt"), p("adir")])),
                "-o", draw(st.sampled_from([str(arena["out"] / "store"), p("adir"), p("notes.txt"), p("kg.csv")]))]
    elif cmd == "score":
        argv = ["score", draw(st.sampled_from([p("run"), p("adir"), p("missing"), p("notes.txt")])), "-o",
                draw(st.sampled_from([str(arena["out"] / "sc"), p("run"), p("adir"), p("notes.txt")])),
                "--cases", draw(inp)]
    elif cmd == "compare":
        argv = ["eval", "compare", *draw(st.lists(st.sampled_from([p("adir"), p("missing"), p("run"),
                                                                   p("notes.txt")]), min_size=1, max_size=3)),
                "--out", str(arena["out"] / "cmp")]
    else:  # token soup: argparse's own error paths
        head = draw(st.sampled_from([["envs"], ["envs", "build"], ["envs", "overlap"], ["kg"], ["kg", "build"],
                                     ["score"], ["eval", "compare"], []]))
        tokens = st.one_of(inp, st.sampled_from(["--source", "-o", "--strict", "--limit", "--threshold", "--x",
                                                 "--primekg", "--out", "auto", "jsonl"] + NUMS),
                           st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=6))
        argv = head + draw(st.lists(tokens, max_size=6))
    return argv


def test_fuzz_cli_arguments(arena) -> None:
    before = _digests(arena["root"])

    @FUZZ
    @given(data=st.data())
    def check(data) -> None:  # noqa: ANN001
        argv = data.draw(argv_for(arena))
        rc, err = run_cli(argv)
        assert_clean(rc, err, argv)
        assert _digests(arena["root"]) == before, argv  # no input changed or lost
        assert not [p for p in arena["root"].rglob("*.partial")], argv  # no temp file left behind

    check()


# -- case files: random corruptions between valid records ---------------------------------------------------------
CORRUPTIONS = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" ")),
    st.integers(1, 60_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 60_000).map(lambda n: b'{"case_id": ' + b"[" * n + b"]" * n + b"}"),
    st.sampled_from([b"3", b"null", b"[]", b"{}", b'"text"', b'{"case_id": 5}', b"\xff\xfe\x00", b"1e999999",
                     b'{"a": NaN}', b"{" * 10, b'{"OSCE_Examination": []}', b'{"OSCE_Examination": {"x": 1}}']),
)


@pytest.mark.parametrize("fmt", ["jsonl", "agentclinic"])
def test_fuzz_case_files_keep_every_valid_record(arena, tmp_path, fmt) -> None:
    lines = (arena["good.jsonl"] if fmt == "jsonl" else arena["ac.jsonl"]).read_bytes().splitlines()
    ref = list(iter_environments(fmt, arena["good.jsonl" if fmt == "jsonl" else "ac.jsonl"]))
    key = lambda e: (e.initial_observation, e.diagnosis, e.tests)  # noqa: E731  (agentclinic ids follow lines)

    @FUZZ
    @given(keep=st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)),
           bad=st.lists(st.tuples(st.integers(0, len(lines)), CORRUPTIONS), max_size=5),
           truncate=st.integers(1, 400), bom=st.booleans(), source=st.sampled_from(["auto", fmt]))
    def check(keep, bad, truncate, bom, source) -> None:  # noqa: ANN001
        rows: list[tuple[bytes, bool]] = [(ln, True) for ln, k in zip(lines, keep, strict=True) if k]
        if not all(keep):  # a dropped record comes back truncated: never valid, never a crash
            rows.append((lines[keep.index(False)][:truncate], False))
        for at, junk in bad:
            rows.insert(min(at, len(rows)), (junk, False))
        src = tmp_path / "cases.jsonl"
        src.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\n".join(r for r, _ in rows) + b"\n")
        out = tmp_path / "out.jsonl"
        out.unlink(missing_ok=True)
        argv = ["envs", "build", "--source", source, str(src), "-o", str(out)]
        rc, err = run_cli(argv)
        assert_clean(rc, err, argv)
        want = [key(e) for e, k in zip(ref, keep, strict=True) if k]
        if not want:
            assert rc == 2 and not out.exists(), err
            return
        assert rc == 0, err
        got = [key(e) for e in iter_environments("jsonl", out)]
        assert got == want  # every valid record, in order, and nothing else

    check()
