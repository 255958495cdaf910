"""A real S3 API server on 127.0.0.1 for tests: moto in server mode (the `dev` extra), started as a child process.

`s3_server` yields the environment the engine needs (AWS_ENDPOINT_URL and dummy credentials) and a fresh bucket
per test; tests set it with monkeypatch (in-process) or pass it to subprocesses and Ray workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

MOTO = Path(sys.executable).with_name("moto_server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    if not MOTO.exists():
        pytest.skip("moto_server not installed (pip install -e '.[dev]')")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    proc = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log,
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise TimeoutError("moto server did not start")
    yield f"http://127.0.0.1:{port}"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch) -> Iterator[tuple[str, dict[str, str]]]:
    """(bucket name, env) with the env applied to this process; pass `env` on to subprocesses."""
    import pyarrow.fs as pafs

    env = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    bucket = f"medaction-{uuid.uuid4().hex[:10]}"
    fs = pafs.S3FileSystem(endpoint_override=s3_endpoint.removeprefix("http://"), scheme="http",
                           region="us-east-1", allow_bucket_creation=True)
    fs.create_dir(bucket)
    yield bucket, env
