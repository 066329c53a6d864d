"""The Elasticsearch backend's index generation: another process's write is seen within
the TTL, by a watcher thread, so queries do not wait for that read; the watcher stops
when the backend closes."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tests.conftest import make_statement
from tests.contract.conftest import EsNodes, es_flavours

pytestmark = pytest.mark.elastic


def test_another_writers_generation_is_watched_not_waited_for(es_nodes: EsNodes) -> None:
    from indexer.backends.elastic.backend import ElasticBackend

    url = es_nodes.url(es_flavours()[0])
    index = f"tifa-gen-{uuid.uuid4().hex[:8]}"
    writer = ElasticBackend(url, index=index)
    reader = ElasticBackend(url, index=index, generation_ttl=0.4)
    readers: list[str] = []
    read = reader._read_generation

    def recording() -> int:
        readers.append(threading.current_thread().name)
        return read()

    reader._read_generation = recording  # type: ignore[method-assign]
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
