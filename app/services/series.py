"""Series as of a date: the definitions and facts (loaded once, reloaded on change), the
statements behind each season year, the per-year view, and a year's anomalies with
formula changes counted from those statements.

The statements of a series, as of a date (published on or before it), are:

* those linked from the facts (`statement_ids`, or "Kremlin id NNNNN" in a summary →
  `kremlin-NNNNN`); in a round-up only the passages addressed to one of the event's
  participants belong to the event, when there are such passages;
* those the series' filter matches (its query plus kinds and speakers), as a search
  would find them, or whose title the query matches (round-ups name their occasion in
  the title only).

A season year with neither events nor statements is unknown, never "no exchange".
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.analysis.diff import Addressee, addressees_of
from app.analysis.lexicon import Formula
from app.analysis.series import Event, YearReview, by_season_year, review_year, season_year
from app.analysis.series_def import SeriesDef, load_facts, load_series
from app.services.formulas import counts_in, load_lexicon
from indexer.backends.base import StatementMeta
from indexer.errors import InvalidInput, NotFound, TifaError
from indexer.filtering import evaluate, value_matches
from indexer.matching import spans
from indexer.query import DateRange, FieldIs, Leaf, Node, Or, parse, with_filters
from indexer.search import Search
from indexer.text import count_phrase, terms

SERIES_DIR = "series"
_KREMLIN_ID = re.compile(r"\bKremlin id (\d+)\b")
MIN_YEAR, MAX_YEAR = 1900, 2100

YearStatus = Literal["recorded", "texts only", "unknown"]
Link = Literal["facts", "filter", "title"]


@dataclass(frozen=True, slots=True)
class Catalog:
    """The lexicon, the series definitions and each series' events."""

    formulas: tuple[Formula, ...]
    series: tuple[SeriesDef, ...]
    events: Mapping[str, tuple[Event, ...]]

    def get(self, series_id: str) -> SeriesDef:
        """The series with `series_id`; NotFound otherwise."""
        for s in self.series:
            if s.id == series_id:
                return s
        raise NotFound(f"no series with id {series_id!r}")

    def tracked(self, series: SeriesDef) -> tuple[Formula, ...]:
        """The formulas a series tracks, in the series' order."""
        by_id = {f.id: f for f in self.formulas}
        return tuple(by_id[f] for f in series.formulas if f in by_id)


_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], Catalog]] = {}


def _stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)


def load_catalog(corpus_dir: Path) -> Catalog:
    """Series definitions of `corpus_dir/series/*.yaml` and their facts files, checked
    against the lexicon; cached until a file there changes. Raises TifaError (500) when
    the data is invalid."""
    formulas = load_lexicon(corpus_dir)
    folder = (corpus_dir / SERIES_DIR).resolve()
    stamp = _stamp(folder)
    with _lock:
        cached = _cache.get(folder)
        if cached and cached[0] == stamp and cached[1].formulas is formulas:
            return cached[1]
    try:
        defs = tuple(load_series(folder, known_formulas={f.id for f in formulas}))
        events = {s.id: tuple(load_facts(path)) if (path := s.facts_path()) else () for s in defs}
    except (ValueError, FileNotFoundError) as exc:
        raise TifaError(f"the series data is invalid: {exc}") from None
    catalog = Catalog(formulas=formulas, series=defs, events=events)
    with _lock:
        _cache[folder] = (stamp, catalog)
    return catalog


# ---- the statements of a series --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesStatement:
    """A statement behind a season year: how it was linked, and the passages that belong
    to the series (None: all of them)."""

    meta: StatementMeta
    season_year: int
    link: Link
    passages: frozenset[int] | None = None

    @property
    def scope(self) -> tuple[int, frozenset[int] | None]:
        return self.meta.key, self.passages


def filter_node(series: SeriesDef, as_of: dt.date | None = None) -> Node:
    """The series' filter as a query: its query, any of its kinds, any of its speakers,
    published on or before `as_of`."""
    extra: list[Node] = []
    for field, values in (("kind", series.filter.kinds), ("speaker", series.filter.speakers)):
        if values:
            nodes = tuple(FieldIs(field, v) for v in values)
            extra.append(nodes[0] if len(nodes) == 1 else Or(nodes))
    if as_of is not None:
        extra.append(DateRange("published", None, as_of))
    return with_filters(parse(series.filter.query), extra)


