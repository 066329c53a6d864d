"""The backends every contract test runs against: the embedded engine always, and a real
Elasticsearch node (started by the tests) unless no Java is available outside CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.backends.base import Backend

BackendFactory = Callable[[], Backend]


def _embedded(tmp_path_factory: pytest.TempPathFactory) -> BackendFactory:
    from indexer.backends.embedded import EmbeddedBackend

    def make() -> Backend:
        return EmbeddedBackend(tmp_path_factory.mktemp("embedded") / "index")

    return make


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Elasticsearch node: TIFA_TEST_ES_URL, or one started here for the session."""
    if os.environ.get("TIFA_TEST_ES_URL"):
        yield os.environ["TIFA_TEST_ES_URL"]
        return
    from tests.support.esnode import EsNode, java_available

    ok, why = java_available()
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a real Elasticsearch node: {why}")
        pytest.skip(f"Elasticsearch tier skipped: {why}")
    node = EsNode(Path(tmp_path_factory.mktemp("esnode")))
    with node:
        yield node.url


def _elastic(es_url: str) -> BackendFactory:
    from indexer.backends.elastic.backend import ElasticBackend

    def make() -> Backend:
        return ElasticBackend(es_url, index=f"tifa-test-{uuid.uuid4().hex[:10]}", refresh=True)

    return make


@pytest.fixture(params=["embedded", pytest.param("elastic", marks=pytest.mark.elastic)])
def make_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackendFactory]:
    """A factory of fresh, empty backends of one kind; each is closed after the test."""
    made: list[Backend] = []
    if request.param == "embedded":
        base = _embedded(tmp_path_factory)
    else:
        base = _elastic(request.getfixturevalue("es_url"))

    def make() -> Backend:
        backend = base()
        made.append(backend)
        return backend

    yield make
    for backend in made:
        drop = getattr(backend, "drop", None)
        if drop is not None:
            drop()
        backend.close()
