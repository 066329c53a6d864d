"""Real Elasticsearch nodes for tests.

This module owns starting, stopping, killing and restarting throwaway Elasticsearch
nodes on 127.0.0.1 for the test suite: a single node (`EsNode`, `start_node`) or a
two-node cluster (`EsCluster`, `start_cluster`). The node itself is the Java launcher in
``tools/esnode`` (Elasticsearch 9.x on a JDK 21+, else 8.19 on Java 17, from Maven
Central, run in-process by our own ``tifa.esnode.Main``); this module only drives
``tools/esnode/esnode.sh`` and talks HTTP with the standard library. It also owns
`java_available`, which tells whether this machine can build and run that launcher.

Typical use::

    ok, why = java_available()
    if not ok:
        pytest.skip(why)
    with EsNode(tmp_path / "es") as node:       # builds if needed, waits for yellow/green
        client = Elasticsearch(node.url)

Every node is stopped on ``__exit__``/`EsNode.stop` (SIGTERM, then SIGKILL), and any node
still running when the interpreter exits is killed by an ``atexit`` hook.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ESNODE_DIR = REPO_ROOT / "tools" / "esnode"
ESNODE_SH = ESNODE_DIR / "esnode.sh"

DEFAULT_STARTUP_TIMEOUT = 90.0
DEFAULT_STOP_TIMEOUT = 20.0
BUILD_TIMEOUT = 900.0
_STATUS_RANK = {"red": 0, "yellow": 1, "green": 2}

_live_nodes: weakref.WeakSet[EsNode] = weakref.WeakSet()


class EsNodeError(RuntimeError):
    """A node could not be built, started or stopped; the message carries the log tail."""


def _mvn_cmd() -> str:
    return os.environ.get("MVN", "mvn")


def esnode_env() -> dict[str, str]:
    """The flavour ``esnode.sh`` picks here: ES_MAJOR, ES_VERSION, JAVA_HOME, JAVA_MAJOR, TARGET.

    Elasticsearch 9 when a JDK 21+ is found, else 8.19 on Java 17+; ``ESNODE_ES_MAJOR=8|9``
    forces one. Raises `EsNodeError` if no usable JDK is found.
    """
    try:
        proc = subprocess.run(
            ["bash", str(ESNODE_SH), "env"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EsNodeError(f"esnode.sh env failed: {exc}") from exc
    if proc.returncode != 0:
        raise EsNodeError(proc.stderr.strip() or f"esnode.sh env exited with {proc.returncode}")
    pairs = (line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def java_available() -> tuple[bool, str]:
    """Tell whether tests can build and run a node: a JDK 17+, and Maven unless already built.

    Returns ``(True, description)`` or ``(False, reason)``.
    """
    if not ESNODE_SH.is_file():
        return False, f"{ESNODE_SH} is missing"
    if shutil.which("bash") is None:
        return False, "bash not found on PATH"
    try:
        env = esnode_env()
    except EsNodeError as exc:
        return False, str(exc)
    built = (Path(env.get("TARGET", "/nonexistent")) / "esnode.classpath").is_file()
    mvn = shutil.which(_mvn_cmd())
    if mvn is None and not built:
        return False, f"mvn ({_mvn_cmd()}) not on PATH and tools/esnode is not built; install maven"
    return True, (
        f"Elasticsearch {env.get('ES_VERSION')} on Java {env.get('JAVA_MAJOR')} "
        f"({env.get('JAVA_HOME')}); mvn: {mvn or 'not needed, already built'}"
    )


def build(timeout: float = BUILD_TIMEOUT) -> None:
    """Build the launcher (``esnode.sh build``); a no-op when it is up to date."""
    try:
        proc = subprocess.run(
            ["bash", str(ESNODE_SH), "build"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise EsNodeError(f"esnode build took longer than {timeout:.0f}s") from exc
    if proc.returncode != 0:
        output = proc.stdout[-4000:] + proc.stderr[-4000:]
        raise EsNodeError(f"esnode build failed (exit {proc.returncode}):\n{output}")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_json(
    url: str,
    method: str = "GET",
    body: Any = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """Send one request with an optional JSON body; return (status, parsed JSON or None).

    HTTP error statuses are returned, not raised; connection errors raise `OSError`.
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status: int = response.status
            raw: bytes = response.read()
    except urllib.error.HTTPError as exc:
        status = exc.code
        raw = exc.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


