"""Bad-record reporting: `RecordError` names file, line/key and field; `RejectLog` counts and lists rejects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TypeVar

import msgspec


class RecordError(ValueError):
    """A case record that cannot become an Environment. `where` is "line N" or "key K"."""

    def __init__(self, path: str | Path, where: str, field: str, reason: str, raw: str = "") -> None:
        self.path = str(path)
        self.where = where
        self.field = field
        self.reason = reason
        self.raw = raw
        super().__init__(f"{self.path}: {where}: field {field!r}: {reason}")


class Reject(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a rejects file."""

    file: str
    where: str
    field: str
    reason: str
    raw: str = ""  # first bytes of the offending record, for a human to find it


_RAW_LIMIT = 200


class RejectLog:
    """Collects skipped records; optionally streams them as JSONL to `path` (one `Reject` per line)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.rejects: list[Reject] = []
        self._fh: IO[bytes] | None = None
        self._enc = msgspec.json.Encoder()

    @property
    def count(self) -> int:
        return len(self.rejects)

    def add(self, err: RecordError) -> None:
        rej = Reject(file=err.path, where=err.where, field=err.field, reason=err.reason, raw=err.raw[:_RAW_LIMIT])
        self.rejects.append(rej)
        if self.path is not None:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("wb")
            self._fh.write(self._enc.encode(rej) + b"\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        elif self.path is not None and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(b"")  # an empty rejects file says "checked, nothing rejected"

    def __enter__(self) -> RejectLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


T = TypeVar("T")


def good_records(items: Iterable[T | RecordError], *, strict: bool, rejects: RejectLog | None) -> Iterator[T]:
    """Yield the good records; a bad one raises under `strict`, else is logged to `rejects` and skipped."""
    for item in items:
        if isinstance(item, RecordError):
            if strict:
                raise item
            if rejects is not None:
                rejects.add(item)
            continue
        yield item
