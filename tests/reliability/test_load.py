"""Load: many concurrent clients on loopback against a real uvicorn server, zero errors.
CI: 64 clients for 10 s; soak: 200 clients for 60 s."""

from __future__ import annotations

import asyncio
import random
import shutil
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.reliability.server import Server

QUERIES = [
    {"q": '"strategic partnership"'},
    {"q": "peace", "sort": "date"},
    {"q": "中国"},
    {"q": "russia china", "year": "2000..2010"},
    {"q": "cooperat*", "limit": 50},
    {"q": '"united nations"~3'},
    {"q": "security NEAR/5 council"},
]
PATHS = ["/healthz", "/readyz", "/api/v1/help/query"]


def _request_line(path: str, params: dict[str, object] | None = None) -> bytes:
    target = path + ("?" + urlencode(params) if params else "")
    return f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


async def _client(
    url: str, seconds: float, seed: int, latencies: list[float], errors: list[str]
) -> None:
    # A bare HTTP/1.1 keep-alive client on asyncio streams: the load generator shares the
    # machine with the server, and a full HTTP client would take most of the CPU itself.
    rng = random.Random(seed)
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + seconds
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        while time.monotonic() < deadline:
            if rng.random() < 0.8:
                request = _request_line("/api/v1/search", rng.choice(QUERIES))
            else:
                request = _request_line(rng.choice(PATHS))
            started = time.monotonic()
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            latencies.append(time.monotonic() - started)
            status = int(status_line.split()[1]) if status_line else 0
            if status != 200:
                errors.append(f"{status} {body[:200]!r}")
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        errors.append(repr(exc))
    finally:
        writer.close()


def run_load(url: str, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> None:
        await asyncio.gather(*(_client(url, seconds, i, latencies, errors) for i in range(clients)))

    started = time.monotonic()
    # Its own thread and event loop: a session-wide browser fixture may already run an
    # event loop in the main thread, where asyncio.run() refuses to start.
    failure: list[BaseException] = []

    def drive() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported below, in the test's thread
            failure.append(exc)

    worker = threading.Thread(target=drive)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    elapsed = time.monotonic() - started
    assert not errors, f"{len(errors)} errors, e.g. {errors[:5]}"
    qs = statistics.quantiles(latencies, n=100)
    report = {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(qs[49] * 1000, 1),
        "p95_ms": round(qs[94] * 1000, 1),
        "p99_ms": round(qs[98] * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }
    print(f"load: {report}")
    return report


@pytest.fixture
def served(tmp_path: Path, slice_data_dir: Path) -> Path:
    shutil.copytree(slice_data_dir / "index", tmp_path / "index")
    return tmp_path


def test_load_ci(served: Path) -> None:
    with Server(served) as server:
        # 64 clients on CI's 2 shared cores: reads wait their turn for a work slot and the
        # deadline counts from admission, so a queue longer than the deadline is no error.
        # The soak run below is the 200-client, 60 s test.
        report = run_load(server.url, clients=64, seconds=10)
    assert report["requests"] > 60


@pytest.mark.soak
def test_load_soak(served: Path) -> None:
    with Server(served) as server:
        report = run_load(server.url, clients=200, seconds=60)
    assert report["requests"] > 600


def _workers(pid: int) -> set[int]:
    """The worker processes (multiprocessing children) of process `pid`."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid and b"spawn_main" in cmdline:
                out.add(int(entry.name))
    return out


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads worker processes from /proc")
def test_several_workers_answer_keep_alive_requests_at_once(served: Path) -> None:
    """`tifa serve --workers 2`: each worker on its own socket, Nagle's algorithm off (with
    it on, every keep-alive request after the first waits ~40 ms for a delayed ACK), and
    stopping the server stops the workers."""
    import httpx

    with Server(served, TIFA_WORKERS="2") as server:
        assert server.proc is not None
        deadline = time.monotonic() + 60
        while len(_workers(server.proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _workers(server.proc.pid)
        assert len(workers) == 2
        took = []
        with httpx.Client(base_url=server.url) as client:
            for _ in range(30):
                started = time.monotonic()
                assert client.get("/api/v1/search", params={"q": "peace"}).status_code == 200
                took.append(time.monotonic() - started)
        report = run_load(server.url, clients=32, seconds=3)
        assert report["requests"] > 30
    assert statistics.median(took[5:]) < 0.03, took
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_running(pid) for pid in workers)
