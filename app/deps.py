"""Dependencies shared by the routes: the search layer and the filter parameters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query, Request

from indexer.errors import InvalidInput
from indexer.query import DateRange, FieldIs, Node, parse
from indexer.search import Search

# The dependencies are `async def` although they do no I/O: FastAPI runs a plain `def`
# dependency in the thread pool, a hand-off that costs more than the work.


async def get_search(request: Request) -> Search:
    search: Search = request.app.state.search
    return search


SearchDep = Annotated[Search, Depends(get_search)]


def _range(field: str, value: str) -> Node:
    node = parse(f"{field}:{value}")
    if not isinstance(node, DateRange):
        raise InvalidInput(f"{field} must look like 2019, 2016..2020 or >=2019-12-01")
    return node


async def filters(
    speaker: Annotated[str | None, Query(description="Speaker, e.g. Xi Jinping.")] = None,
    source: Annotated[str | None, Query(description="Words of the source's name.")] = None,
    kind: Annotated[str | None, Query(description="readout, message, call, speech, ...")] = None,
    lang: Annotated[str | None, Query(description="Language code: en, zh, ru, ...")] = None,
    series: Annotated[str | None, Query(description="Series id.")] = None,
    addressee: Annotated[str | None, Query(description="Addressee of a message.")] = None,
    year: Annotated[str | None, Query(description="2019, 2016..2020, >=2016.")] = None,
    date: Annotated[str | None, Query(description="2019-12-31, 2019-12-01..2020-01-31.")] = None,
    as_of: Annotated[
        dt.date | None, Query(description="Count only what was published on or before.")
    ] = None,
) -> list[Node]:
    """Request parameters as filter clauses (the same as inline `field:value`)."""
    out: list[Node] = []
    for field, value in (
        ("speaker", speaker),
        ("source", source),
        ("kind", kind),
        ("lang", lang),
        ("series", series),
        ("addressee", addressee),
    ):
        if value:
            out.append(FieldIs(field, value))
    if year:
        out.append(_range("year", year))
    if date:
        out.append(_range("date", date))
    if as_of:
        out.append(DateRange("published", None, as_of))
    return out


FiltersDep = Annotated[list[Node], Depends(filters)]
