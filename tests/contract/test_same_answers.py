"""Both engines, one corpus: identical totals, per-year counts, result ids and facets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.backends.embedded import EmbeddedBackend
from indexer.ingest import ingest
from indexer.model import Statement
from indexer.query import MatchAll, leaves
from indexer.search import Search

QUERIES = [
    '"strategic partnership"',
    "the",
    '"of the"',
    "china russia",
    "china OR russia",
    "china -russia",
    '"strategic partnership"~3',
    "strategic NEAR/3 cooperation",
    "strateg*",
    '"comprehensive strateg*"',
    "新时代",
    "中俄 OR 人民",
    "cooperation year:2000..2005",
    'kind:call "Xi Jinping"',
    'speaker:"Vladimir Putin" "New Year"',
    "addressee:France",
    "source:kremlin published:<=2010-01-01 friendship",
]


@pytest.fixture(scope="module")
def both(
    slices: list[Statement], es_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Search, Search]]:
    from indexer.backends.elastic.backend import ElasticBackend

    embedded = EmbeddedBackend(Path(tmp_path_factory.mktemp("same")) / "index")
    elastic = ElasticBackend(es_url, index=f"tifa-same-{uuid.uuid4().hex[:8]}")
    for backend in (embedded, elastic):
        report = ingest(backend, iter(slices), batch_statements=100)
        assert report.ok and report.accepted == len(slices)
    yield Search(embedded), Search(elastic)
    elastic.drop()
    elastic.close()
    embedded.close()


@pytest.mark.elastic
@pytest.mark.parametrize("q", QUERIES)
def test_identical_answers(both: tuple[Search, Search], q: str) -> None:
    a, b = both
    node = a.query(q)
    pages = []
    for search in (a, b):
        ranked = search.ranked(node)
        first = search.search(node, limit=50, snippets=2)
        by_date = search.search(node, sort="date", limit=50, snippets=0)
        years = search.timeline(node, MatchAll(), "year") if leaves(node) else []
        pages.append(
            (
                search.totals(ranked),
                [(h.statement.id, h.occurrences, h.snippets) for h in first.hits],
                [h.statement.id for h in by_date.hits],
                first.facets,
                years,
            )
        )
    assert pages[0] == pages[1]
    assert pages[0][0].statements > 0, f"{q} should match something in the slices"


@pytest.mark.elastic
def test_same_statements_and_metadata(both: tuple[Search, Search]) -> None:
    a, b = both
    assert list(a.backend.statements()) == list(b.backend.statements())
