"""Timelines: per-year or per-month counts of up to ten queries, beside the corpus."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from app.analysis.timeline import Granularity, build_timeline, periods_between
from app.deps import FiltersDep, SearchDep
from app.rendered import RenderedDep
from app.routes.route import ModelRoute
from app.schemas import TimelineRowOut
from indexer.errors import InvalidInput
from indexer.query import MatchAll, Node, with_filters
from indexer.search import Search

router = APIRouter(prefix="/api/v1", tags=["timeline"], route_class=ModelRoute)

MAX_QUERIES = 10


class TimelineSeriesOut(BaseModel):
    query: str
    total_statements: int
    total_occurrences: int
    rows: list[TimelineRowOut]


class TimelineOut(BaseModel):
    interval: str
    smoothing: int | None
    series: list[TimelineSeriesOut]


def timeline_of(
    search: Search,
    queries: list[str],
    filters: list[Node],
    interval: Granularity,
    smoothing: int | None,
) -> TimelineOut:
    """Timelines of several queries over one shared set of periods."""
    if not queries or len(queries) > MAX_QUERIES:
        raise InvalidInput(f"give between 1 and {MAX_QUERIES} queries (q=...&q=...)")
    if smoothing is not None and (smoothing < 1 or smoothing % 2 == 0):
        raise InvalidInput("smoothing must be an odd number of periods, e.g. 3 or 5")
    filter_node = with_filters(MatchAll(), filters)
    counted = [
        (q, search.timeline(search.query(q, filters), filter_node, interval)) for q in queries
    ]
    labels = sorted({p.period for _, rows in counted for p in rows})
    if labels:
        first, last = labels[0], labels[-1]
        start = dt.date(int(first[:4]), int(first[5:7] or 1) if interval == "month" else 1, 1)
        end = dt.date(int(last[:4]), int(last[5:7] or 12) if interval == "month" else 12, 1)
        labels = periods_between(start, end, interval)
    series = []
    for q, rows in counted:
        hits = {p.period: (p.statements, p.occurrences) for p in rows}
        corpus = {p.period: (p.corpus_statements, p.corpus_tokens) for p in rows}
        built = build_timeline(labels, hits, corpus, smoothing=smoothing)
        series.append(
            TimelineSeriesOut.model_validate(
                {
                    "query": q,
                    "total_statements": sum(r.statements for r in built),
                    "total_occurrences": sum(r.occurrences for r in built),
                    "rows": [TimelineRowOut.fields_of(r) for r in built],
                }
            )
        )
    return TimelineOut(interval=interval, smoothing=smoothing, series=series)


@router.get(
    "/timeline",
    response_model=TimelineOut,
    summary="Counts per year or month of up to ten queries",
    description=(
        "For each query and period: matching statements, exact occurrences, the corpus the "
        "filters admit (statements, tokens), occurrences per 10,000 tokens and the share of "
        "statements. A period with no corpus text has `has_corpus: false` and null rates "
        "(unknown, not zero). `smoothing=N` adds a centred moving average of the rate. "
        "`format=csv` exports one row per query and period."
    ),
    responses={200: {"content": {"text/csv": {}}}},
)
async def timeline(
    search: SearchDep,
    filters: FiltersDep,
    rendered: RenderedDep,
    q: Annotated[list[str], Query(description="One or more queries (repeat q).")],
    interval: Annotated[Literal["year", "month"], Query()] = "year",
    smoothing: Annotated[int | None, Query(ge=1, le=21)] = None,
    format: Annotated[Literal["csv", "json"] | None, Query()] = None,
) -> Response:
    def compute() -> bytes:
        out = timeline_of(search, q, filters, interval, smoothing)
        return out.model_dump_json().encode() if format != "csv" else _csv(out).encode()

    key = ("timeline", tuple(q), tuple(filters), interval, smoothing, format == "csv")
    body = await rendered.answer(search, key, compute)
    if format != "csv":
        return Response(body, media_type="application/json")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tifa-timeline.csv"'},
    )


def _csv(out: TimelineOut) -> str:
    buf = io.StringIO()
    fields = list(TimelineRowOut.model_fields)
    writer = csv.writer(buf)
    writer.writerow(["query", *fields])
    for s in out.series:
        for r in s.rows:
            writer.writerow([s.query, *(getattr(r, f) for f in fields)])
    return buf.getvalue()
