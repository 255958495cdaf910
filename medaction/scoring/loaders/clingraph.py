"""ClinGraph (ClinVec release) -> GraphStore.

Files: `ClinGraph_nodes.csv` and `ClinGraph_edges.csv`, TAB-separated despite the name. Nodes: node_id
(`E11.9:icd10cm`, `C0011849:umls_cui`), node_name, ntype (ICD10CM, PHECODE, LNC, CPT, SNOMEDCT_US, RXNORM, ATC,
UMLS_CUI, ICD9CM), node_index. Edges (denormalised): node_id_x, ..., relationship (ASSOC/DEFINED), node_id_y, ...;
we key edges on node_id_x/node_id_y so a renumbered node table still joins. Tests for RAC are LNC and CPT nodes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from medaction.scoring.graph import GraphError, GraphStore, csr_from_edges, node_table
from medaction.scoring.loaders.bad_rows import checked_batches, first_bad_row

NODES_FILE = "ClinGraph_nodes.csv"
EDGES_FILE = "ClinGraph_edges.csv"
TEST_TYPES = ["LNC", "CPT"]
DISEASE_TYPES = ["ICD10CM", "PHECODE", "SNOMEDCT_US", "ICD9CM", "UMLS_CUI"]
class _ShortRows:
    """invalid_row_handler: rows with the wrong number of fields are skipped and counted, not fatal."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _row: object) -> str:
        self.count += 1
        return "skip"


def _parse(short: _ShortRows) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(delimiter="\t", quote_char='"', invalid_row_handler=short)


def _header(path: Path) -> list[str]:
    with path.open("rb") as fh:
        return fh.readline().decode("utf-8", "replace").rstrip("\r\n").split("\t")


def load_clingraph(directory: str | Path, *, name: str = "ClinGraph") -> GraphStore:
    d = Path(directory)
    nodes_path, edges_path = d / NODES_FILE, d / EDGES_FILE
    for p in (nodes_path, edges_path):
        if not p.is_file():
            raise GraphError(f"{p}: ClinGraph file not found")
    need_nodes = ["node_id", "node_name", "ntype"]
    header = _header(nodes_path)
    missing = [c for c in need_nodes if c not in header]
    if missing:
        raise GraphError(f"{nodes_path}: columns {missing} missing (tab-separated expected; header {header})")
    short_nodes, short_edges = _ShortRows(), _ShortRows()
    try:
        nodes = pacsv.read_csv(nodes_path, parse_options=_parse(short_nodes), convert_options=pacsv.ConvertOptions(
            include_columns=need_nodes, column_types={c: pa.string() for c in need_nodes}))
    except pa.ArrowInvalid as exc:
        raise GraphError(f"{nodes_path}: unreadable: {' '.join(str(exc).split())[:300]}") from None
    ids = nodes.column("node_id")
    if ids.null_count:
        raise GraphError(f"{nodes_path}: field node_id is empty in {ids.null_count} rows")
    if pc.count_distinct(ids).as_py() != len(ids):
        raise GraphError(f"{nodes_path}: field node_id has duplicates")
    eh = _header(edges_path)
    missing = [c for c in ("node_id_x", "node_id_y") if c not in eh]
    if missing:
        raise GraphError(f"{edges_path}: columns {missing} missing (tab-separated expected; header {eh})")
    try:
        reader = pacsv.open_csv(edges_path, parse_options=_parse(short_edges), convert_options=pacsv.ConvertOptions(
            include_columns=["node_id_x", "node_id_y"],
            column_types={"node_id_x": pa.string(), "node_id_y": pa.string()}))
    except pa.ArrowInvalid as exc:
        raise GraphError(f"{edges_path}: unreadable: {' '.join(str(exc).split())[:300]}") from None
    src_parts, dst_parts, unknown = [], [], 0
    for batch in checked_batches(reader, edges_path):
        x = pc.index_in(batch.column("node_id_x"), value_set=ids)
        y = pc.index_in(batch.column("node_id_y"), value_set=ids)
        ok = pc.and_(pc.is_valid(x), pc.is_valid(y))
        unknown += len(ok) - pc.sum(ok).as_py() if len(ok) else 0
        src_parts.append(pc.filter(x, ok).to_numpy().astype(np.int64))
        dst_parts.append(pc.filter(y, ok).to_numpy().astype(np.int64))
    n = nodes.num_rows
    src = np.concatenate(src_parts) if src_parts else np.zeros(0, np.int64)
    dst = np.concatenate(dst_parts) if dst_parts else np.zeros(0, np.int64)
    indptr, indices = csr_from_edges(n, src, dst)
    id_list = ids.to_pylist()
    table = node_table(id_list, [t or "" for t in nodes.column("ntype").to_pylist()],
                       [s or "" for s in nodes.column("node_name").to_pylist()],
                       [i.rsplit(":", 1)[-1] if ":" in i else "" for i in id_list])
    return GraphStore(name=name, indptr=indptr, indices=indices, nodes=table,
                      meta={"loader": "clingraph", "path": str(d), "edges_unknown_nodes": int(unknown),
                            "bad_rows": short_nodes.count + short_edges.count,
                            "first_bad_row": _first_bad(nodes_path, short_nodes, edges_path, short_edges),
                            "disease_types": DISEASE_TYPES, "test_types": TEST_TYPES})


def _first_bad(nodes_path: Path, short_nodes: _ShortRows, edges_path: Path, short_edges: _ShortRows) -> str:
    for path, short in ((nodes_path, short_nodes), (edges_path, short_edges)):
        if short.count:
            where = first_bad_row(path, (), len(_header(path)), delimiter="\t")
            return f"{path.name}: {where}" if where else path.name
    return ""
