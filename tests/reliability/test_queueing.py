"""Under load, reads wait their turn instead of timing out: a burst larger than the work
slots queues in arrival order, the deadline (504) counts from when a read is admitted,
waiting past the queue timeout is a 503 with Retry-After, and probes never queue."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.middleware import WorkSlots

CORPUS = Path(__file__).parents[2] / "corpus"
T = TypeVar("T")


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run(main()) in a thread of its own: a session-wide fixture may hold an event
    loop in this one, where asyncio.run refuses to start."""
    out: list[T] = []
    failure: list[BaseException] = []

    def drive() -> None:
        try:
            out.append(asyncio.run(main()))
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    worker = threading.Thread(target=drive)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return out[0]


@pytest.fixture
def make_app(tmp_path: Path, slice_data_dir: Path) -> Callable[..., FastAPI]:
    shutil.copytree(slice_data_dir / "index", tmp_path / "index")

    def make(**overrides: Any) -> FastAPI:
        return create_app(Settings(data_dir=tmp_path, corpus_dir=CORPUS, **overrides))

    return make


def _slow_route(app: FastAPI, seconds: float) -> list[float]:
    """A read taking `seconds` of work; returns the list its runs record their start in."""
    starts: list[float] = []

    def slow() -> dict[str, str]:
        starts.append(time.monotonic())
        time.sleep(seconds)
        return {"ok": "done"}

    app.add_api_route("/api/v1/_slow", slow)
    return starts


def _gather(app: FastAPI, *paths: str, stagger_s: float = 0.0) -> list[httpx.Response]:
    """GET each path concurrently (in that order of arrival) through the ASGI app."""

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def get(i: int, path: str) -> httpx.Response:
                await asyncio.sleep(i * stagger_s)
                return await client.get(path)

            return await asyncio.gather(*(get(i, p) for i, p in enumerate(paths)))

    return _run(main)


def test_a_burst_queues_instead_of_timing_out(make_app: Callable[..., FastAPI]) -> None:
    # Five reads of 0.4 s each through one slot take 2 s in all, twice the deadline: each
    # is within it once admitted, so none is a 504, and they run one after another.
    # (With 0.2 s reads and a 0.5 s deadline a full test run once saw the first read, the
    # fresh app's first request, pass 0.5 s: the margin was thinner than a busy machine.)
    app = make_app(work_slots=1, request_timeout_s=1.0)
    starts = _slow_route(app, 0.4)
    responses = _gather(app, *["/api/v1/_slow"] * 5, stagger_s=0.01)
    assert [r.status_code for r in responses] == [200] * 5
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.38 for gap in gaps), gaps


def test_waiting_past_the_queue_timeout_is_a_503(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(work_slots=1, queue_timeout_s=0.2)
    _slow_route(app, 0.6)
    first, second = _gather(app, "/api/v1/_slow", "/api/v1/_slow", stagger_s=0.05)
    assert first.status_code == 200
    assert second.status_code == 503, second.text
    assert second.headers["content-type"] == "application/problem+json"
    assert second.headers["retry-after"] == "1"
    assert set(second.json()) == {"type", "title", "status", "detail"}
    assert "tifa_http_requests_shed_total 1.0" in _gather(app, "/metrics")[0].text


def test_probes_and_metrics_do_not_queue(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(work_slots=1)
    _slow_route(app, 0.5)

    async def main() -> tuple[float, list[int]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            slow = asyncio.ensure_future(client.get("/api/v1/_slow"))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            probes = [await client.get(p) for p in ("/healthz", "/readyz", "/metrics")]
            took = time.monotonic() - started
            assert (await slow).status_code == 200
            return took, [r.status_code for r in probes]

    took, statuses = _run(main)
    assert statuses == [200, 200, 200]
    assert took < 0.4  # answered while the only slot was still busy


def test_the_deadline_still_answers_a_slow_read(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(work_slots=1, request_timeout_s=0.2)
    slow_starts = _slow_route(app, 0.6)
    quick_starts: list[float] = []

    def quick() -> dict[str, str]:
        quick_starts.append(time.monotonic())
        return {"ok": "done"}

    # The next read is a route of no work, not a search: a first search on a cold index
    # can itself take longer than this 0.2 s deadline on a busy machine (CI saw a 504).
    app.add_api_route("/api/v1/_quick", quick)

    async def main() -> tuple[httpx.Response, float, httpx.Response]:
        # One event loop for both reads, as in a server: closing a loop cancels its tasks,
        # which would free the abandoned read's slot early.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            started = time.monotonic()
            resp = await client.get("/api/v1/_slow")
            took = time.monotonic() - started
            after = await client.get("/api/v1/_quick")
            return resp, took, after

    resp, took, after = _run(main)
    assert resp.status_code == 504
    assert took < 0.5
    # The abandoned work keeps its slot until it is done; then the next read runs.
    assert after.status_code == 200
    assert quick_starts[0] - slow_starts[0] >= 0.58


def test_work_slots_hand_over_in_arrival_order() -> None:
    async def main() -> list[int]:
        slots = WorkSlots(1)
        order: list[int] = []
        assert await slots.acquire(1.0)

        async def waiter(i: int) -> None:
            assert await slots.acquire(1.0)
            order.append(i)
            await asyncio.sleep(0)
            slots.release()

        tasks = [asyncio.ensure_future(waiter(i)) for i in range(5)]
        await asyncio.sleep(0.01)
        tasks[2].cancel()  # a waiter that gives up leaves the line
        await asyncio.sleep(0.01)
        assert slots.queued == 4
        slots.release()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert slots.free == 1 and slots.queued == 0
        return order

    assert _run(main) == [0, 1, 3, 4]


def test_a_waiter_that_times_out_leaves_the_line() -> None:
    async def main() -> None:
        slots = WorkSlots(1)
        assert await slots.acquire(1.0)
        assert not await slots.acquire(0.05)
        assert slots.queued == 0
        slots.release()
        assert slots.free == 1

    _run(main)
