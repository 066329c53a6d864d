"""The backends every contract test runs against: the embedded engine always (with and
without the native matcher), and a real Elasticsearch node (started by the tests) unless
no Java is available outside CI."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.backends.base import Backend

BackendFactory = Callable[[], Backend]


def _embedded(
    tmp_path_factory: pytest.TempPathFactory, native: bool, deferred_from: int | None = None
) -> BackendFactory:
    from indexer.backends.embedded import EmbeddedBackend

    if native:
        from tests.support.native import require_native

        require_native()

    def make() -> Backend:
        return EmbeddedBackend(
            tmp_path_factory.mktemp("embedded") / "index",
            native=native,
            deferred_from=deferred_from,
        )

    return make


def es_flavours() -> list[str]:
    """The Elasticsearch majors the suite runs against: every supported one that this
    machine can run (9 needs a JDK 21+), or TIFA_TEST_ES_FLAVOURS=9,8."""
    wanted = os.environ.get("TIFA_TEST_ES_FLAVOURS")
    if wanted:
        return [w.strip() for w in wanted.split(",") if w.strip()]
    return ["9", "8"]


def require_es(flavour: str | None = None) -> str:
    """Skip (or, under CI, fail) when no Elasticsearch node can be run; else describe it."""
    from tests.support.esnode import java_available

    previous = os.environ.get("ESNODE_ES_MAJOR")
    if flavour:
        os.environ["ESNODE_ES_MAJOR"] = flavour
    try:
        ok, why = java_available()
    finally:
        if previous is None:
            os.environ.pop("ESNODE_ES_MAJOR", None)
        else:
            os.environ["ESNODE_ES_MAJOR"] = previous
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a real Elasticsearch {flavour or ''} node: {why}")
        pytest.skip(f"Elasticsearch {flavour or ''} tier skipped: {why}")
    return why


class EsNodes:
    """Real Elasticsearch nodes, one per supported major, started on first use and
    stopped at the end of the session (or TIFA_TEST_ES_URL, an existing cluster)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.nodes: dict[str, object] = {}

    def url(self, flavour: str) -> str:
        if os.environ.get("TIFA_TEST_ES_URL"):
            if flavour != es_flavours()[0]:
                pytest.skip("TIFA_TEST_ES_URL names one cluster; it is tested once")
            return os.environ["TIFA_TEST_ES_URL"]
        from tests.support.esnode import EsNode

        if flavour not in self.nodes:
            require_es(flavour)
            os.environ["ESNODE_ES_MAJOR"] = flavour
            try:
                node = EsNode(self.base / f"es{flavour}")
                node.start()
            finally:
                os.environ.pop("ESNODE_ES_MAJOR", None)
            self.nodes[flavour] = node
        node = self.nodes[flavour]
        assert isinstance(node, EsNode)
        return node.url

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def es_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EsNodes]:
    nodes = EsNodes(Path(tmp_path_factory.mktemp("esnodes")))
    yield nodes
    nodes.stop()


@pytest.fixture(scope="session", params=es_flavours(), ids=lambda f: f"es{f}")
def es_url(request: pytest.FixtureRequest, es_nodes: EsNodes) -> str:
    """The URL of a real Elasticsearch node of each supported major in turn."""
    return es_nodes.url(request.param)


def _elastic(es_url: str) -> BackendFactory:
    from indexer.backends.elastic.backend import ElasticBackend

    def make() -> Backend:
        return ElasticBackend(es_url, index=f"tifa-test-{uuid.uuid4().hex[:10]}", refresh=True)

    return make


@pytest.fixture(
    params=[
        "embedded",
        "embedded-deferred",
        "embedded-tantivy",
        *(pytest.param(f"es{f}", marks=pytest.mark.elastic) for f in es_flavours()),
    ]
)
def make_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackendFactory]:
    """A factory of fresh, empty backends of one kind; each is closed after the test."""
    made: list[Backend] = []
    if request.param.startswith("embedded"):
        # "embedded": plain phrases through the native matcher; "-deferred": every one
        # of them matched statement by statement, its rows read when asked;
        # "-tantivy": without the native matcher.
        base = _embedded(
            tmp_path_factory,
            native=request.param != "embedded-tantivy",
            deferred_from=0 if request.param == "embedded-deferred" else None,
        )
    else:
        nodes: EsNodes = request.getfixturevalue("es_nodes")
        base = _elastic(nodes.url(request.param.removeprefix("es")))

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
