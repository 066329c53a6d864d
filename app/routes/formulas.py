"""Formulas: the lexicon, each formula's attestations and totals, and its timeline."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.analysis.lexicon import Formula
from app.analysis.timeline import Granularity
from app.deps import FiltersDep, SearchDep
from app.rendered import RenderedDep
from app.routes.route import ModelRoute
from app.schemas import TimelineRowOut
from app.services import formulas as service
from app.services.series import Catalog, load_catalog
from indexer.query import Node
from indexer.search import Search

router = APIRouter(prefix="/api/v1", tags=["formulas"], route_class=ModelRoute)


async def get_corpus_dir(request: Request) -> Path:
    corpus_dir: Path = request.app.state.settings.corpus_dir
    return corpus_dir


def get_lexicon(corpus_dir: Annotated[Path, Depends(get_corpus_dir)]) -> tuple[Formula, ...]:
    return service.load_lexicon(corpus_dir)


async def _lexicon(corpus_dir: Annotated[Path, Depends(get_corpus_dir)]) -> tuple[Formula, ...]:
    # On the event loop: the lexicon is read again only when its file changes (a stat).
    return service.load_lexicon(corpus_dir)


def get_catalog(corpus_dir: Annotated[Path, Depends(get_corpus_dir)]) -> Catalog:
    return load_catalog(corpus_dir)


LexiconDep = Annotated[tuple[Formula, ...], Depends(_lexicon)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


class FormulaBase(BaseModel):
    id: str = Field(description="The formula's slug, e.g. new-era.")
    label: str
    languages: list[str] = Field(description="Languages it has variants in.")
    variants: dict[str, list[str]] = Field(description="Variants per language, as written.")
    notes: str
    tags: list[str]
    query: str = Field(description="The formula in the query language (any variant).")

    @classmethod
    def fields_of(cls, f: Formula) -> dict[str, object]:
        return {
            "id": f.id,
            "label": f.label,
            "languages": list(f.languages),
            "variants": {lang: list(f.variants[lang]) for lang in f.languages},
            "notes": f.notes,
            "tags": list(f.tags),
            "query": " OR ".join(f'"{v}"' for lang in f.languages for v in f.variants[lang]),
        }


class FormulaListItem(FormulaBase):
    statements: int = Field(description="Statements the filters admit with the formula.")
    occurrences: int = Field(description="Exact occurrences, all variants together.")


class FormulaListOut(BaseModel):
    results: list[FormulaListItem]
    total: int
    next: str | None = Field(None, description="Always null: the lexicon fits one page.")


class TotalsOut(BaseModel):
    statements: int
    passages: int
    occurrences: int


class AttestationOut(BaseModel):
    statement_id: str
    date: dt.date
    title: str
    source: str


class LanguageTotalsOut(TotalsOut):
    language: str


class SourceCountOut(BaseModel):
    source: str
    statements: int
    occurrences: int


class FormulaOut(FormulaBase):
    totals: TotalsOut = Field(description="Exact totals, all variants counted as one.")
    first: AttestationOut | None = Field(description="Earliest statement using it.")
    last: AttestationOut | None = Field(description="Latest statement using it.")
    absent_since: dt.date | None = Field(
        description="Date of the last attestation when the corpus holds later years; "
        "null while it is still attested in the corpus's last year."
    )
    corpus_last_year: int | None = Field(description="Last year the filters admit text in.")
    by_language: list[LanguageTotalsOut] = Field(
        description="Totals of each language's variants in statements of that language."
    )
    top_sources: list[SourceCountOut]


class FormulaTimelineOut(BaseModel):
    formula: str
    label: str
    interval: str
    smoothing: int | None
    rows: list[TimelineRowOut] = Field(description="All variants counted as one.")
    by_language: dict[str, list[TimelineRowOut]] = Field(
        description="Each language's variants against the corpus of that language."
    )


@router.get(
    "/formulas",
    response_model=FormulaListOut,
    summary="The formula lexicon with totals",
    description="Every formula of the lexicon with its variants and exact totals (statements, "
    "occurrences) among statements the filters admit (e.g. `as_of`, `lang`, `year`).",
)
def list_formulas(search: SearchDep, lexicon: LexiconDep, filters: FiltersDep) -> FormulaListOut:
    totals = service.lexicon_totals(search, lexicon, filters)
    items = [
        FormulaListItem(
            **FormulaBase.fields_of(f), statements=totals[f.id][0], occurrences=totals[f.id][1]
        )
        for f in lexicon
    ]
    return FormulaListOut(results=items, total=len(items), next=None)


@router.get(
    "/formulas/{formula_id}",
    response_model=FormulaOut,
    summary="One formula: first and last attestation, totals, sources",
    description="First and last statements using the formula, `absent_since` when it stopped "
    "appearing before the corpus ends, totals overall and per language, the top sources; all "
    "among statements the filters admit. Unknown id: 404.",
)
def get_formula(
    formula_id: str, search: SearchDep, lexicon: LexiconDep, filters: FiltersDep
) -> FormulaOut:
    s = service.summarize(search, service.get_formula(lexicon, formula_id), filters)

    def att(a: service.Attestation | None) -> AttestationOut | None:
        if a is None:
            return None
        return AttestationOut(
            statement_id=a.statement_id, date=a.date, title=a.title, source=a.source
        )

    return FormulaOut(
        **FormulaBase.fields_of(s.formula),
        totals=TotalsOut(
            statements=s.totals.statements,
            passages=s.totals.passages,
            occurrences=s.totals.occurrences,
        ),
        first=att(s.first),
        last=att(s.last),
        absent_since=s.absent_since,
        corpus_last_year=s.corpus_last_year,
        by_language=[
            LanguageTotalsOut(
                language=t.language,
                statements=t.statements,
                passages=t.passages,
                occurrences=t.occurrences,
            )
            for t in s.by_language
        ],
        top_sources=[
            SourceCountOut(source=c.source, statements=c.statements, occurrences=c.occurrences)
            for c in s.top_sources
        ],
    )


@router.get(
    "/formulas/{formula_id}/timeline",
    response_model=FormulaTimelineOut,
    summary="A formula per year or month, overall and per language",
    description="Exact statements and occurrences per period of the formula (all variants "
    "counted as one) beside the corpus the filters admit, and the same per language against "
    "that language's corpus. Periods without text have `has_corpus: false` (unknown, not "
    "zero). `smoothing=N` (odd) adds a centred moving average; `format=csv` exports one row "
    "per language and period (`language` is `all` for the combined count).",
    responses={200: {"content": {"text/csv": {}}}},
    name="formula_timeline",
)
async def formula_timeline_route(
    formula_id: str,
    search: SearchDep,
    lexicon: LexiconDep,
    filters: FiltersDep,
    rendered: RenderedDep,
    interval: Annotated[Literal["year", "month"], Query(description="Period length.")] = "year",
    smoothing: Annotated[
        int | None, Query(ge=1, le=21, description="Odd moving-average window.")
    ] = None,
    format: Annotated[Literal["csv", "json"] | None, Query(description="csv to export.")] = None,
) -> Response:
    formula = service.get_formula(lexicon, formula_id)

    def compute() -> bytes:
        out = formula_timeline(formula_id, search, lexicon, filters, interval, smoothing, format)
        if isinstance(out, Response):
            return bytes(out.body)
        return out.model_dump_json().encode()

    # The formula itself in the key: an edited lexicon is a different question.
    key = ("formula timeline", formula, tuple(filters), interval, smoothing, format == "csv")
    body = await rendered.answer(search, key, compute)
    if format != "csv":
        return Response(body, media_type="application/json")
    return Response(body, media_type="text/csv; charset=utf-8", headers=_csv_headers(formula.id))


def formula_timeline(
    formula_id: str,
    search: Search,
    lexicon: Sequence[Formula],
    filters: list[Node],
    interval: Granularity = "year",
    smoothing: int | None = None,
    format: str | None = None,
) -> FormulaTimelineOut | Response:
    """The formula timeline as a model (or its CSV): what the route renders, and what the
    CLI and the HTML pages call directly."""
    tl = service.timeline(
        search, service.get_formula(lexicon, formula_id), filters, interval, smoothing
    )
    row = TimelineRowOut.fields_of
    out = FormulaTimelineOut.model_validate(
        {
            "formula": tl.formula.id,
            "label": tl.formula.label,
            "interval": tl.interval,
            "smoothing": tl.smoothing,
            "rows": [row(r) for r in tl.rows],
            "by_language": {lang: [row(r) for r in rows] for lang, rows in tl.by_language.items()},
        }
    )
    if format != "csv":
        return out
    buf = io.StringIO()
    fields = list(TimelineRowOut.model_fields)
    writer = csv.writer(buf)
    writer.writerow(["formula", "language", *fields])
    for lang, rows in [("all", out.rows), *out.by_language.items()]:
        for r in rows:
            writer.writerow([out.formula, lang, *(getattr(r, f) for f in fields)])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers=_csv_headers(out.formula),
    )


def _csv_headers(formula_id: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="tifa-formula-{formula_id}.csv"'}
