"""`tifa reindex` on Elasticsearch: a new index behind the alias, swapped atomically, while
searches keep answering the same."""

from __future__ import annotations

import threading
import uuid

import pytest

from indexer.ingest import ingest
from indexer.model import Statement
from indexer.query import Phrase
from tests.contract.conftest import EsNodes, es_flavours

pytestmark = pytest.mark.elastic


def test_reindex_swaps_the_alias_without_downtime(
    es_nodes: EsNodes, slices: list[Statement]
) -> None:
    from app.services.writes import Writer
    from indexer.backends.elastic.backend import ElasticBackend

    url = es_nodes.url(es_flavours()[0])
    backend = ElasticBackend(url, index=f"tifa-reindex-{uuid.uuid4().hex[:8]}")
    assert ingest(backend, iter(slices)).ok
    phrase = Phrase(("strategic", "partnership"))
    expected = int(backend.match(phrase).occurrences.sum())
    before = set(backend.client.indices.get_alias(name=backend.alias))

    answers: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_searching() -> None:
        reader = ElasticBackend(url, index=backend.alias)
        while not stop.is_set():
            try:
                answers.append(int(reader.match(phrase).occurrences.sum()))
            except BaseException as exc:  # any failure is the finding
                errors.append(exc)
        reader.close()

    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        report = Writer(backend).reindex()
    finally:
        stop.set()
        searcher.join(timeout=120)
    after = set(backend.client.indices.get_alias(name=backend.alias))
    assert report.index in after and not (before & after)
    assert not backend.client.indices.exists(index=",".join(before))
    assert not errors, errors[:3]
    assert answers and set(answers) == {expected}
    assert {m.id for m in backend.statements()} == {s.id for s in slices}
    backend.drop()
    backend.close()
