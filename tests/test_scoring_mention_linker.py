"""Diagnosis linker (mention -> node) on the offline HPO graph and the PrimeKG fixture; `medaction kg link`;
the labelled MedR-Bench benchmark when ../shared is present."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medaction.cli import main as cli_main
from medaction.scoring.kg_scorer import KGScorer, KGScorerConfig
from medaction.scoring.loaders.primekg import load_primekg
from medaction.scoring.mention_linker import DiagnosisLinker
from medaction.scoring.store import hpo_store

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SHARED = Path(os.environ.get("MEDACTION_SHARED") or REPO.parent / "shared")


@pytest.fixture(scope="module")
def dx() -> DiagnosisLinker:
    return DiagnosisLinker(hpo_store(), types=("disease", "phenotype"))


def test_sentence_forms_link_the_head_mention(dx: DiagnosisLinker) -> None:
    lk = dx.link("The patient was diagnosed with **Gaucher Disease Type 3** based on the enzyme assay.")
    assert lk.node_id == "ORPHA:77261" and lk.mention == "Gaucher Disease Type 3"
    assert dx.link("Scimitar syndrome was diagnosed on CT angiography.").node_id == "ORPHA:185"
    # "X due to Y": X is linked, never Y
    lk = dx.link("Communicating hydrocephalus due to VP shunt obstruction")
    assert lk.node_id == "HP:0001334" and lk.method == "exact"
    assert dx.link("Myocarditis with cardiogenic shock secondary to HHV-6").node_id == "HP:0012819"
    # "metastasis from Y": the disease is Y
    assert dx.link("Pancreatic metastasis from lung adenocarcinoma.").node_id == "HP:0030078"
    # a Markdown-bold span names the diagnosis when the grammar hides it
    lk = dx.link("Clinical course and histology confirmed **Pulmonary nocardiosis** as the cause of the cavity.")
    assert lk.node_id == "ORPHA:31204"


def test_near_misses_stay_unlinked(dx: DiagnosisLinker) -> None:
    strict = DiagnosisLinker(dx.graph, types=("disease", "phenotype"), base=dx.base, backoff=False)
    for text in ("Postpolypectomy syndrome", "Emphysematous hepatitis", "Intestinal tuberculosis",
                 "COVID-19 pneumonia", "Irritable bowel syndrome", "focal", "carcinoma", ""):
        assert strict.link(text).node is None, text
    # back-off reaches the parent the graph has, named by the head noun, never another disease: "Emphysematous
    # hepatitis" is a hepatitis (not Emphysema)
    for text in ("Postpolypectomy syndrome", "Irritable bowel syndrome", "focal", "carcinoma", ""):
        assert dx.link(text).node is None, text
    assert dx.link("Intestinal tuberculosis").name == "Extrapulmonary tuberculosis"  # never the skin test
    lk = dx.link("Emphysematous hepatitis")
    assert lk.name == "Hepatitis" and lk.method == "parent"
    lk = dx.link("Collecting duct renal cell carcinoma")
    assert lk.node_id == "HP:0005584" and lk.method == "parent"
    # a subtype never backs off onto a bare class or an organ's "Neoplasm of ..." term
    for text in ("Intermediate-grade myofibroblastic sarcoma", "Yolk sac tumor of the liver", "Brodie abscess"):
        assert dx.link(text).node is None, text
    assert dx.link("Anaerobic brain abscess").node_id == "HP:0030049"  # a sited class is a named entity
    # a site is dropped only when the graph has no site-specific concept for it
    assert dx.link("Gastric schwannoma").node_id == "HP:0100008"
    assert dx.link("Pulmonary hypertension").node_id != "HP:0000822"  # never plain "Hypertension"


def test_disease_before_phenotype_types_numbers_and_typos(dx: DiagnosisLinker) -> None:
    assert dx.graph.node(dx.link("Myasthenia gravis").node)["type"] == "disease"
    assert dx.link("Classic Bartter syndrome type III").node_id == "OMIM:607364"  # III = 3, not type 2 or 4
    assert dx.link("Stage IV renal cell carcinoma").node_id == "HP:0005584"
    assert dx.link("Stage IV renal cell carcinoma (clear cell type)").node_id == "HP:0006770"  # the bracket's subtype
    assert dx.link("Hirschprung disease").node_id == dx.link("Hirschsprung disease").node_id == "ORPHA:388"
    assert dx.link("HCM").node_id == "HP:0001639"  # a head that is only an abbreviation
    # a bracketed abbreviation whose expansion shares no word with the head is ignored ("CVA" != stroke here)
    assert dx.link("Cough-variant asthma (CVA)").node_id != "HP:0001297"
    assert dx.link("Concomitant colonic atresia and long-segment Hirschsprung's disease").node_id in {
        "ORPHA:1198", "HP:0010448"}


def test_cache_and_batch(dx: DiagnosisLinker) -> None:
    a, b, c = dx.link_many(["Ewing sarcoma", "Ewing's Sarcoma of the femur", "Ewing sarcoma"])
    assert a is c and a.node == b.node


def test_primekg_fixture_and_scorer_truth_sentence() -> None:
    g = load_primekg(DATA / "kg_primekg_small.csv")
    dx = DiagnosisLinker(g, types=("disease",))
    assert dx.link("The final diagnosis is type 2 diabetes mellitus.").name == "type 2 diabetes mellitus"
    assert dx.link("T2DM").name == "type 2 diabetes mellitus"
    scorer = KGScorer(KGScorerConfig(filter="none"), dtc_graph=g)
    dtc, s = scorer.dtc("The patient was diagnosed with type 2 diabetes mellitus based on HbA1c.",
                        ["type 1 diabetes mellitus", "type 2 diabetes mellitus"])
    assert s is not None and g.node(s)["name"] == "type 2 diabetes mellitus" and dtc[-1] == 0


def test_kg_link_cli(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "texts.txt"
    f.write_text("Scimitar syndrome was diagnosed on CT.\n\nPostpolypectomy syndrome\n", encoding="utf-8")
    assert cli_main(["kg", "link", "Orbital cellulitis secondary to acute sinusitis", "--file", str(f)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3
    assert rows[0]["mention"] == "Orbital cellulitis" and rows[0]["causes"] == ["acute sinusitis"]
    assert rows[1]["node"] == "ORPHA:185" and rows[1]["name"] == "Scimitar syndrome" and rows[1]["score"] == 1.0
    assert rows[2]["node"] is None and rows[2]["method"] == "none" and rows[2]["mention"] == "Postpolypectomy syndrome"
    # any built graph: the PrimeKG fixture store
    store = tmp_path / "pk"
    assert cli_main(["kg", "build", "--primekg", str(DATA / "kg_primekg_small.csv"), "-o", str(store)]) == 0
    capsys.readouterr()
    assert cli_main(["kg", "link", "--graph", str(store), "T2DM"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "type 2 diabetes mellitus"
    # a parent link is marked; --no-parents leaves the subtype unlinked
    assert cli_main(["kg", "link", "Collecting duct renal cell carcinoma"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["method"] == "parent" and row["node"] == "HP:0005584"
    assert cli_main(["kg", "link", "--no-parents", "Collecting duct renal cell carcinoma"]) == 0
    assert json.loads(capsys.readouterr().out)["node"] is None


def test_kg_link_cli_errors(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli_main(["kg", "link"]) == 2
    assert "no texts" in capsys.readouterr().err
    assert cli_main(["kg", "link", "--file", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt: cannot read texts" in capsys.readouterr().err
    assert cli_main(["kg", "link", "--types", "nosuchtype", "asthma"]) == 2
    assert cli_main(["kg", "link", "--graph", str(tmp_path / "nograph"), "asthma"]) == 1


@pytest.mark.skipif(not (SHARED / "data" / "judge" / "medrbench_judged_answers_dev.jsonl").is_file(),
                    reason=f"MedR-Bench shared data not found under {SHARED} (set MEDACTION_SHARED)")
def test_linking_benchmark_on_labelled_medrbench() -> None:
    out = subprocess.run([sys.executable, "bench/linking.py", "--shared", str(SHARED)], cwd=REPO, text=True,
                         capture_output=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    rows = {tuple(line.split()[:2]): line.split() for line in out.stdout.splitlines()
            if line.split()[:1] and line.split()[0] in {"diagnosis_results", "final_diagnosis", "answer", "all"}}
    n, unlinkable, rate, precision = rows[("all", "all")][2:6]
    assert int(n) >= 300 and int(unlinkable) > 0
    assert float(precision) >= 0.9  # measured 0.916 on all 1,510 labels (clean samples 0.81-0.93)
    assert float(rate) >= 0.8  # measured 0.818; the 0.85 goal is not met on clean samples (docs/notes/linking.md)


def test_batch_scoring_takes_unlinked_differential_entries() -> None:
    from tests.support.batch_scoring import LinkedTrajectory, score_linked

    g = load_primekg(DATA / "kg_primekg_small.csv")
    t2, t1 = g.index_of("MONDO:0"), g.index_of("MONDO:1")
    hyper = g.index_of("HPO:2")
    unl = ("unlinked", "postpolypectomy syndrome")
    traj = LinkedTrajectory(truth=t2, diffs=((unl, t1), (t1, t2), (t2,)), tests=((hyper,), (hyper,), ()))
    (res,) = score_linked([traj], g, cap=8, tau=3.0, filter_name="none")
    assert res.dtc[0] is None  # an unlinked top-1 measures nothing (docs/design.md, "What cannot be measured")
    assert res.dtc[2] == 0
    assert res.rac[1] is not None and res.rac[1] > 0  # t2 entering is a change; the unlinked entry is left out


def test_parent_links_give_dtc_but_never_correctness() -> None:
    g = hpo_store()
    scorer = KGScorer(KGScorerConfig(filter="none"), dtc_graph=g)
    truth = "Severe COVID-19 pneumonia."
    dtc, s = scorer.dtc(truth, ["Pneumonia", "Myocarditis"])
    assert s is not None and g.node(s)["name"] == "Pneumonia" and dtc[0] == 0  # DTC measured against the parent
    assert scorer.dtc_linker.link(truth).method == "parent"
    # another subtype backed off to the same parent node is not the diagnosis
    assert scorer.dtc_linker.link("Klebsiella pneumonia").node == s
    assert not scorer.is_correct("Klebsiella pneumonia", truth, s)
    named = "The patient was diagnosed with Myocarditis."
    assert scorer.is_correct("Myocarditis", named, scorer.dtc_linker.link(named).node)
    strict = KGScorer(KGScorerConfig(filter="none", link_parents=False), dtc_graph=g)
    assert strict.dtc(truth, ["Pneumonia"])[1] is None  # strict linking: the truth stays unlinked


def test_closed_compounds_and_parent_classes(dx: DiagnosisLinker) -> None:
    # the graph spells "Post-partum hemorrhage" open; a known word pair closes it
    assert dx.link("Postpartum Hemorrhage").node_id == "HP:0011891"
    # a named node wins over the parent class; the parent class only when nothing else names it
    assert dx.link("Invasive pancreatic ductal adenocarcinoma").node_id == "HP:0006725"
    lk = dx.link("FIGO stage IB grade 2 endometrioid adenocarcinoma of the endometrium")
    assert lk.node_id == "HP:0012114" and lk.method == "parent"


def test_extra_site_nodes_and_locative_tails(dx: DiagnosisLinker) -> None:
    # a disease named at a site other than the one an "extra<site>" node excludes
    for text in ("Isolated testicular tuberculosis", "Sternal tuberculosis", "Thyroid tuberculosis"):
        assert dx.link(text).node_id == "HP:0032271", text  # Extrapulmonary tuberculosis
    assert dx.link("Pulmonary tuberculosis").name == "Pulmonary tuberculosis"
    assert dx.link("Drug-resistant tuberculosis").node_id != "HP:0032271"  # no site named: not extrapulmonary
    for text in ("Disseminated tuberculosis", "Miliary tuberculosis"):  # spread beyond the lung: extrapulmonary too
        assert dx.link(text).node_id == "HP:0032271", text
    # "recurrence of Y": Y is the disease, backed off when the graph lacks its subtype
    assert dx.link("Recurrence of ER+ pulmonary adenocarcinoma").node_id == "HP:0030078"


def test_backoff_keeps_what_kind_of_thing_is_named(dx: DiagnosisLinker) -> None:
    # a hyphenated eponym is one unit, an adjective alone names nothing, a syndrome is not its organ's anomaly
    assert dx.link("Guillain-Barré Syndrome").name != "Barrett esophagus"
    assert dx.link("Gastrointestinal (small intestine) metastases from lung cancer").node is None
    assert dx.link("Asymptomatic Double Superior Vena Cava").node is None
    # ties go to the node that drops sites, not disease words
    assert dx.link("Cavitary pulmonary rheumatoid nodules").name == "Rheumatoid nodule"


def test_possessive_eponyms_and_relapse(dx: DiagnosisLinker) -> None:
    assert dx.link("Wernicke’s encephalopathy").name != "Encephalopathy"  # the eponym names the entity
    assert dx.link("Isolated ocular relapse of leukemia").node_id == "HP:0001909"  # "relapse of Y": Y
    assert dx.link("- **Case 1:** Myasthenia gravis with thymoma").mention == "Myasthenia gravis"


def test_a_bracketed_abbreviation_of_the_head_is_no_other_disease(dx: DiagnosisLinker) -> None:
    lk = dx.link("Appendiceal goblet cell adenocarcinoma (GCA) with ovarian metastasis")
    assert lk.name != "Giant cell arteritis"


def test_a_named_fever_is_no_fever(dx: DiagnosisLinker) -> None:
    assert dx.link("Paratyphoid Fever").name != "Fever"  # a disease named "X fever" never backs off to the symptom
    assert dx.link("Fever").name == "Fever"


def test_a_pathogen_names_the_infectious_disease(dx: DiagnosisLinker) -> None:
    # genus -> "-osis"/"-iasis" disease at the phrase's site; the lesion is the site of an extra-site node
    for text, name in (("Listeria monocytogenes meningitis", "Listeriosis"),
                       ("Pulmonary Nocardia infection", "Nocardiosis"),
                       ("Aspergillus pneumonia", "Aspergillosis"),
                       ("Hydatid cyst of the liver", "Cystic echinococcosis"),
                       ("Tuberculous orchitis", "Extrapulmonary tuberculosis"),
                       ("Tuberculosis of the left wrist joint", "Extrapulmonary tuberculosis"),
                       ("Tuberculous pneumonia", "Pulmonary tuberculosis")):
        lk = dx.link(text)
        assert (lk.name, lk.method) == (name, "parent"), text
    # an organ or a tissue adjective is no pathogen, a "-like" disease is not the disease, no site: no TB node
    assert dx.link("Endometrioid adenocarcinoma of the endometrium").name != "Endometriosis"
    assert dx.link("Fibrous dysplasia of the femur").name != "Fibrosis"
    assert dx.link("Sarcoidosis-like reaction").name != "Sarcoidosis"
    assert dx.link("Mycobacterium tuberculosis infection").node is None


def test_site_variants_of_a_named_disease_and_organ_cancers(dx: DiagnosisLinker) -> None:
    # a site variant backs off to a one-word disease although a longer sited sibling exists ...
    assert dx.link("Probable pulmonary aspergillosis").name == "Aspergillosis"
    assert dx.link("Pulmonary hypertension").node_id != "HP:0000822"  # ... never onto the plain phenotype
    # an organ's carcinoma is the graph's "<organ> cancer"; an organ's "Neoplasm" stays out of reach
    lk = dx.link("Prostatic adenocarcinoma, Gleason 3+4")
    assert lk.name == "Prostate cancer" and lk.method == "parent"
    assert dx.link("Yolk sac tumor of the liver").node is None


def test_pregnancy_conditions_are_findings(dx: DiagnosisLinker) -> None:
    # HPO files them under "Pregnancy history", outside "Phenotypic abnormality"; inheritance modes stay modifiers
    g = dx.graph
    types = g.nodes.column("type").to_pylist()
    assert types[g.index_of("HP:0031456")] == "phenotype" and types[g.index_of("HP:0000006")] == "modifier"
    assert dx.link("Interstitial ectopic pregnancy").name == "Ectopic pregnancy"
    assert dx.link("Severe preeclampsia").name == "Preeclampsia"


def test_stages_destinations_brackets_and_inverted_names(dx: DiagnosisLinker) -> None:
    # Gleason scores and TNM stages are stage values, however written
    assert dx.link("Prostatic adenocarcinoma Gleason 3+4=7 pT2N0R0").name == "Prostate cancer"
    # "metastatic X to the Y": Y is where it spread, not its site
    assert dx.link("Metastatic lung adenocarcinoma to the pancreas.").node_id == "HP:0030078"
    # a comma inside brackets cuts nothing: the bracket's sites never join the head
    lk = dx.link("Disseminated Invasive Aspergillosis (pulmonary, cardiac, and ocular involvement)")
    assert lk.name == "Aspergillosis"
    # a word set spelled in another order by another name keeps every last word ("Leiomyoma, uterine")
    assert dx.link("Intramural uterine leiomyoma").node_id in {"HP:0000131", "OMIM:150699"}
    # a site-bound pressure is no systemic hypertension
    assert dx.link("Intra-abdominal hypertension").node_id != "HP:0000822"
    assert dx.link("Placenta accreta spectrum").name == "Placenta accreta"


def test_a_gene_named_disorder_links_the_genes_disease(dx: DiagnosisLinker) -> None:
    lk = dx.link("The patient was diagnosed with **DNAJC12 Deficiency**, an inherited metabolic disorder.")
    assert (lk.node_id, lk.method) == ("OMIM:617384", "gene")  # the gene's only disease in the graph
    lk = dx.link("Bethlem Myopathy caused by a homozygous COL6A2 splice site variant (c.1817-3C>G).")
    assert lk.method == "gene" and "bethlem" in lk.name.lower()  # several: the one sharing the head's words
    # a finding the graph knows, caused by the gene's disorder, is that finding, never the disorder
    assert "neurofibromatosis" not in dx.link("NF1-associated secondary glaucoma in the left eye").name.lower()
    assert dx.link("Spinal epidural abscess extending from C2 to T4").method != "gene"  # no genetic context


def test_latin_qualifiers_sites_after_a_locative_and_number_commas(dx: DiagnosisLinker) -> None:
    assert dx.link("Myotonia Congenita").node_id is not None  # "congenita" qualifies like "congenital"
    # "X involving the skin and bone marrow": the parts after a locative word are sites, never diagnoses
    lk = dx.link("Blastic plasmacytoid dendritic cell neoplasm (BPDCN) involving the skin and bone marrow.")
    assert "marrow" not in (lk.name or "").lower()
    # a comma between digits is part of a chemical name, not a list
    assert dx.link("1,2-dichloroethane (DCE)-induced toxic encephalopathy, presenting with nausea").mention != "1"


def test_a_site_beside_an_organ_is_not_the_organ(dx: DiagnosisLinker) -> None:
    assert dx.link("Benign para-ovarian cyst").name != "Ovarian cyst"
    assert dx.link("Ovarian cyst").name == "Ovarian cyst"


def test_gene_named_in_the_sentence_and_bones(dx: DiagnosisLinker) -> None:
    # the gene may be named after the mention, in the same sentence
    lk = dx.link("Vanishing White Matter Disease (VWMD), confirmed by genetic mutation in EIF2B5 and typical MRI.")
    assert lk.method == "gene" and "vanishing white matter" in lk.name.lower()
    # a gene with many diseases links none on one shared word
    assert dx.link("Fibroadipose vascular anomaly (FAVA) with a PIK3CA variant").method != "gene"
    # a disease of a named bone is a disease of bone
    assert dx.link("Giant cell tumor of the distal femur").name == "Giant cell tumor of bone"
    assert dx.link("Fibrous dysplasia of the rib").node_id in {"ORPHA:249", "HP:0010734"}


def test_onset_words_and_type_numbers_at_back_off(dx: DiagnosisLinker) -> None:
    # "systemic-onset" and "systemic" name the same subtype: a node may carry "onset" beyond the text's words
    assert dx.link("Systemic Juvenile Idiopathic Arthritis (sJIA) with panniculitis").node_id in {
        "ORPHA:85414", "HP:0005681"}
    # a type number the graph lacks backs off to the family; a type the graph has stays exact
    lk = dx.link("Dentinogenesis Imperfecta Type II (DGI-II)")
    assert lk.name == "Dentinogenesis imperfecta" and lk.method == "parent"
    assert dx.link("Gaucher disease type 3").node_id == "ORPHA:77261"
