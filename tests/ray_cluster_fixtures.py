"""A real multi-node Ray cluster on 127.0.0.1 for tests, apart from the test session's Ray.

Each node is a `ray start --block` child process with its own --temp-dir, free ports and custom resource. A node is
torn down by terminating its process group (which stops exactly the processes it started), never with `ray stop`,
which would stop every Ray on the machine. `kill_raylet` kills one node's raylet by pid (a node crash)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

RAY = Path(sys.executable).with_name("ray")
# Fast failure detection: a dead node is noticed in ~3 s instead of ~30 s (ray start reads RAY_<system config>).
FAST_HEALTH = {"RAY_health_check_period_ms": "1000", "RAY_health_check_timeout_ms": "1000",
               "RAY_health_check_failure_threshold": "3", "RAY_health_check_initial_delay_ms": "1000"}


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def wait_port(port: int, deadline: float) -> None:
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def base_env() -> dict[str, str]:
    # "1": `ray start --address` refuses to add a node without it; every node and the driver still bind 127.0.0.1
    # (--node-ip-address, and the driver's address is 127.0.0.1).
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1", "RAY_AUTH_MODE": "disabled",
           "PATH": f"{RAY.parent}:{os.environ.get('PATH', '')}", **FAST_HEALTH}
    env.pop("RAY_ADDRESS", None)
    return env


class LocalCluster:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.nodes: list[subprocess.Popen] = []
        self.gcs = self.dashboard = self.metrics = 0
        self.env = base_env()
        self.temp_dirs: list[str] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard}"

    def _start(self, args: list[str], name: str, *, num_cpus: int, resource: str) -> subprocess.Popen:
        nm, om, agent, agent_grpc, metrics, rtenv = free_ports(6)
        temp_dir = tempfile.mkdtemp(prefix="mray", dir="/tmp")  # short: unix socket paths are length-limited
        self.temp_dirs.append(temp_dir)
        cmd = [str(RAY), "start", "--block", "--node-ip-address=127.0.0.1", *args, f"--node-manager-port={nm}",
               f"--object-manager-port={om}", f"--dashboard-agent-listen-port={agent}",
               f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
               f"--runtime-env-agent-port={rtenv}", "--min-worker-port=0", "--max-worker-port=0",
               f"--temp-dir={temp_dir}", f"--num-cpus={num_cpus}", f'--resources={{"{resource}": 100}}',
               "--disable-usage-stats"]
        proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL,
                                stderr=open(self.log_dir / f"{name}.log", "w"), start_new_session=True)
        self.nodes.append(proc)
        if not self.metrics:
            self.metrics = metrics
        return proc

    def start_head(self, *, resource: str, num_cpus: int = 1) -> subprocess.Popen:
        self.gcs, self.dashboard, client = free_ports(3)
        proc = self._start(["--head", f"--port={self.gcs}", f"--dashboard-port={self.dashboard}",
                            "--dashboard-host=127.0.0.1", f"--ray-client-server-port={client}",
                            "--include-dashboard=true"], "head", num_cpus=num_cpus, resource=resource)
        wait_port(self.dashboard, time.time() + 120)
        return proc

    def add_node(self, *, resource: str, num_cpus: int = 1) -> subprocess.Popen:
        return self._start([f"--address={self.address}"], f"node{len(self.nodes)}", num_cpus=num_cpus,
                           resource=resource)

    def wait_nodes(self, n: int, deadline: float) -> list[dict]:
        from ray.util.state import list_nodes

        while time.time() < deadline:
            try:
                alive = [n for n in list_nodes(address=self.dashboard_url, timeout=10) if n.state == "ALIVE"]
            except Exception:  # noqa: BLE001 - the dashboard is still starting
                alive = []
            if len(alive) >= n:
                return alive
            time.sleep(1.0)
        raise TimeoutError(f"{n} Ray nodes did not come up")

    @staticmethod
    def raylet_pid(node: subprocess.Popen) -> int:
        for p in psutil.Process(node.pid).children(recursive=True):
            if p.name() == "raylet":
                return p.pid
        raise RuntimeError("no raylet under this node's process")

    def kill_raylet(self, node: subprocess.Popen) -> int:
        pid = self.raylet_pid(node)
        os.kill(pid, signal.SIGKILL)
        return pid

    def shutdown(self) -> None:
        for proc in reversed(self.nodes):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)  # `--block` tears down the processes it started
                except ProcessLookupError:
                    continue
        for proc in reversed(self.nodes):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for d in self.temp_dirs:  # the nodes' session dirs (logs, sockets): created by this fixture
            shutil.rmtree(d, ignore_errors=True)