def linked_ids(event: Event) -> list[str]:
    """Statement ids an event links to: `statement_ids`, then "Kremlin id NNNNN"."""
    out = list(event.statement_ids)
    out += [f"kremlin-{n}" for n in _KREMLIN_ID.findall(event.summary)]
    return list(dict.fromkeys(out))


def _participant_passages(search: Search, sid: str, event: Event) -> frozenset[int] | None:
    st = search.backend.statement(sid)
    if st is None:
        return None
    mine = frozenset(
        p.number
        for p in st.passages
        if p.addressee and any(value_matches([p.addressee], who) for who in event.participants)
    )
    return mine or None


def series_statements(
    search: Search, series: SeriesDef, events: Sequence[Event], as_of: dt.date
) -> list[SeriesStatement]:
    """The statements of `series` published by `as_of`, linked ones first, then those
    its filter matches (by relevance), then those matched by title; each once."""
    metas = {m.id: m for m in search.backend.statements()}
    by_key = {m.key: m for m in metas.values()}
    out: dict[str, SeriesStatement] = {}
    for event in sorted(events, key=lambda e: e.date):
        if event.published_on > as_of:
            continue
        for sid in linked_ids(event):
            meta = metas.get(sid)
            if meta is None or meta.published > as_of or sid in out:
                continue
            out[sid] = SeriesStatement(
                meta, season_year(meta.date), "facts", _participant_passages(search, sid, event)
            )
    node = filter_node(series, as_of)
    ranked = search.ranked(node)
    for i in ranked.orders["relevance"]:
        meta = by_key.get(ranked.keys[i])
        if meta is not None and meta.id not in out:
            out[meta.id] = SeriesStatement(meta, season_year(meta.date), "filter")
    for meta in metas.values():
        if meta.id in out or not meta.title:
            continue
        title = terms(meta.title)

        def in_title(leaf: Leaf, title: list[str] = title) -> bool:
            return bool(spans(title, leaf))

        if evaluate(node, meta, None, in_title, statement_level=True):
            out[meta.id] = SeriesStatement(meta, season_year(meta.date), "title")
    return list(out.values())


# ---- the per-year view -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesYear:
    """One season year as of a date.

    `status`: 'recorded' (events known), 'texts only' (statements but no recorded
    event) or 'unknown' (neither: not evidence that nothing happened). `addressees`:
    who the year's round-up greeted, when the year has one (a statement with several
    addressed passages), else None.
    """

    year: int
    status: YearStatus
    events: tuple[Event, ...]
    statements: tuple[SeriesStatement, ...]
    addressees: tuple[Addressee, ...] | None
    roundup_id: str | None


@dataclass(frozen=True, slots=True)
class SeriesView:
    series: SeriesDef
    as_of: dt.date
    years: tuple[SeriesYear, ...]

    def year(self, year: int) -> SeriesYear:
        """The view of `year` (an unknown year when outside the recorded span)."""
        for y in self.years:
            if y.year == year:
                return y
        return SeriesYear(year, "unknown", (), (), None, None)


def roundup_addressees(search: Search, statement_id: str) -> tuple[Addressee, ...] | None:
    """The addressees of a round-up (name and country, in passage order), or None when
    the statement has fewer than two addressed passages."""
    st = search.backend.statement(statement_id)
    if st is None or sum(1 for p in st.passages if p.addressee) < 2:
        return None
    listed = st.meta.get("addressees")
    if isinstance(listed, list) and listed:
        return tuple(
            Addressee(str(a.get("addressee")), a.get("country"))
            for a in listed
            if isinstance(a, Mapping) and a.get("addressee")
        )
    return tuple(addressees_of(st.passages))


def _roundup(search: Search, statements: Sequence[SeriesStatement]) -> SeriesStatement | None:
    whole = [s for s in statements if s.passages is None and len(s.meta.addressees) >= 2]
    return max(whole, key=lambda s: (len(s.meta.addressees), s.meta.id), default=None)


def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"year must be between {MIN_YEAR} and {MAX_YEAR}, got {year}")
    return year


