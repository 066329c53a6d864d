"""Phrase search: exact totals, ranked statements with KWIC snippets, facets, export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from app.deps import FiltersDep, SearchDep
from app.rendered import RenderedDep
from app.routes.route import ModelRoute
from app.schemas import SearchOut
from indexer.search import MAX_LIMIT

router = APIRouter(prefix="/api/v1", tags=["search"], route_class=ModelRoute)

KWIC_COLUMNS = [
    "id",
    "date",
    "title",
    "source",
    "url",
    "license",
    "passage",
    "addressee",
    "left",
    "match",
    "right",
]


@router.get(
    "/search",
    response_model=SearchOut,
    summary="Search statements",
    description=(
        "Phrase search under the matching model (NFKC, case folding, ё→е; Han characters "
        "are tokens; punctuation is ignored). `total` counts matching statements, passages "
        "and exact occurrences. `format=csv` or `Accept: text/csv` exports the KWIC table, "
        "`format=json` the same as JSON lines."
    ),
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
async def search(
    request: Request,
    search: SearchDep,
    filters: FiltersDep,
    rendered: RenderedDep,
    q: Annotated[str, Query(description='The query, e.g. "strategic partnership".')] = "",
    sort: Annotated[Literal["relevance", "date", "-date"], Query()] = "relevance",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    cursor: Annotated[str | None, Query(description="`next` from the previous page.")] = None,
    context: Annotated[
        int,
        Query(
            ge=0,
            le=500,
            description="KWIC width: up to this many characters each side of a match, "
            "cut at a space or beside a Han character so that no word is split.",
        ),
    ] = 60,
    snippets: Annotated[int, Query(ge=0, le=50, description="Snippets per statement.")] = 3,
    format: Annotated[Literal["csv", "json"] | None, Query()] = None,
    export_limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    node = search.query(q, filters)
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv or format == "json":
        if wants_csv:
            media = "text/csv; charset=utf-8"
            headers = {"Content-Disposition": 'attachment; filename="tifa-kwic.csv"'}
        else:
            media, headers = "application/x-ndjson", {}
        export = ("export", node, sort, export_limit, context, wants_csv)
        body = rendered.at_hand(search, export)
        if body is not None:
            return Response(body, media_type=media, headers=headers)
        # A generator: the search runs as the response is streamed, in the thread pool.
        rows = search.kwic_rows(node, sort=sort, limit=export_limit, context=context)
        chunks = _csv(rows) if wants_csv else _jsonl(rows)
        return StreamingResponse(
            rendered.tee(search, export, chunks), media_type=media, headers=headers
        )

    def compute() -> bytes:
        page = search.search(
            node, sort=sort, limit=limit, cursor=cursor, context=context, snippets=snippets
        )
        return SearchOut.json_of(page)

    key = ("search", node, sort, limit, cursor, context, snippets)
    body = await rendered.answer(search, key, compute)
    return Response(body, media_type="application/json")


QUERY_HELP: dict[str, object] = {
    "summary": "Phrase search under the matching model: NFKC, case folding, ё→е; each Han "
    "character is a token; punctuation, hyphens and apostrophes separate tokens and are "
    "ignored. Bare words are ANDed.",
    "syntax": [
        {"query": '"new era"', "meaning": "exact phrase"},
        {"query": "china russia", "meaning": "both words (AND is implied)"},
        {"query": "china OR russia", "meaning": "either"},
        {"query": "-china or NOT china", "meaning": "without"},
        {"query": "(a OR b) c", "meaning": "grouping; NOT binds tighter than AND, AND than OR"},
        {
            "query": '"strategic coordination"~3',
            "meaning": "in order, at most 3 other tokens inside the match",
        },
        {
            "query": "strategic NEAR/3 coordination",
            "meaning": "either order, at most 3 tokens apart (NEAR alone: 5)",
        },
        {"query": "strateg*", "meaning": "word prefix (also last word of a phrase)"},
        {
            "query": 'lemma:"стратегическое взаимодействие"',
            "meaning": "Russian inflections (also a ~morph suffix)",
        },
        {
            "query": 'speaker:"Xi Jinping"',
            "meaning": "filter: the value's words stand together in the field",
        },
        {"query": "year:2016..2020", "meaning": "year range (also year:>=2016, year:2019)"},
        {"query": "date:>=2019-12-01", "meaning": "date range; published: for publication"},
    ],
    "fields": [
        "speaker",
        "source",
        "kind",
        "lang",
        "series",
        "addressee",
        "id",
        "year",
        "date",
        "published",
        "lemma",
    ],
    "examples": [
        '"strategic partnership"',
        "新时代",
        '"community of shared future"~2',
        "中俄 year:2019..2021",
        'speaker:"Vladimir Putin" kind:message "New Year"',
    ],
    "limits": {
        "max_query_chars": 2000,
        "max_clauses": 64,
        "max_prefix_expansions": 512,
        "max_slop_or_distance": 50,
        "max_limit": MAX_LIMIT,
    },
}


@router.get("/help/query", summary="The query language, with examples and limits")
async def query_help() -> dict[str, object]:
    return QUERY_HELP


def _row(meta: object, snip: object) -> dict[str, object]:
    from indexer.backends.base import StatementMeta
    from indexer.search import Snippet

    assert isinstance(meta, StatementMeta) and isinstance(snip, Snippet)
    return {
        "id": meta.id,
        "date": meta.date.isoformat(),
        "title": meta.title,
        "source": meta.source,
        "url": meta.url or "",
        "license": meta.license,
        "passage": snip.passage,
        "addressee": snip.addressee or "",
        "left": snip.left,
        "match": snip.match,
        "right": snip.right,
    }


def _csv(rows: Iterator[tuple[object, object]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=KWIC_COLUMNS)
    writer.writeheader()
    for meta, snip in rows:
        writer.writerow(_row(meta, snip))
        if buf.tell() > 65536:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _jsonl(rows: Iterator[tuple[object, object]]) -> Iterator[str]:
    # In chunks, like the CSV: each chunk is a trip to the thread pool and back.
    lines: list[str] = []
    size = 0
    for meta, snip in rows:
        lines.append(json.dumps(_row(meta, snip), ensure_ascii=False) + "\n")
        size += len(lines[-1])
        if size > 65536:
            yield "".join(lines)
            lines, size = [], 0
    if lines:
        yield "".join(lines)
