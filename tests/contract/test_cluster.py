"""Scale-out on a real two-node cluster: a replica keeps searches answering while a node
is down, and ingest carries on and is whole when the node returns."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.backends.elastic.backend import ElasticBackend
from indexer.ingest import ingest
from indexer.model import Statement
from indexer.query import Phrase
from tests.contract.conftest import require_es

pytestmark = pytest.mark.elastic


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    require_es()
    from tests.support.esnode import EsCluster

    with EsCluster(Path(tmp_path_factory.mktemp("cluster"))) as c:
        yield c


def test_replica_keeps_searches_answering_while_a_node_is_down(
    cluster: object, slices: list[Statement]
) -> None:
    from tests.support.esnode import EsCluster

    assert isinstance(cluster, EsCluster)
    urls = ",".join(cluster.urls)
    backend = ElasticBackend(
        urls, index=f"tifa-cluster-{uuid.uuid4().hex[:8]}", shards=2, replicas=1
    )
    first, rest = slices[: len(slices) // 2], slices[len(slices) // 2 :]
    assert ingest(backend, iter(first)).ok
    cluster.nodes[0].wait_for_health("green", nodes=2, timeout=240)
    phrase = Phrase(("the",))
    expected = backend.match(phrase)

    errors: list[BaseException] = []
    answers: list[int] = []
    stop = threading.Event()

    def keep_searching() -> None:
        reader = ElasticBackend(urls, index=backend.alias)
        while not stop.is_set():
            try:
                m = reader.match(phrase)
                answers.append(int(m.occurrences.sum()))
            except BaseException as exc:  # any failure is the finding
                errors.append(exc)
        reader.close()

    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        cluster.nodes[1].kill()  # the data-only node, holding copies of some shards
        before = len(answers)
        # Ingest goes on with one node: primaries are promoted on node-0.
        assert ingest(backend, iter(rest)).ok
        while len(answers) < before + 3:
            stop.wait(0.2)
        cluster.nodes[1].restart()
        cluster.nodes[0].wait_for_health("green", nodes=2, timeout=240)
    finally:
        stop.set()
        searcher.join(timeout=120)
    assert not errors, errors[:3]
    # Every answer is a committed state: never less than before, never more than at the
    # end, and growing only as batches are committed.
    start, end = int(expected.occurrences.sum()), int(backend.match(phrase).occurrences.sum())
    assert answers and answers == sorted(answers)
    assert start <= answers[0] and answers[-1] <= end
    # Whole when the node is back: every statement there, counts as on one engine.
    assert {m.id for m in backend.statements()} == {s.id for s in slices}
    backend.drop()
    backend.close()