def series_view(
    search: Search, catalog: Catalog, series_id: str, as_of: dt.date | None = None
) -> SeriesView:
    """Every season year of a series from its first known event or statement to its
    last, as of `as_of` (default: today). Raises NotFound for an unknown series."""
    series = catalog.get(series_id)
    as_of = as_of or dt.date.today()
    events = catalog.events[series.id]
    grouped = by_season_year(events, as_of)
    statements = series_statements(search, series, events, as_of)
    years = set(grouped) | {s.season_year for s in statements}
    out: list[SeriesYear] = []
    for y in range(min(years), max(years) + 1) if years else ():
        stmts = tuple(s for s in statements if s.season_year == y)
        evs = grouped.get(y, ())
        status: YearStatus = "recorded" if evs else "texts only" if stmts else "unknown"
        roundup = _roundup(search, stmts)
        out.append(
            SeriesYear(
                year=y,
                status=status,
                events=evs,
                statements=stmts,
                addressees=roundup_addressees(search, roundup.meta.id) if roundup else None,
                roundup_id=roundup.meta.id if roundup else None,
            )
        )
    return SeriesView(series=series, as_of=as_of, years=tuple(out))


def year_formula_counts(
    search: Search, catalog: Catalog, view: SeriesView
) -> dict[int, dict[str, int]]:
    """Season year → tracked formula → occurrences in that year's statements (only
    years with statements: a year without texts has no counts, not zero counts)."""
    formulas = catalog.tracked(view.series)
    return {
        y.year: counts_in(search, formulas, dict(s.scope for s in y.statements))
        for y in view.years
        if y.statements
    }


# ---- anomalies -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeriesAnomalies:
    """A season year against its norms, as of a date.

    `formula_counts` are per season year with statements (as of the date). `formulas`
    says what the formula findings rest on: 'compared with YEAR' or 'unknown: ...'
    when the year, or every earlier year, has no texts.
    """

    series: SeriesDef
    review: YearReview
    formula_counts: Mapping[int, Mapping[str, int]]
    formulas: str
    statements: tuple[SeriesStatement, ...]


def summary_formula_counts(catalog: Catalog, view: SeriesView) -> dict[int, dict[str, int]]:
    """Season year → tracked formula → occurrences in the summaries of that year's events
    known as of the view's date. The summaries are our paraphrases quoting the readouts'
    phrases: weaker evidence than texts, used only where a year has no texts."""
    formulas = catalog.tracked(view.series)
    variants = {
        f.id: [terms(v) for vs in f.variants.values() for v in vs if terms(v)] for f in formulas
    }
    out: dict[int, dict[str, int]] = {}
    for y in view.years:
        if not y.events:
            continue
        words = [terms(e.summary) for e in y.events]
        out[y.year] = {
            fid: sum(count_phrase(w, v) for w in words for v in vs) for fid, vs in variants.items()
        }
    return out


def formula_basis(counts: Mapping[int, Mapping[str, int]], year: int, as_of: dt.date) -> str:
    """What formula findings for `year` can rest on, in words."""
    if year not in counts:
        return f"unknown: no texts of {year} published by {as_of.isoformat()}"
    earlier = [y for y in counts if y < year]
    if not earlier:
        return f"unknown: no texts of an earlier year published by {as_of.isoformat()}"
    return f"compared with {max(earlier)}"


def series_anomalies(
    search: Search, catalog: Catalog, series_id: str, year: int, as_of: dt.date | None = None
) -> SeriesAnomalies:
    """Departures of season `year` from the norms of the previous recorded years, as of
    `as_of` (default: today), formula changes included where texts allow.
    Raises NotFound for an unknown series, InvalidInput for an impossible year."""
    check_year(year)
    view = series_view(search, catalog, series_id, as_of)
    counts = year_formula_counts(search, catalog, view)
    basis = formula_basis(counts, year, view.as_of)
    if basis.startswith("unknown"):
        # No texts to compare: fall back, for every year alike, to the facts' summaries,
        # and say so, rather than report nothing or mix texts with paraphrases.
        summaries = summary_formula_counts(catalog, view)
        fallback = formula_basis(summaries, year, view.as_of)
        if not fallback.startswith("unknown"):
            counts = summaries
            basis = (
                f"{fallback}, from the event summaries in the series facts (paraphrases "
                f"quoting the readouts; {basis.removeprefix('unknown: ')})"
            )
    review = review_year(catalog.events[view.series.id], year, view.as_of, formula_counts=counts)
    return SeriesAnomalies(
        series=view.series,
        review=review,
        formula_counts=counts,
        formulas=basis,
        statements=view.year(year).statements,
    )
