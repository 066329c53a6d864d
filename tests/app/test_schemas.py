"""A search page written straight to JSON is byte for byte what its response model
writes: generated pages (any text, any score) and real pages of the slice index."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import PydanticSerializationError

from app.schemas import SearchOut
from indexer.backends.base import StatementMeta
from indexer.search import SearchPage, Snippet, StatementHit, Totals

TEXT = st.text(max_size=12)  # control characters, quotes, backslashes, any plane
COUNT = st.integers(0, 2**53)
SNIPPET = st.builds(Snippet, COUNT, TEXT, TEXT, TEXT, COUNT, COUNT, st.none() | TEXT)
META = st.builds(
    StatementMeta,
    key=st.integers(-(2**63), 2**63 - 1),
    id=TEXT,
    title=TEXT,
    date=st.dates(),
    published=st.dates(),
    source=TEXT,
    url=st.none() | TEXT,
    license=TEXT,
    language=TEXT,
    kind=TEXT,
    speakers=st.tuples(TEXT) | st.just(()),
    series=st.tuples(TEXT, TEXT) | st.just(()),
    addressees=st.just(()),
    passages=COUNT,
    tokens=COUNT,
    hash=TEXT,
)
SCORE = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-1e-6, 1e-6)
HIT = st.builds(StatementHit, META, COUNT, COUNT, SCORE, st.lists(SNIPPET, max_size=3).map(tuple))
PAGE = st.builds(
    SearchPage,
    st.builds(Totals, COUNT, COUNT, COUNT),
    st.lists(HIT, max_size=4),
    st.none() | TEXT,
    st.dictionaries(TEXT, st.lists(st.tuples(TEXT, COUNT), max_size=3), max_size=3),
)


def _models(page: SearchPage) -> bytes:
    return SearchOut.of(page).model_dump_json().encode()


@settings(max_examples=300, deadline=None)
@given(PAGE)
def test_a_page_written_directly_is_what_its_model_writes(page: SearchPage) -> None:
    try:
        expected = _models(page)
    except PydanticSerializationError:
        # A lone surrogate: neither writes it, and the direct path raises as the models do.
        with pytest.raises(PydanticSerializationError):
            SearchOut.json_of(page)
        return
    assert SearchOut.json_of(page) == expected


def test_a_lone_surrogate_fails_as_the_models_fail() -> None:
    meta = StatementMeta(
        1, "x", "\ud800", dt.date(2020, 1, 1), dt.date(2020, 1, 1), "s", None, "l", "en",
        "speech", (), (), (), 1, 1, "h",
    )  # fmt: skip
    page = SearchPage(Totals(1, 1, 1), [StatementHit(meta, 1, 1, 1.0)], None)
    with pytest.raises(PydanticSerializationError):
        SearchOut.json_of(page)


@pytest.mark.parametrize("q", ['"strategic partnership"', "新时代", "peace", '"of the"'])
def test_real_pages_are_the_models_bytes(client: TestClient, q: str) -> None:
    search = client.app.state.search  # type: ignore[attr-defined]
    page = search.search(search.query(q), limit=20, context=60, snippets=3)
    assert page.hits or q == '"of the"'
    assert SearchOut.json_of(page) == _models(page)
    served = client.get("/api/v1/search", params={"q": q, "limit": 20})
    assert served.status_code == 200
    assert served.content == _models(page)