class EsNode:
    """One Elasticsearch node process, rooted in ``base_dir`` (data, logs and pid live there).

    Ports are chosen once (free ports unless given), so `restart` brings the node back on
    the same address with the same data. ``base_dir/esnode.log`` holds the node's output.
    """

    def __init__(
        self,
        base_dir: Path | str,
        *,
        node_name: str = "node-0",
        cluster_name: str = "tifa-test",
        http_port: int | None = None,
        transport_port: int | None = None,
        seed_hosts: Sequence[str] = (),
        initial_master_nodes: Sequence[str] = (),
        roles: Sequence[str] | None = None,
        settings: Mapping[str, str] | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        wait_for_status: str | None = "yellow",
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.node_name = node_name
        self.cluster_name = cluster_name
        self._auto_ports = http_port is None and transport_port is None
        self.http_port = http_port if http_port is not None else free_port()
        self.transport_port = transport_port if transport_port is not None else free_port()
        self.seed_hosts = list(seed_hosts)
        self.initial_master_nodes = list(initial_master_nodes)
        self.roles = None if roles is None else list(roles)
        self.settings = dict(settings or {})
        self.startup_timeout = startup_timeout
        self.wait_for_status = wait_for_status
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- addresses -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def transport_address(self) -> str:
        return f"127.0.0.1:{self.transport_port}"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "esnode.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- lifecycle -------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, wait_for_status: str | None = None) -> str:
        """Build if needed, start the node, wait until it is ready; return its URL.

        ``wait_for_status``: "yellow" (yellow or green), "green", or "none" (HTTP answers
        and a master is known); defaults to the constructor's value.
        """
        if self.is_running():
            raise EsNodeError(f"{self.node_name} is already running (pid {self.pid})")
        build()
        status = wait_for_status or self.wait_for_status or "none"
        attempts = 3 if self._auto_ports else 1
        for attempt in range(attempts):
            self._spawn()
            try:
                self._wait_ready(status, self.startup_timeout)
                return self.url
            except EsNodeError:
                port_clash = self._port_clash_in_log()
                self.kill()
                if not (port_clash and attempt + 1 < attempts):
                    raise
                self.http_port, self.transport_port = free_port(), free_port()
        raise AssertionError("unreachable")

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Stop gracefully (SIGTERM to the node's process group); SIGKILL after ``timeout`` s."""
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Kill at once with SIGKILL (a crash: no graceful shutdown)."""
        self._signal_and_wait(signal.SIGKILL, 0.0)

    def restart(self, wait_for_status: str | None = None) -> str:
        """Start again with the same ports, name and data dir (stopping it first if running)."""
        if self.is_running():
            self.stop()
        return self.start(wait_for_status)

    def __enter__(self) -> EsNode:
        if not self.is_running():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inspection ------------------------------------------------------------------
    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def health(self, timeout: float = 5.0) -> str | None:
        """Health status seen by this node ("green"/"yellow"/"red"), or None if it cannot tell."""
        url = f"{self.url}/_cluster/health?master_timeout=1s"
        try:
            status, body = http_json(url, timeout=timeout)
        except (OSError, urllib.error.URLError):
            return None
        if status == 200 and isinstance(body, dict):
            value = body.get("status")
            return value if isinstance(value, str) else None
        return None

    def wait_for_health(
        self, status: str = "green", nodes: int | None = None, timeout: float = 60.0
    ) -> None:
        """Block until the cluster, seen from here, has ``status`` (or better) and ``nodes``."""
        deadline = time.monotonic() + timeout
        query = f"wait_for_status={status}&timeout=2s&master_timeout=2s"
        if nodes is not None:
            query += f"&wait_for_nodes={nodes}"
        last: Any = None
        while time.monotonic() < deadline:
            try:
                code, body = http_json(f"{self.url}/_cluster/health?{query}", timeout=10.0)
                last = body
                if code == 200 and isinstance(body, dict) and not body.get("timed_out", True):
                    return
            except (OSError, urllib.error.URLError) as exc:
                last = exc
            time.sleep(0.5)
        raise EsNodeError(
            f"{self.node_name}: no {status} health (nodes={nodes}) within {timeout:.0f}s; "
            f"last: {last}"
        )

    # -- internals -------------------------------------------------------------------
    def _command(self) -> list[str]:
        cmd = [
            "bash", str(ESNODE_SH), "run",
            "--http-port", str(self.http_port),
            "--transport-port", str(self.transport_port),
            "--dir", str(self.base_dir),
            "--cluster-name", self.cluster_name,
            "--node-name", self.node_name,
        ]  # fmt: skip
        if self.seed_hosts:
            cmd += ["--seed-hosts", ",".join(self.seed_hosts)]
        if self.initial_master_nodes:
            cmd += ["--initial-master-nodes", ",".join(self.initial_master_nodes)]
        if self.roles is not None:
            cmd += ["--roles", ",".join(self.roles)]
        for key, value in self.settings.items():
            cmd += ["--setting", f"{key}={value}"]
        return cmd

    def _spawn(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _close_log
        banner = f"\n==== esnode.py starting {self.node_name} at {time.ctime()} ====\n"
        self._log.write(banner.encode())
        self._log.flush()
        # New session: the node gets its own process group, so signals reach java and nothing else.
        self._proc = subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _live_nodes.add(self)

    def _wait_ready(self, status: str, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        seen: str | None = None
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise EsNodeError(
                    f"{self.node_name} exited with code {code} during startup; "
                    f"log tail:\n{self.log_tail()}"
                )
            seen = self.health(timeout=3.0)
            good = seen is not None and (
                status == "none" or _STATUS_RANK[seen] >= _STATUS_RANK[status]
            )
            # the pid check guards against another node already answering on this port
            if good and self._answering_pid() == self._proc.pid:
                return
            time.sleep(0.25)
        raise EsNodeError(
            f"{self.node_name} not {status} within {timeout:.0f}s (last health: {seen}); "
            f"log tail:\n{self.log_tail()}"
        )

    def _answering_pid(self) -> int | None:
        try:
            url = f"{self.url}/_nodes/_local/process?filter_path=nodes.*.process.id"
            code, body = http_json(url, timeout=3.0)
        except (OSError, urllib.error.URLError):
            return None
        if code != 200 or not isinstance(body, dict):
            return None
        for node in body.get("nodes", {}).values():
            pid = node.get("process", {}).get("id")
            if isinstance(pid, int):
                return pid
        return None

    def _port_clash_in_log(self) -> bool:
        tail = self.log_tail(200)
        return "BindException" in tail or "Address already in use" in tail

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                _signal_group(proc.pid, sig)
                try:
                    proc.wait(timeout=timeout if timeout > 0 else 10.0)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30.0)
        finally:
            self._proc = None
            _live_nodes.discard(self)
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)


def start_node(base_dir: Path | str, **kwargs: Any) -> EsNode:
    """Build if needed and start a single-node cluster in ``base_dir`` (options: `EsNode`)."""
    node = EsNode(base_dir, **kwargs)
    node.start()
    return node


class EsCluster:
    """Two nodes on loopback forming one cluster.

    ``nodes[0]`` ("node-0") is the only master-eligible node (and holds data);
    ``nodes[1]`` ("node-1") is a data-only node. Killing node-1 keeps the cluster fully
    available (yellow until it is back); killing node-0 leaves node-1 without a master:
    it still serves searches of the shards it holds but refuses writes and health.
    Each node can be stopped, killed and restarted on its own, with the same data dir.
    """

    def __init__(
        self,
        base_dir: Path | str,
        *,
        cluster_name: str = "tifa-test-cluster",
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    ) -> None:
        root = Path(base_dir).resolve()
        first = EsNode(
            root / "node-0",
            node_name="node-0",
            cluster_name=cluster_name,
            initial_master_nodes=["node-0"],
            startup_timeout=startup_timeout,
            wait_for_status="yellow",
        )
        second = EsNode(
            root / "node-1",
            node_name="node-1",
            cluster_name=cluster_name,
            roles=["data", "ingest"],
            startup_timeout=startup_timeout,
            wait_for_status="none",
        )
        seeds = [first.transport_address, second.transport_address]
        first.seed_hosts = seeds
        second.seed_hosts = seeds
        self.nodes: list[EsNode] = [first, second]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self, wait_for_status: str = "green") -> list[str]:
        """Start both nodes, wait for 2 nodes and ``wait_for_status``; return the URLs."""
        try:
            for node in self.nodes:
                node.start()
            self.nodes[0].wait_for_health(wait_for_status, nodes=len(self.nodes))
        except BaseException:
            self.stop()
            raise
        return self.urls

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def __enter__(self) -> EsCluster:
        if not all(node.is_running() for node in self.nodes):
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_cluster(base_dir: Path | str, **kwargs: Any) -> EsCluster:
    """Build if needed and start a two-node cluster under ``base_dir``; wait for green."""
    cluster = EsCluster(base_dir, **kwargs)
    cluster.start()
    return cluster


@atexit.register
def _kill_leftover_nodes() -> None:
    for node in list(_live_nodes):
        node.kill()
