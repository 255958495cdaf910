"""PrimeKG `kg.csv` -> GraphStore, streamed in pyarrow CSV blocks (8.1M rows; peak memory well under 4 GB).

Nodes are keyed on x_index / y_index (PrimeKG's own node index); every edge is written both ways in the file,
the CSR dedups them. Node attributes come from the first row that mentions the node. A row with the wrong number
of fields or a missing/non-integer index is skipped and counted (meta bad_rows, first_bad_row names its line).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from medaction.scoring.graph import GraphError, GraphStore, csr_from_edges, node_table
from medaction.scoring.loaders.bad_rows import checked_batches, first_bad_row

COLUMNS = ("relation", "display_relation", "x_index", "x_id", "x_type", "x_name", "x_source",
           "y_index", "y_id", "y_type", "y_name", "y_source")
_ATTRS = ("id", "type", "name", "source")
COLUMNS_INT = ("x_index", "y_index")
_INDEX = r"^[0-9]{1,9}$"  # a node index: ASCII digits that fit int32
_READ = ("x_index", "x_id", "x_type", "x_name", "x_source", "y_index", "y_id", "y_type", "y_name", "y_source")


def load_primekg(path: str | Path, *, name: str = "PrimeKG", block_size: int = 32 << 20) -> GraphStore:
    p = Path(path)
    if not p.is_file():
        raise GraphError(f"{p}: PrimeKG kg.csv not found")
    with p.open(encoding="utf-8", errors="replace", newline="") as fh:
        header = next(csv.reader(fh), [])
    missing = [c for c in _READ if c not in header]
    if missing:
        raise GraphError(f"{p}: header lacks PrimeKG columns {missing} (got {header})")
    types = {c: pa.string() for c in _READ}  # indices too: a non-integer one rejects its row, not the file
    short_rows = 0

    def _short_row(_row: object) -> str:  # a row with too few/many fields is skipped and counted
        nonlocal short_rows
        short_rows += 1
        return "skip"

    try:  # the first block is read (and may fail to decode) here already
        reader = pacsv.open_csv(
            p, read_options=pacsv.ReadOptions(block_size=block_size),
            parse_options=pacsv.ParseOptions(invalid_row_handler=_short_row),
            convert_options=pacsv.ConvertOptions(include_columns=list(_READ), column_types=types),
        )
    except pa.ArrowInvalid as exc:
        raise GraphError(f"{p}: unreadable CSV: {' '.join(str(exc).split())[:300]}") from None
    src_parts: list[np.ndarray] = []
    dst_parts: list[np.ndarray] = []
    attrs: dict[int, tuple[str, str, str, str]] = {}
    bad_rows = 0
    for batch in checked_batches(reader, p):
        batch, bad = _valid_indices(batch)
        bad_rows += bad
        x = batch.column("x_index").to_numpy().astype(np.int64)
        y = batch.column("y_index").to_numpy().astype(np.int64)
        src_parts.append(x.astype(np.int32))
        dst_parts.append(y.astype(np.int32))
        for side, idx in (("x", x), ("y", y)):
            uniq, first = np.unique(idx, return_index=True)
            new = np.array([i not in attrs for i in uniq.tolist()], dtype=bool)
            if not new.any():
                continue
            rows = pa.array(first[new])
            cols = [batch.column(f"{side}_{a}").take(rows).to_pylist() for a in _ATTRS]
            for k, node in enumerate(uniq[new].tolist()):
                attrs[node] = (cols[0][k] or "", cols[1][k] or "", cols[2][k] or "", cols[3][k] or "")
    bad_rows += short_rows
    first_bad = first_bad_row(p, COLUMNS_INT, len(header)) if bad_rows else ""
    if not attrs:
        raise GraphError(f"{p}: no edges" + (f" ({bad_rows} bad rows; first: {first_bad})" if bad_rows else ""))
    src = np.concatenate(src_parts)
    dst = np.concatenate(dst_parts)
    del src_parts, dst_parts
    # PrimeKG indices are dense 0..n-1; compact anyway so a filtered file still gives a valid CSR.
    keys = np.array(sorted(attrs), dtype=np.int64)
    dense = keys.size and keys[-1] == keys.size - 1
    if not dense:
        src = np.searchsorted(keys, src).astype(np.int32)
        dst = np.searchsorted(keys, dst).astype(np.int32)
    indptr, indices = csr_from_edges(keys.size, src, dst)
    rows = [attrs[k] for k in keys.tolist()]
    nodes = node_table([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
    return GraphStore(name=name, indptr=indptr, indices=indices, nodes=nodes,
                      meta={"loader": "primekg", "path": str(p), "bad_rows": int(bad_rows), "first_bad_row": first_bad,
                            "disease_types": ["disease"], "test_types": []})



def _valid_indices(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
    """The batch with x_index/y_index as int64, rows without two valid node indices dropped; and their count.
    Fast path: cast the whole column; only a block that fails the cast pays for the per-row regex."""
    xs, ys = batch.column("x_index"), batch.column("y_index")
    try:
        x, y = pc.cast(xs, pa.int64()), pc.cast(ys, pa.int64())
        ok = pc.and_(pc.and_(pc.is_valid(x), pc.is_valid(y)),
                     pc.and_(pc.and_(pc.greater_equal(x, 0), pc.greater_equal(y, 0)),
                             pc.and_(pc.less(x, 1 << 31), pc.less(y, 1 << 31))))
        ok = pc.fill_null(ok, False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.fill_null(pc.and_(pc.match_substring_regex(xs, _INDEX), pc.match_substring_regex(ys, _INDEX)),
                          False)
        x = y = None
    bad = len(ok) - pc.sum(ok).as_py() if len(ok) else 0
    if bad:
        batch = batch.filter(ok)
        x, y = None, None
    if x is None:
        x, y = pc.cast(batch.column("x_index"), pa.int64()), pc.cast(batch.column("y_index"), pa.int64())
    i, j = batch.schema.get_field_index("x_index"), batch.schema.get_field_index("y_index")
    batch = batch.set_column(i, "x_index", x).set_column(j, "y_index", y)
    return batch, bad
