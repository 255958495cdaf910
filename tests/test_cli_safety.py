"""CLI regressions of the user mistakes in docs/notes/safety-cli.md: each runs the exact mistake through the real
dispatcher and asserts the one-line error, the exit code and that no file was lost. None of them starts Ray."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medaction.cli import main
from medaction.envs.load import default_cases_path, iter_environments

DATA = Path(__file__).parent / "data"
DEEP = "[" * 100_000 + "]" * 100_000  # deeper than any recursion limit


def cli(capsys, *argv: object) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(err: str, *needles: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medaction "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def ac_lines() -> list[bytes]:
    return default_cases_path().read_bytes().splitlines()[:4]


@pytest.fixture()
def built(tmp_path, ac_lines, capsys) -> Path:
    src = tmp_path / "ac.jsonl"
    src.write_bytes(b"\n".join(ac_lines) + b"\n")
    out = tmp_path / "built.jsonl"
    assert cli(capsys, "envs", "build", "--source", "agentclinic", src, "-o", out)[0] == 0
    return out


@pytest.fixture()
def medrbench_small(medrbench_path, tmp_path) -> Path:
    data = json.loads(medrbench_path.read_text())
    small = {k: data[k] for k in list(data)[:3]}
    p = tmp_path / "mrb.json"
    p.write_text(json.dumps(small, indent=1))
    return p


# -- envs overlap: a side read as 0 cases is an error, not a pass ---------------------------------------------------
def test_overlap_with_unread_side_fails(built, medrbench_small, capsys):
    rc, out, err = cli(capsys, "envs", "overlap", built, medrbench_small, "--source-b", "jsonl", "--fail-on-overlap")
    assert rc == 2
    one_line_error(err, str(medrbench_small), "0 cases read as jsonl", "records rejected", "--source medrbench")
    rc, out, err = cli(capsys, "envs", "overlap", built, medrbench_small, "--fail-on-overlap")  # auto: both read
    assert rc == 0 and "(4 cases, 0 rejected)" in out and "(3 cases, 0 rejected)" in out
    empty = built.parent / "empty.jsonl"
    empty.write_bytes(b"")
    rc, _, err = cli(capsys, "envs", "overlap", built, empty, "--fail-on-overlap")
    assert rc == 2
    one_line_error(err, str(empty), "empty")


# -- envs build: never destroys a file ----------------------------------------------------------------------------
def test_build_output_equal_to_input_is_refused(built, capsys):
    before = digest(built)
    rc, _, err = cli(capsys, "envs", "build", built, "-o", built)
    assert rc == 2
    one_line_error(err, "same file as input")
    assert digest(built) == before


def test_build_missing_input_keeps_existing_output(built, tmp_path, capsys):
    before = digest(built)
    rc, _, err = cli(capsys, "envs", "build", tmp_path / "typo.jsonl", "-o", built)
    assert rc == 2
    one_line_error(err, "typo.jsonl: no such file")
    assert digest(built) == before


def test_build_foreign_output_needs_overwrite(built, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("precious\n")
    rc, _, err = cli(capsys, "envs", "build", built, "-o", notes)
    assert rc == 2
    one_line_error(err, "not an environments JSONL", "--overwrite")
    assert notes.read_text() == "precious\n"
    rc, out, _ = cli(capsys, "envs", "build", built, "-o", notes, "--overwrite")
    assert rc == 0 and "wrote 4 environments" in out
    assert [e.case_id for e in iter_environments("jsonl", notes)] == [e.case_id for e in
                                                                     iter_environments("jsonl", built)]


def test_build_failure_keeps_previous_output(built, tmp_path, ac_lines, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join([ac_lines[0], b'{"OSCE_Examination": 3}', ac_lines[1]]) + b"\n")
    before = digest(built)
    rc, _, err = cli(capsys, "envs", "build", "--source", "agentclinic", bad, "-o", built, "--strict")
    assert rc == 2
    one_line_error(err, "line 2", "OSCE_Examination")
    assert digest(built) == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]  # no temp file left


@pytest.mark.parametrize("command", ["build", "stats", "show"])
def test_zero_accepted_records_exit_2_with_reject_count(tmp_path, ac_lines, command, capsys):
    src = tmp_path / "ac.jsonl"
    src.write_bytes(b"\n".join(ac_lines) + b"\n")
    extra = ["-o", tmp_path / "out.jsonl"] if command == "build" else []
    rc, _, err = cli(capsys, "envs", command, "--source", "jsonl", src, *extra)
    assert rc == 2
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and all(ln.startswith("medaction ") for ln in err.strip().splitlines())
    assert "0 cases read as jsonl (4 records rejected)" in last and "--source agentclinic" in last
    assert not (tmp_path / "out.jsonl").exists()


# -- deeply nested JSON: that record is rejected with its place, the good ones after it load ---------------------
def test_nested_json_rejects_one_record(built, medrbench_small, tmp_path, ac_lines, capsys):
    good = built.read_bytes().splitlines()
    files = {
        "jsonl": (b"\n".join([good[0], DEEP.encode(), b'{"case_id": ' + DEEP.encode() + b"}", good[1]]), 2),
        "agentclinic": (b"\n".join([ac_lines[0], DEEP.encode(), ac_lines[1]]), 2),
    }
    mrb = json.loads(medrbench_small.read_text())
    keys = list(mrb)
    text = "{\n" + ",\n".join([f"{json.dumps(keys[0])}: {json.dumps(mrb[keys[0]])}", f'"deep": {DEEP}',
                                f"{json.dumps(keys[1])}: {json.dumps(mrb[keys[1]])}"]) + "\n}\n"
    files["medrbench"] = (text.encode(), 2)
    for source, (raw, n_good) in files.items():
        src = tmp_path / f"deep-{source}"
        src.write_bytes(raw)
        out = tmp_path / f"out-{source}.jsonl"
        rc, stdout, err = cli(capsys, "envs", "build", "--source", source, src, "-o", out)
        assert rc == 0, err
        assert f"wrote {n_good} environments" in stdout
        assert "Traceback" not in err and all(ln.startswith("medaction ") for ln in err.strip().splitlines())
        assert str(src) in err and ("line 2" in err or "key deep" in err)


def test_byte_order_mark_is_accepted(built, tmp_path, capsys):
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + built.read_bytes())
    rc, out, _ = cli(capsys, "envs", "stats", bom)
    assert rc == 0 and "environments: 4" in out and "rejected records: 0" in out


# -- score ----------------------------------------------------------------------------------------------------
def _shard_dir(tmp_path: Path) -> tuple[Path, Path]:
    from medaction.envs.types import Environment
    from medaction.envs.load import write_jsonl
    from medaction.policies.types import Turn
    from medaction.scoring.base import build_scorer
    from medaction.scoring.rows import to_row, to_table
    from medaction.tree.types import Node, Trajectory

    env = Environment(case_id="c1", source="test", initial_observation="polyuria", diagnosis="diabetes")
    cases = tmp_path / "cases.jsonl"
    write_jsonl([env], cases)
    node = Node(tree_id="c1/p", node_id="r0", parent_id=None, depth=1, policy_id="p", seed=0,
                turn=Turn(final_diagnosis="diabetes"))
    traj = Trajectory(case_id="c1", policy_id="p", nodes=(node,), stop="final", tree_id="c1/p")
    shards = tmp_path / "run" / "shards"
    shards.mkdir(parents=True)
    table = to_table([to_row(build_scorer("identity").score(traj, env))])
    pq.write_table(table, shards / "shard-00000.parquet")
    pq.write_table(table, shards / "shard-00001.parquet")
    return shards, cases


def test_score_truncated_shard_leaves_no_output(tmp_path, capsys):
    shards, cases = _shard_dir(tmp_path)
    bad = shards / "shard-00001.parquet"
    bad.write_bytes(bad.read_bytes()[:100])
    out = tmp_path / "rescored"
    rc, _, err = cli(capsys, "score", shards.parent, "-o", out, "--cases", cases)
    assert rc == 2
    one_line_error(err, str(bad), "unreadable parquet shard")
    assert not out.exists()


def test_score_bad_row_names_shard_row_field(tmp_path, capsys):
    shards, cases = _shard_dir(tmp_path)
    f = shards / "shard-00001.parquet"
    t = pq.read_table(f)
    i = t.schema.get_field_index("trajectory_json")
    t = t.set_column(i, t.schema.field(i), pa.chunked_array([["{not json"]], t.schema.field(i).type))
    pq.write_table(t, f)
    out = tmp_path / "rescored"
    out.mkdir()
    (out / "retention.json").write_text("{}")  # an earlier score output: must stay as it was
    rc, _, err = cli(capsys, "score", shards.parent, "-o", out, "--cases", cases)
    assert rc == 2
    one_line_error(err, str(f), "row 0", "trajectory_json")
    assert sorted(p.name for p in out.iterdir()) == ["retention.json"]
    assert (out / "retention.json").read_text() == "{}"


def test_score_refuses_input_as_output(tmp_path, capsys):
    shards, cases = _shard_dir(tmp_path)
    before = {p.name: digest(p) for p in shards.iterdir()}
    for out in (shards.parent, shards):
        rc, _, err = cli(capsys, "score", shards.parent, "-o", out, "--cases", cases)
        assert rc == 2
        one_line_error(err, "would write over the input shard")
    assert {p.name: digest(p) for p in shards.iterdir()} == before
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    rc, _, err = cli(capsys, "score", shards.parent, "-o", foreign, "--cases", cases)
    assert rc == 2
    one_line_error(err, "not a `medaction score` output", "--overwrite")
    assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]


# -- eval -----------------------------------------------------------------------------------------------------
def test_eval_compare_missing_directory(tmp_path, capsys):
    out = tmp_path / "cmp"
    rc, _, err = cli(capsys, "eval", "compare", tmp_path / "nope-a", tmp_path / "nope-b", "--out", out)
    assert rc == 2
    one_line_error(err, "nope-a: no such directory")
    assert not out.exists()
    (tmp_path / "empty").mkdir()
    rc, _, err = cli(capsys, "eval", "compare", tmp_path / "empty", "--out", out)
    assert rc == 2
    one_line_error(err, "no eval result here")


def test_eval_unknown_backend_before_ray(built, tmp_path, capsys):
    import ray

    was_up = ray.is_initialized()
    out = tmp_path / "ev"
    rc, _, err = cli(capsys, "eval", "--policy", "gpt-5-turbo", "--cases", built, "--out", out)
    assert rc == 2
    one_line_error(err, "unknown policy backend", "heuristic")
    assert not out.exists()
    assert ray.is_initialized() == was_up  # refused before Ray started
    rc, _, err = cli(capsys, "eval", "--policy", "heuristic", "--policy-config", "{oops", "--cases", built,
                     "--out", out)
    assert rc == 2
    one_line_error(err, "--policy-config", "invalid JSON")


# -- kg build -------------------------------------------------------------------------------------------------
def test_kg_build_bad_rows_are_named(tmp_path, capsys):
    lines = (DATA / "kg_primekg_small.csv").read_text().splitlines()
    cols = lines[5].split(",")
    cols[2] = "x7"
    csv = tmp_path / "kg.csv"
    csv.write_text("\n".join(lines[:4] + ["a,b,3"] + [",".join(cols)] + lines[6:]) + "\n")
    rc, out, err = cli(capsys, "kg", "build", "--primekg", csv, "-o", tmp_path / "store")
    assert rc == 0 and "wrote" in out
    one_line_error(err, "skipped 2 bad rows", "line 5: 3 fields, expected 12")
    cols_only = tmp_path / "bad.csv"
    cols_only.write_text(lines[0] + "\n" + ",".join(cols) + "\n")
    rc, _, err = cli(capsys, "kg", "build", "--primekg", cols_only, "-o", tmp_path / "store2")
    assert rc == 2
    one_line_error(err, str(cols_only), "line 2: field x_index: 'x7' is not a node index")
    assert not (tmp_path / "store2").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("x")
    rc, _, err = cli(capsys, "kg", "build", "--primekg", DATA / "kg_primekg_small.csv", "-o", mine)
    assert rc == 2
    one_line_error(err, "not a graph store", "--overwrite")
    assert [p.name for p in mine.iterdir()] == ["notes.md"]


def test_kg_info_on_damaged_store_is_one_line(tmp_path, capsys):
    store = tmp_path / "store"
    assert cli(capsys, "kg", "build", "--primekg", DATA / "kg_primekg_small.csv", "-o", store)[0] == 0
    for name in ("graph.npz", "nodes.parquet", "meta.json"):
        bad = tmp_path / f"bad-{name}"
        bad.mkdir()
        for f in store.iterdir():
            (bad / f.name).write_bytes(f.read_bytes()[:100] if f.name == name else f.read_bytes())
        rc, _, err = cli(capsys, "kg", "info", bad)
        assert rc == 2
        one_line_error(err, str(bad / name))


# -- serve ----------------------------------------------------------------------------------------------------
def test_serve_busy_port_is_one_line(capsys):
    import ray

    was_up = ray.is_initialized()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        rc, _, err = cli(capsys, "serve", "--port", port)
    assert rc == 2
    one_line_error(err, f"127.0.0.1:{port}: port not available", "--port")
    assert ray.is_initialized() == was_up
    rc, _, err = cli(capsys, "serve", "--policy", "nope", "--port", port)
    assert rc == 2
    one_line_error(err, "unknown policy backend")


def test_rejects_file_never_replaces_an_input_or_foreign_file(built, tmp_path, capsys):
    before = digest(built)
    rc, _, err = cli(capsys, "envs", "stats", built, "--rejects", built)
    assert rc == 2
    one_line_error(err, "same file as input")
    assert digest(built) == before
    notes = tmp_path / "notes.txt"
    notes.write_text("precious\n")
    rc, _, err = cli(capsys, "envs", "build", built, "-o", tmp_path / "o.jsonl", "--rejects", notes)
    assert rc == 2
    one_line_error(err, "not a rejects JSONL")
    assert notes.read_text() == "precious\n" and not (tmp_path / "o.jsonl").exists()


def test_extract_with_no_readable_report_creates_nothing(tmp_path, capsys):
    bad = tmp_path / "cases.csv"
    bad.write_text("not a report\n")
    out = tmp_path / "envs.jsonl"
    rc, _, err = cli(capsys, "envs", "extract", "--input", bad, "--policy", "heuristic", "-o", out)
    assert rc == 2
    lines = err.strip().splitlines()
    assert all(ln.startswith("medaction envs extract: ") for ln in lines) and "Traceback" not in err
    assert "no readable report" in lines[-1] and "(1 inputs rejected)" in lines[-1]
    assert not out.exists() and not list(tmp_path.glob("envs.jsonl*"))
