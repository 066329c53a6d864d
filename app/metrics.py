"""Prometheus metrics: requests by route and status, latency, ingest counts through the
API, and what the index holds, served at `/metrics` in the text exposition format.

Each app has its own registry, so that several apps in one process (tests) do not clash.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from indexer.search import Search

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _IndexCollector(Collector):
    """What the index holds, read at scrape time (the backend caches it between writes)."""

    def __init__(self, search: Search, index_dir: Path | None) -> None:
        self.search = search
        self.index_dir = index_dir

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            metas = self.search.backend.statements()
        except Exception:
            # A scrape must not fail because the engine is down; readiness reports that.
            return
        yield GaugeMetricFamily(
            "tifa_index_statements", "Statements in the index.", value=len(metas)
        )
        yield GaugeMetricFamily(
            "tifa_index_passages", "Passages in the index.", value=sum(m.passages for m in metas)
        )
        if self.index_dir is not None and self.index_dir.is_dir():
            with os.scandir(self.index_dir) as entries:
                size = files_bytes(entries)
            yield GaugeMetricFamily(
                "tifa_index_bytes", "Size of the embedded index on disk.", value=size
            )


def files_bytes(entries: Iterable[os.DirEntry[str]]) -> int:
    """The total size of the regular files among `entries`. A file may vanish between
    listing and reading its size (a writer's temporary file, renamed into place; a
    segment merged away): it counts for nothing rather than failing the scrape."""
    total = 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            continue
    return total


class Metrics:
    """The metrics of one app."""

    def __init__(self, search: Search, index_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tifa_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tifa_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "tifa_http_requests_in_flight", "Requests being answered.", registry=self.registry
        )
        self.timeouts = Counter(
            "tifa_http_request_timeouts",
            "Read requests answered 504 because they passed the deadline.",
            ["route"],
            registry=self.registry,
        )
        self.queued = Gauge(
            "tifa_http_requests_queued",
            "Reads waiting for a work slot.",
            registry=self.registry,
        )
        self.shed = Counter(
            "tifa_http_requests_shed",
            "Reads answered 503 because no work slot came free in time.",
            registry=self.registry,
        )
        self.ingested = Counter(
            "tifa_ingest_records",
            "Records sent to the write API, by outcome.",
            ["result"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.registry.register(_IndexCollector(search, index_dir))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(get_metrics(request).exposition(), media_type=CONTENT_TYPE_LATEST)
