"""Entity linker and encoders on the offline HPO graph and the PrimeKG fixture; accuracy on the labelled set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medaction.scoring.encoders import LexicalEncoder, MiniLMEncoder, build_encoder, normalise
from medaction.scoring.linker import EntityLinker
from tests.support.linker_eval import evaluate, load_labels
from medaction.scoring.loaders.primekg import load_primekg
from medaction.scoring.store import hpo_store

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def hpo_linker() -> EntityLinker:
    return EntityLinker(hpo_store(), types=("disease", "phenotype"), encoder="lexical", threshold=0.5)


def test_normalise() -> None:
    assert normalise("  Hirschsprung’s  Disease (HD). ") == "hirschsprung disease hd"
    assert normalise("Bowen's disease") == "bowen disease"


def test_exact_prefers_first_allowed_type(hpo_linker: EntityLinker) -> None:
    lk = hpo_linker.link("Myasthenia gravis")
    assert lk.method == "exact" and lk.score == 1.0
    assert lk.node_id in {"ORPHA:589", "OMIM:254200"}  # a disease node, not the phenotype "Myasthenia"
    assert hpo_linker.graph.node(lk.node)["type"] == "disease"


def test_abbreviation_and_eponym(hpo_linker: EntityLinker) -> None:
    assert hpo_linker.link("MG").node_id in {"ORPHA:589", "OMIM:254200"}
    assert hpo_linker.link("MG").method == "abbreviation"
    assert hpo_linker.link("ALL").node_id == "HP:0006721"  # not the HPO root term "All"
    assert hpo_linker.link("Hirschsprung’s disease").node_id in {"ORPHA:388", "HP:0002251"}


def test_most_specific_contained_match(hpo_linker: EntityLinker) -> None:
    assert hpo_linker.link("Renal cell carcinoma of the left kidney").node_id == "HP:0005584"
    lk = hpo_linker.link("Stage IV renal cell carcinoma")
    assert lk.node_id == "HP:0005584" and lk.method == "span"  # not the broad "Carcinoma"
    lk = hpo_linker.link("Fulminant myocarditis associated with human rhinovirus A66 infection.")
    assert lk.node_id == "HP:0012819"  # head clause -> Myocarditis
    assert hpo_linker.link("Acute and severe Marchiafava-Bignami Disease (Type A).").node_id == "ORPHA:221074"
    # a broad word alone never links: "focal" / "carcinoma" are not diagnoses
    assert hpo_linker.link("focal").node is None
    assert hpo_linker.link("carcinoma").node is None


def test_threshold_and_cache(hpo_linker: EntityLinker) -> None:
    assert hpo_linker.link("").node is None
    bad = hpo_linker.link("qzxv wplk")
    assert bad.node is None and bad.method == "none" and bad.score < 0.5
    texts = ["Asthma", "asthma", "Asthma"]
    links = hpo_linker.link_many(texts)
    assert links[0] is links[2] and links[0].node == links[1].node
    strict = EntityLinker(hpo_linker.graph, types=("disease", "phenotype"), encoder="lexical", threshold=0.99)
    assert strict.index is hpo_linker.index  # one shared name index per graph and encoder
    assert strict.link("Posterior hip dislocation").node is None  # encoder hit at ~0.8 is below 0.99
    assert hpo_linker.link("Posterior hip dislocation").node_id == "HP:0002827"


def test_tests_link_to_test_anchors_then_findings() -> None:
    g = hpo_store()
    tl = EntityLinker(g, types=g.meta["test_types"], encoder="lexical")
    assert tl.link("CBC").node_id == "TEST:complete_blood_count"
    assert tl.link("chest x-ray").node_id == "TEST:chest_x-ray"
    assert tl.link("ECG").node_id == "TEST:electrocardiogram"
    ferritin = tl.link("serum ferritin")  # no curated test: falls back to a lab-abnormality phenotype
    assert ferritin.node is not None and "ferritin" in ferritin.name.lower()


def test_labelled_set_accuracy(hpo_linker: EntityLinker) -> None:
    labels = load_labels(DATA / "linker_labels.jsonl")
    assert len(labels) >= 100
    kinds = {r["kind"] for r in labels}
    assert {"diagnosis", "abbreviation", "eponym"} <= kinds
    res = evaluate(hpo_linker, labels)
    assert res["accuracy"] >= 0.85, res["errors"]  # measured 89.1% (lexical, threshold 0.5)
    assert res["by_kind"]["abbreviation"]["accuracy"] >= 0.9


def test_lexical_encoder_rows_are_normalised() -> None:
    enc = LexicalEncoder(["myocardial infarction", "pneumonia", "fracture"])
    m = enc.encode(["myocardial infarct", "pneumonia", "zzz"])
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    assert np.allclose(norms[:2], 1.0) and norms[2] == 0.0
    sims = (m @ enc.encode(["myocardial infarction", "pneumonia", "fracture"]).T).toarray()
    assert sims[0].argmax() == 0 and sims[1, 1] == pytest.approx(1.0)


def test_unknown_and_misconfigured_encoders(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown encoder 'bert'"):
        build_encoder("bert", [])
    with pytest.raises(ValueError, match="needs model_dir"):
        build_encoder("medcpt", [])
    with pytest.raises(RuntimeError, match="not a MedCPT model directory"):
        build_encoder("medcpt", [], model_dir=str(tmp_path))


def test_minilm_encoder_links_paraphrase_on_primekg_fixture() -> None:
    enc = MiniLMEncoder()
    v = enc.encode(["heart attack", "myocardial infarction", "broken leg"])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]
    g = load_primekg(DATA / "kg_primekg_small.csv")
    linker = EntityLinker(g, types=("disease",), encoder=enc, threshold=0.5)
    lk = linker.link("heart attack")
    assert lk.method == "encoder" and lk.name == "myocardial infarction"
    assert linker.link("T2DM").name == "type 2 diabetes mellitus"  # abbreviation -> exact name
