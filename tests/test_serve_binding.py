"""Which sockets `medaction serve` leaves listening (README "Security"): the HTTP proxy on 127.0.0.1 only; the one
listener Ray 2.60 gives no switch for is each replica's inter-deployment gRPC server, on all interfaces at a port
from the kernel's ephemeral range. This test pins that claim: it fails if a replica listens anywhere else, and
tells us to update the README if Ray starts binding replicas to loopback."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from policies_fixtures import serve_apps  # noqa: F401  (session fixture: the Serve apps of the policy tests)

psutil = pytest.importorskip("psutil")


def _loopback(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(addr, "ipv4_mapped", None)
    return (mapped or addr).is_loopback


def _ephemeral_range() -> tuple[int, int]:
    lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(lo), int(hi)


def _listeners(proc: psutil.Process) -> list[tuple[str, int]]:
    try:
        return [(c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN]
    except psutil.Error:
        return []


@pytest.mark.skipif(not Path("/proc/sys/net/ipv4/ip_local_port_range").exists(), reason="Linux only")
def test_serve_listeners(serve_apps) -> None:  # noqa: F811
    port = int(serve_apps["clean"].split(":")[2].split("/")[0])
    procs = psutil.Process(os.getpid()).children(recursive=True)  # this session's Ray: gcs, raylet, workers
    replicas = [p for p in procs if "ServeReplica:" in " ".join(_cmdline(p))]
    assert replicas, "no Serve replica process found"
    on_port = [(ip, p) for proc in procs for ip, p in _listeners(proc) if p == port]
    assert on_port and all(_loopback(ip) for ip, _ in on_port), on_port  # the HTTP proxy: loopback only
    lo, hi = _ephemeral_range()
    wildcard = []
    for proc in replicas:
        for ip, p in _listeners(proc):
            if not _loopback(ip):
                assert lo <= p <= hi, f"replica {proc.pid} listens on {ip}:{p}, outside the documented {lo}-{hi}"
                wildcard.append((ip, p))
    if not wildcard:
        pytest.fail("Serve replicas now listen on loopback only: update README 'Security' (the firewall note is "
                    "no longer needed)")


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []
