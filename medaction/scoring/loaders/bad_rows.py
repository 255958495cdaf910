"""Bad rows of CSV graph files: where the first one is, for the one-line message (pyarrow's streaming reader skips
bad rows without their line number; the slow Python scan runs only when a loader counted some), and a batch
iterator that turns an undecodable block into one GraphError naming the file."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from medaction.scoring.graph import GraphError

_INT = re.compile(r"[0-9]{1,9}")


def first_bad_row(path: Path, int_columns: Sequence[str], n_fields: int, *, delimiter: str = ",") -> str:
    """`line N: field F: reason` for the first row with the wrong number of fields or a non-integer value in
    one of `int_columns`; "" if none is found."""
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, [])
        cols = [(c, header.index(c)) for c in int_columns if c in header]
        for row in reader:
            if not row:
                continue
            if len(row) != n_fields:
                return f"line {reader.line_num}: {len(row)} fields, expected {n_fields}"
            for name, i in cols:
                if not _INT.fullmatch(row[i]):
                    return f"line {reader.line_num}: field {name}: {row[i][:40]!r} is not a node index"
    return ""


def checked_batches(reader: pacsv.CSVStreamingReader, path: Path) -> Iterator[pa.RecordBatch]:
    """The reader's batches; bad UTF-8 or a broken quote is a GraphError naming the file, not a traceback."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise GraphError(f"{path}: unreadable CSV: {' '.join(str(exc).split())[:300]}") from None
        yield batch
