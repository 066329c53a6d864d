"""Series: recurring exchanges year by year as of a date, a year's anomalies against the
norms of the previous recorded years, and one season year diffed against another."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.analysis.diff import Addressee, AddresseeComparison, FormulaChanges
from app.analysis.series import Anomaly, Confirmation, Event, season_year
from app.analysis.series_def import SeriesDef
from app.deps import SearchDep
from app.routes.diff import AddresseesOut, FormulaChangesOut, MetadataChangeOut, StatementDiffOut
from app.routes.formulas import CatalogDep
from app.routes.route import ModelRoute
from app.services import diffs, series

router = APIRouter(prefix="/api/v1", tags=["series"], route_class=ModelRoute)

AsOf = Annotated[
    dt.date | None,
    Query(description="Only what was published on or before this date (default: today)."),
]


class ReportOut(BaseModel):
    outlet: str
    url: str | None
    language: str


class EventOut(BaseModel):
    date: dt.date
    occasion: str
    level: str = Field(description="heads of state, heads of government, foreign ministers.")
    channel: str = Field(description="messages or phone call.")
    participants: list[str]
    initiated_by: str | None
    summary: str
    reported_by: list[ReportOut]
    note: str | None
    published: dt.date = Field(description="When it became public (the date if unknown).")
    statement_ids: list[str] = Field(description="Statements in the corpus holding its text.")

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(
            date=e.date,
            occasion=e.occasion,
            level=e.level,
            channel=e.channel,
            participants=list(e.participants),
            initiated_by=e.initiated_by,
            summary=e.summary,
            reported_by=[
                ReportOut(outlet=r.outlet, url=r.url, language=r.language) for r in e.reported_by
            ],
            note=e.note,
            published=e.published_on,
            statement_ids=series.linked_ids(e),
        )


class SeriesStatementOut(BaseModel):
    id: str
    title: str
    date: dt.date
    published: dt.date
    url: str | None
    kind: str
    link: str = Field(
        description="facts: linked from an event; filter: the series' query matches it; "
        "title: the query matches its title."
    )
    passages: list[int] | None = Field(
        description="The passages that belong to the series (null: all of them)."
    )

    @classmethod
    def of(cls, s: series.SeriesStatement) -> SeriesStatementOut:
        m = s.meta
        return cls(
            id=m.id,
            title=m.title,
            date=m.date,
            published=m.published,
            url=m.url,
            kind=m.kind,
            link=s.link,
            passages=sorted(s.passages) if s.passages is not None else None,
        )


class AddresseeOut(BaseModel):
    name: str
    country: str | None

    @classmethod
    def of(cls, a: Addressee) -> AddresseeOut:
        return cls(name=a.name, country=a.country)


class SeriesYearOut(BaseModel):
    year: int = Field(description="Season year: Jan 1-15 count for the previous year.")
    status: str = Field(
        description="recorded (events known), texts only (statements, no recorded event) or "
        "unknown (nothing known: not evidence that nothing happened)."
    )
    events: list[EventOut]
    statements: list[SeriesStatementOut]
    formula_counts: dict[str, int] | None = Field(
        description="Tracked formulas found in the year's statements (absent: 0); null "
        "when the year has no texts (unknown, not zero)."
    )
    roundup_id: str | None = Field(description="The year's round-up statement, if any.")
    addressees: list[AddresseeOut] | None = Field(description="Who the round-up greeted.")


class SeriesBase(BaseModel):
    id: str
    title: str
    description: str
    occasion: str
    query: str = Field(description="The series' filter query.")
    kinds: list[str]
    speakers: list[str]
    formulas: list[str] = Field(description="Formula ids the series tracks.")
    usual_month_day: str | None = Field(description="Informative only; norms are learned.")

    @classmethod
    def fields_of(cls, s: SeriesDef) -> dict[str, object]:
        return {
            "id": s.id,
            "title": s.title,
            "description": s.description,
            "occasion": s.occasion,
            "query": s.filter.query,
            "kinds": list(s.filter.kinds),
            "speakers": list(s.filter.speakers),
            "formulas": list(s.formulas),
            "usual_month_day": s.usual_month_day,
        }


class SeriesListItem(SeriesBase):
    recorded_years: list[int] = Field(description="Season years with events in the facts.")


class SeriesListOut(BaseModel):
    results: list[SeriesListItem]
    total: int
    next: str | None = None


class SeriesOut(SeriesBase):
    as_of: dt.date
    years: list[SeriesYearOut] = Field(
        description="Every season year from the first known to the last, unknown ones included."
    )


class AnomalyOut(BaseModel):
    kind: str = Field(
        description="channel, timing, missing_level, addition, formula_dropped, formula_added."
    )
    level: str | None
    description: str
    norm_text: str = Field(description="The norm departed from, with its support.")
    support: int
    total: int
    provisional: bool = Field(description="The usual date is after as_of: may still change.")
    evidence: list[EventOut]

    @classmethod
    def of(cls, a: Anomaly) -> AnomalyOut:
        return cls(
            kind=a.kind,
            level=a.level,
            description=a.description,
            norm_text=a.norm_text,
            support=a.support,
            total=a.total,
            provisional=a.provisional,
            evidence=[EventOut.of(e) for e in a.evidence],
        )


class ConfirmationOut(BaseModel):
    level: str
    description: str
    norm_text: str
    support: int
    total: int
    evidence: list[EventOut]

    @classmethod
    def of(cls, c: Confirmation) -> ConfirmationOut:
        return cls(
            level=c.level,
            description=c.description,
            norm_text=c.norm_text,
            support=c.support,
            total=c.total,
            evidence=[EventOut.of(e) for e in c.evidence],
        )


class FormulaFindingsOut(BaseModel):
    basis: str = Field(
        description="'compared with YEAR', or 'unknown: ...' when texts are missing."
    )
    counts: dict[int, dict[str, int]] = Field(
        description="Per season year with texts: tracked formulas found (absent: 0)."
    )


class AnomaliesOut(BaseModel):
    series: str
    year: int
    as_of: dt.date
    recorded: bool = Field(description="False: no event of the year known by as_of (unknown).")
    previous_years: list[int] = Field(description="Recorded years the norms come from.")
    unknown_years: list[int] = Field(description="Unrecorded years among them: not counted.")
    norms: list[str] = Field(description="Each level's norm in words.")
    anomalies: list[AnomalyOut]
    confirmations: list[ConfirmationOut] = Field(description="What happened as usual.")
    formulas: FormulaFindingsOut
    statements: list[SeriesStatementOut] = Field(description="The year's texts, if any.")


class LevelChangeOut(BaseModel):
    level: str
    status: str = Field(
        description="both, from only, to only (missing from a recorded year's record), or "
        "unknown (a year without any record)."
    )
    usual: str | None = Field(description="Usual channel and day before `to`.")
    from_event: EventOut | None
    to_event: EventOut | None
    shift_from: int | None = Field(description="Days from the usual day in `from`.")
    shift_to: int | None = Field(description="Days from the usual day in `to`.")
    changes: list[MetadataChangeOut] = Field(description="Channel, date, participants...")


class SeriesDiffOut(BaseModel):
    series: str
    as_of: dt.date
    year_from: SeriesYearOut
    year_to: SeriesYearOut
    levels: list[LevelChangeOut]
    formula_basis: str
    formulas: FormulaChangesOut | None = Field(
        description="Tracked formulas between the two years' texts; null when either year "
        "has no texts."
    )
    statements: StatementDiffOut | None = Field(
        description="The two years' main statements diffed, when both exist."
    )
    addressees: AddresseesOut | None = Field(
        description="Round-ups only: who was greeted in one year and not the other."
    )


def _counts(counts: Mapping[str, int] | None) -> dict[str, int] | None:
    return None if counts is None else {k: v for k, v in counts.items() if v}


def _year_out(y: series.SeriesYear, counts: Mapping[int, Mapping[str, int]]) -> SeriesYearOut:
    return SeriesYearOut(
        year=y.year,
        status=y.status,
        events=[EventOut.of(e) for e in y.events],
        statements=[SeriesStatementOut.of(s) for s in y.statements],
        formula_counts=_counts(counts.get(y.year)),
        roundup_id=y.roundup_id,
        addressees=[AddresseeOut.of(a) for a in y.addressees] if y.addressees is not None else None,
    )


def _recorded_years(events: Iterable[Event]) -> list[int]:
    return sorted({season_year(e.date) for e in events})


@router.get(
    "/series",
    response_model=SeriesListOut,
    summary="Recurring exchanges",
    description="Every series with its filter, tracked formulas and recorded years.",
)
def list_series(catalog: CatalogDep) -> SeriesListOut:
    items = [
        SeriesListItem(
            **SeriesBase.fields_of(s), recorded_years=_recorded_years(catalog.events[s.id])
        )
        for s in catalog.series
    ]
    return SeriesListOut(results=items, total=len(items), next=None)


@router.get(
    "/series/{series_id}",
    response_model=SeriesOut,
    summary="A series year by year, as of a date",
    description="Events grouped by season year with the statements behind each (linked from "
    "the facts, or matched by the series' filter), per-year formula counts, and round-up "
    "addressees; only what was published by `as_of`. Years without any record are listed as "
    "unknown.",
)
def get_series(
    series_id: str, search: SearchDep, catalog: CatalogDep, as_of: AsOf = None
) -> SeriesOut:
    view = series.series_view(search, catalog, series_id, as_of)
    counts = series.year_formula_counts(search, catalog, view)
    return SeriesOut(
        **SeriesBase.fields_of(view.series),
        as_of=view.as_of,
        years=[_year_out(y, counts) for y in view.years],
    )


@router.get(
    "/series/{series_id}/anomalies",
    response_model=AnomaliesOut,
    summary="A season year against the norms of the previous recorded years",
    description="Channel, timing, missing levels and additions against the norms learned "
    "from the previous recorded years, and formulas dropped or added against the previous "
    "year with texts, all as of `as_of`. A year with no record is unknown (`recorded: "
    "false`), never absent; formula findings say 'unknown: no texts' when texts are missing.",
)
def get_anomalies(
    series_id: str,
    search: SearchDep,
    catalog: CatalogDep,
    year: Annotated[int, Query(description="Season year, e.g. 2020.")],
    as_of: AsOf = None,
) -> AnomaliesOut:
    found = series.series_anomalies(search, catalog, series_id, year, as_of)
    r = found.review
    return AnomaliesOut(
        series=found.series.id,
        year=r.year,
        as_of=r.as_of,
        recorded=r.recorded,
        previous_years=list(r.previous_years),
        unknown_years=list(r.unknown_years),
        norms=[f"{n.level}: {n.text()}" for n in r.norms.levels],
        anomalies=[AnomalyOut.of(a) for a in r.anomalies],
        confirmations=[ConfirmationOut.of(c) for c in r.confirmations],
        formulas=FormulaFindingsOut(
            basis=found.formulas,
            counts={y: _counts(c) or {} for y, c in found.formula_counts.items()},
        ),
        statements=[SeriesStatementOut.of(s) for s in found.statements],
    )


@router.get(
    "/series/{series_id}/diff",
    response_model=SeriesDiffOut,
    summary="One season year of a series against another",
    description="Per level: present in both years or one (missing from the record), channel "
    "and participants changes, each year's shift in days from the usual day; tracked "
    "formulas between the two years' texts; the main statements diffed; for round-ups, the "
    "addressees greeted in one year and not the other. As of `as_of`.",
)
def get_series_diff(
    series_id: str,
    search: SearchDep,
    catalog: CatalogDep,
    year_from: Annotated[int, Query(alias="from", description="The earlier season year.")],
    year_to: Annotated[int, Query(alias="to", description="The later season year.")],
    as_of: AsOf = None,
) -> SeriesDiffOut:
    d = diffs.diff_series_years(search, catalog, series_id, year_from, year_to, as_of)
    counts = d.formula_counts
    return SeriesDiffOut(
        series=d.series_id,
        as_of=d.as_of,
        year_from=_year_out(d.year_from, counts),
        year_to=_year_out(d.year_to, counts),
        levels=[
            LevelChangeOut(
                level=lc.level,
                status=lc.status,
                usual=lc.usual,
                from_event=EventOut.of(lc.event_from) if lc.event_from else None,
                to_event=EventOut.of(lc.event_to) if lc.event_to else None,
                shift_from=lc.shift_from,
                shift_to=lc.shift_to,
                changes=[MetadataChangeOut.of(c) for c in lc.changes],
            )
            for lc in d.levels
        ],
        formula_basis=d.formula_basis,
        formulas=_formula_changes(d.formulas),
        statements=StatementDiffOut.of(d.statements) if d.statements else None,
        addressees=_addressees(d.addressees),
    )


def _formula_changes(c: FormulaChanges | None) -> FormulaChangesOut | None:
    return FormulaChangesOut.of_counts(c) if c is not None else None


def _addressees(c: AddresseeComparison | None) -> AddresseesOut | None:
    return AddresseesOut.of(c) if c is not None else None
