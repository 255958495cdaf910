"""Writes the small graph fixtures in the exact PrimeKG and ClinGraph layouts.

Run: python tests/data/kg_make_fixtures.py

Hand-designed so every hop distance used by tests/test_scoring_*.py can be checked by eye:
PrimeKG (DTC), from 'type 2 diabetes mellitus' (0): hyperglycemia/INS/metformin 1, type 1 diabetes 2,
polyuria 2, diabetes insipidus 3, fatigue 4, hypothyroidism 5, cough 5, pneumonia 6, pulmonary tuberculosis 6,
myocardial infarction unreachable (own component with chest pain).
ClinGraph (RAC), from the HbA1c test: Diabetes Mellitus (CUI) 1, T2DM/T1DM 2, glucose test 2, diabetes
insipidus 3, phecode 250.2 3; TSH test -> hypothyroidism 1; chest X-ray CPT -> pneumonia 1, tuberculosis 1.
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent

PRIMEKG_NODES = [
    ("disease", "type 2 diabetes mellitus", "MONDO"), ("disease", "type 1 diabetes mellitus", "MONDO"),
    ("effect/phenotype", "hyperglycemia", "HPO"), ("disease", "diabetes insipidus", "MONDO"),
    ("effect/phenotype", "polyuria", "HPO"), ("disease", "hypothyroidism", "MONDO"),
    ("effect/phenotype", "fatigue", "HPO"), ("disease", "pneumonia", "MONDO"),
    ("effect/phenotype", "cough", "HPO"), ("disease", "pulmonary tuberculosis", "MONDO"),
    ("gene/protein", "INS", "NCBI"), ("disease", "myocardial infarction", "MONDO"),
    ("effect/phenotype", "chest pain", "HPO"), ("drug", "metformin", "DrugBank"),
]
PRIMEKG_EDGES = [(0, 2), (1, 2), (0, 10), (1, 10), (0, 13), (2, 4), (3, 4), (3, 6), (5, 6), (6, 8), (7, 8),
                 (8, 9), (11, 12)]
_REL = {frozenset({"disease", "effect/phenotype"}): ("disease_phenotype_positive", "phenotype present"),
        frozenset({"disease", "gene/protein"}): ("disease_protein", "associated with"),
        frozenset({"disease", "drug"}): ("indication", "indication")}

CLIN_NODES = [
    ("E11.9:icd10cm", "Type 2 diabetes mellitus without complications", "ICD10CM"),
    ("E10.9:icd10cm", "Type 1 diabetes mellitus without complications", "ICD10CM"),
    ("250.2:phecode", "Type 2 diabetes", "PHECODE"),
    ("4548-4:lnc", "Hemoglobin A1c/Hemoglobin.total in Blood", "LNC"),
    ("2345-7:lnc", "Glucose [Mass/volume] in Serum or Plasma", "LNC"),
    ("E03.9:icd10cm", "Hypothyroidism, unspecified", "ICD10CM"),
    ("3016-3:lnc", "Thyrotropin [Units/volume] in Serum or Plasma", "LNC"),
    ("J18.9:icd10cm", "Pneumonia, unspecified organism", "ICD10CM"),
    ("71046:cpt", "Radiologic examination, chest; 2 views", "CPT"),
    ("A15.0:icd10cm", "Tuberculosis of lung", "ICD10CM"),
    ("C0011849:umls_cui", "Diabetes Mellitus", "UMLS_CUI"),
    ("E23.2:icd10cm", "Diabetes insipidus", "ICD10CM"),
    ("I21.9:icd10cm", "Acute myocardial infarction, unspecified", "ICD10CM"),
]
CLIN_EDGES = [(0, 10, "ASSOC"), (1, 10, "ASSOC"), (10, 3, "ASSOC"), (10, 4, "ASSOC"), (0, 2, "DEFINED"),
              (5, 6, "ASSOC"), (7, 8, "ASSOC"), (9, 8, "ASSOC"), (4, 11, "ASSOC")]


def write_primekg(path: Path) -> Path:
    cols = ["relation", "display_relation", "x_index", "x_id", "x_type", "x_name", "x_source",
            "y_index", "y_id", "y_type", "y_name", "y_source"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for a, b in PRIMEKG_EDGES:
            for x, y in ((a, b), (b, a)):  # PrimeKG writes every edge both ways
                (xt, xn, xs), (yt, yn, ys) = PRIMEKG_NODES[x], PRIMEKG_NODES[y]
                rel, disp = _REL.get(frozenset({xt, yt}), ("phenotype_phenotype", "parent-child"))
                w.writerow([rel, disp, x, f"{xs}:{x}", xt, xn, xs, y, f"{ys}:{y}", yt, yn, ys])
    return path


def write_clingraph(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "ClinGraph_nodes.csv").open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["node_id", "node_name", "ntype", "node_index"])
        for i, (nid, name, t) in enumerate(CLIN_NODES):
            w.writerow([nid, name, t, i])
    with (directory / "ClinGraph_edges.csv").open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t")
        w.writerow(["index", "node_id_x", "node_name_x", "ntype_x", "relationship", "node_id_y", "node_name_y",
                    "ntype_y", "node_index_x", "node_index_y", "edge_index"])
        for k, (a, b, rel) in enumerate(CLIN_EDGES):
            (xi, xn, xt), (yi, yn, yt) = CLIN_NODES[a], CLIN_NODES[b]
            w.writerow([k, xi, xn, xt, rel, yi, yn, yt, a, b, k])
    return directory


if __name__ == "__main__":
    print(write_primekg(HERE / "kg_primekg_small.csv"))
    print(write_clingraph(HERE / "kg_clingraph"))
