"""The Elasticsearch backend's index generation: another process's write is seen within
the TTL, by a watcher thread, so queries do not wait for that read; the watcher stops
when the backend closes."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from tests.conftest import make_statement
from tests.contract.conftest import EsNodes, es_flavours

pytestmark = pytest.mark.elastic


def _record_reads(backend: Any) -> list[str]:
    """The names of the threads that read the generation from the node, as they do."""
    names: list[str] = []
    read = backend._read_generation

    def recording() -> int:
        names.append(threading.current_thread().name)
        return int(read())

    backend._read_generation = recording
    return names


def test_another_writers_generation_is_watched_not_waited_for(es_nodes: EsNodes) -> None:
    from indexer.backends.elastic.backend import ElasticBackend

    url = es_nodes.url(es_flavours()[0])
    index = f"tifa-gen-{uuid.uuid4().hex[:8]}"
    writer = ElasticBackend(url, index=index)
    reader = ElasticBackend(url, index=index, generation_ttl=0.4)
    readers = _record_reads(reader)
    try:
        before = reader.generation()
        watcher = reader._watcher
        assert watcher is not None and watcher.is_alive()
        writer.write([make_statement("g-1", "Strategic partnership.")])
        # The watcher re-reads every half TTL: the write shows within about one TTL.
        deadline = time.monotonic() + 10
        seen = before
        while seen == before and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = reader.generation()
        assert seen != before
        assert reader.generation() == writer.generation()
        assert "tifa-es-generation" in readers
    finally:
        reader.close()
        writer.drop()
        writer.close()
    assert not watcher.is_alive()


def test_a_stale_generation_is_not_known_and_not_read_on_the_callers_thread(
    es_nodes: EsNodes,
) -> None:
    """`known_generation` (what an event loop asks) never waits on the node: past the
    TTL it says None, and `generation()` is left to read it."""
    from indexer.backends.elastic.backend import ElasticBackend

    url = es_nodes.url(es_flavours()[0])
    backend = ElasticBackend(url, index=f"tifa-gen-{uuid.uuid4().hex[:8]}", generation_ttl=60)
    reads = _record_reads(backend)
    try:
        gen = backend.generation()
        assert backend.known_generation() == gen
        assert backend._generation is not None
        backend._generation = (gen, time.monotonic() - 120)  # read two TTLs ago
        asked = len(reads)
        assert backend.known_generation() is None
        assert len(reads) == asked  # no round trip on the caller's thread
        assert backend.generation() == gen and len(reads) == asked + 1
    finally:
        backend.drop()
        backend.close()
