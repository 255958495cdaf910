"""Where runs read and write: URIs (`s3://bucket/key`, `gs://bucket/key`, `file:///abs/path`) or local paths, through
pyarrow's filesystems (fsspec for other schemes, e.g. `memory://`, `az://` with adlfs installed).

Object storage has no atomic rename and no append: the engine writes every object once under a unique name, and
an object only appears when its upload completes (a single PUT or a completed multipart upload), so a reader sees
a whole object or none. Local files keep the temp + rename pattern. docs/cluster.md ("Object storage") describes
the output layout built on this.

S3 endpoint and credentials come from the standard AWS variables (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` for
an S3-compatible server such as MinIO, `AWS_ACCESS_KEY_ID`, ..., or the instance role); none is ever logged.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from medaction.cache import cache_root

_PYARROW_SCHEMES = {"s3", "gs", "gcs", "hdfs", "viewfs"}


def is_uri(location: str | Path) -> bool:
    """True for `scheme://...` (not for local paths, and not for Windows drive letters)."""
    scheme = urlparse(str(location)).scheme
    return len(scheme) > 1


def _s3(uri: str) -> tuple[pafs.FileSystem, str]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    kwargs: dict[str, object] = {}
    if endpoint:
        parsed = urlparse(endpoint)
        kwargs["endpoint_override"] = parsed.netloc or parsed.path
        kwargs["scheme"] = parsed.scheme or "https"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        kwargs["region"] = region
    parsed = urlparse(uri)
    return pafs.S3FileSystem(**kwargs), f"{parsed.netloc}{parsed.path}".rstrip("/")


class Location:
    """A directory or file on some filesystem: `fs` (pyarrow) and `path` (as that filesystem names it)."""

    def __init__(self, fs: pafs.FileSystem, path: str, uri: str) -> None:
        self.fs = fs
        self.path = path
        self.uri = uri

    def __repr__(self) -> str:
        return f"Location({self.uri!r})"

    def __str__(self) -> str:
        return self.uri

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def join(self, *parts: str) -> Location:
        path = "/".join([self.path.rstrip("/"), *(p.strip("/") for p in parts)])
        uri = "/".join([self.uri.rstrip("/"), *(p.strip("/") for p in parts)])
        return Location(self.fs, path, uri)

    def exists(self) -> bool:
        return self.fs.get_file_info(self.path).type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self.fs.get_file_info(self.path).type == pafs.FileType.Directory

    def mkdirs(self) -> None:
        if self.is_local:
            Path(self.path).mkdir(parents=True, exist_ok=True)
        # object stores have no directories: a key's prefix exists once an object is under it

    def list(self) -> list[Location]:
        """Files directly under this directory (sorted by name); empty when it does not exist."""
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        except (FileNotFoundError, OSError):
            return []
        files = sorted(i.path for i in infos if i.type == pafs.FileType.File)
        return [Location(self.fs, p, self.join(p.rsplit("/", 1)[-1]).uri) for p in files]

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.path) as f:
            return f.read()

    def write_bytes(self, data: bytes) -> None:
        """Whole or nothing: a local temp file renamed into place; one PUT on object storage."""
        if self.is_local:
            p = Path(self.path)
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}.tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
            return
        with self.fs.open_output_stream(self.path) as f:
            f.write(data)

    def delete(self) -> None:
        self.fs.delete_file(self.path)

    def size(self) -> int:
        return int(self.fs.get_file_info(self.path).size or 0)


def resolve(location: str | Path) -> Location:
    """A URI or local path -> Location. Local paths (and file://) become absolute."""
    text = str(location)
    if not is_uri(text):
        path = str(Path(text).expanduser().resolve())
        return Location(pafs.LocalFileSystem(), path, path)
    scheme = urlparse(text).scheme
    if scheme == "file":
        path = str(Path(urlparse(text).path).resolve())
        return Location(pafs.LocalFileSystem(), path, path)
    if scheme == "s3":
        fs, path = _s3(text)
        return Location(fs, path, text.rstrip("/"))
    if scheme in _PYARROW_SCHEMES:
        fs, path = pafs.FileSystem.from_uri(text)
        return Location(fs, path.rstrip("/"), text.rstrip("/"))
    import fsspec  # other schemes (memory://, az://, ...): fsspec behind pyarrow's interface

    fs_spec, path = fsspec.core.url_to_fs(text)
    return Location(pafs.PyFileSystem(pafs.FSSpecHandler(fs_spec)), path.rstrip("/"), text.rstrip("/"))


def local_copy(location: str | Path, cache: Path | None = None) -> Path:
    """An input (case file, graph store directory) as a local path: local paths as they are; a URI is downloaded
    once into `cache` (default: <cache root>/remote, medaction/cache.py), keyed by its URI."""
    loc = resolve(location)
    if loc.is_local:
        return Path(loc.path)
    root = cache or cache_root() / "remote"
    target = root / hashlib.sha256(loc.uri.encode()).hexdigest()[:16] / loc.name
    if target.exists():
        return target
    info = loc.fs.get_file_info(loc.path)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"{loc.uri}: not found")
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    if info.type == pafs.FileType.Directory:
        pafs.copy_files(loc.path, str(tmp), source_filesystem=loc.fs, destination_filesystem=pafs.LocalFileSystem())
    else:
        tmp.write_bytes(loc.read_bytes())
    os.replace(tmp, target)
    return target
