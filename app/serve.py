"""`tifa serve` with several processes: each worker listens on a socket of its own.

uvicorn's own `--workers N` gives every worker the one listening socket. The first worker
to wake up then accepts every connection waiting in the queue, so a burst of clients (a
load test, a proxy opening its pool) lands mostly on one worker and stays there for as long
as the connections live: its clients queue while another worker idles. Here each worker
has its own socket bound to the same port with SO_REUSEPORT, and the kernel spreads new
connections evenly across them (Linux; elsewhere the workers share one socket).

The sockets are made TCP explicitly, with Nagle's algorithm off: asyncio turns it off on
accepted connections only when the listening socket says IPPROTO_TCP, which uvicorn's does
not (uvicorn issue #3149; ~40 ms more on every keep-alive request after the first).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

log = logging.getLogger("uvicorn.error")
APP = "app.main:create_app"


def listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def run_worker(options: dict[str, Any], sock: socket.socket) -> None:
    """One worker process: the app built from the environment, served on `sock`."""
    server = uvicorn.Server(uvicorn.Config(APP, factory=True, **options))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def run_workers(workers: int, options: dict[str, Any]) -> int:
    """Serve with `workers` processes until SIGINT or SIGTERM; a worker that dies is
    replaced, one that cannot start stops them all (exit status 1)."""
    uvicorn.Config(APP, factory=True, **options)  # sets up uvicorn's logging here too
    host, port = options["host"], options["port"]
    if sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT"):
        sockets = [listen(host, port, reuse_port=True) for _ in range(workers)]
    else:
        sockets = [listen(host, port, reuse_port=False)] * workers
    log.info("Tifa listening on http://%s:%d with %d worker processes", host, port, workers)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    context = multiprocessing.get_context("spawn")

    def start(i: int) -> multiprocessing.process.BaseProcess:
        process = context.Process(
            target=run_worker, args=(options, sockets[i]), name=f"tifa-worker-{i}"
        )
        process.start()
        return process

    processes = [start(i) for i in range(workers)]
    status = 0
    while not stop.wait(0.5):
        for i, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker %s could not start; stopping", process.pid)
                status = 1
                stop.set()
                break
            log.warning("worker %s exited (%s); starting another", process.pid, process.exitcode)
            processes[i] = start(i)
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes what is in flight, then exits
    for process in processes:
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join()
    for sock in set(sockets):
        sock.close()
    return status
