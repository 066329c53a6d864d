"""Diffs as queries: one statement against another (passages, sentences, words, formulas
with the passages carrying them, metadata, addressees), and one season year of a series
against another as of a date (events, timing against the usual day, formulas, the main
statements, and for round-ups who was greeted).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from app.analysis.diff import (
    AddresseeComparison,
    FormulaChanges,
    FormulaCount,
    MetadataChange,
    StatementDiff,
    compare_addressees,
    diff_statements,
    formula_changes,
    metadata_changes,
)
from app.analysis.lexicon import Formula
from app.analysis.series import (
    LEVELS,
    Event,
    by_season_year,
    day_in_season,
    month_day,
    norms,
)
from app.services.formulas import occurrences_by_passage
from app.services.series import (
    Catalog,
    SeriesStatement,
    SeriesYear,
    check_year,
    formula_basis,
    roundup_addressees,
    series_view,
    year_formula_counts,
)
from indexer.backends.base import statement_key
from indexer.errors import InvalidInput, NotFound
from indexer.model import Passage, Statement
from indexer.search import Search

# ---- statement against statement -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormulaPassages:
    """A formula's occurrences in A and B, and the passages carrying them
    (passage number, occurrences)."""

    formula_id: str
    count_a: int
    count_b: int
    passages_a: tuple[tuple[int, int], ...]
    passages_b: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class FormulaDiff:
    """Formulas in B only (added), A only (dropped) and both (kept), each by id."""

    added: tuple[FormulaPassages, ...]
    dropped: tuple[FormulaPassages, ...]
    kept: tuple[FormulaPassages, ...]


@dataclass(frozen=True, slots=True)
class StatementComparison:
    """Statement A (the earlier) against B; `addressees` only when both are round-ups.
    `passages_a`/`passages_b` are the passages compared (all, or a series' share)."""

    a: Statement
    b: Statement
    passages_a: tuple[Passage, ...]
    passages_b: tuple[Passage, ...]
    diff: StatementDiff
    formulas: FormulaDiff
    metadata: tuple[MetadataChange, ...]
    addressees: AddresseeComparison | None


def _load(search: Search, statement_id: str) -> Statement:
    st = search.backend.statement(statement_id)
    if st is None:
        raise NotFound(f"no statement with id {statement_id!r}")
    return st


def _only(passages: Iterable[Passage], wanted: frozenset[int] | None) -> tuple[Passage, ...]:
    return tuple(p for p in passages if wanted is None or p.number in wanted)


def formula_diff(
    search: Search,
    formulas: Sequence[Formula],
    a: tuple[str, frozenset[int] | None],
    b: tuple[str, frozenset[int] | None],
) -> FormulaDiff:
    """Formula changes between two statements (id, passages or None for all)."""
    ka, kb = statement_key(a[0]), statement_key(b[0])
    cells = occurrences_by_passage(search, formulas, {ka: a[1], kb: b[1]})

    def side(fid: str, key: int) -> tuple[tuple[int, int], ...]:
        return tuple(sorted((p, n) for (k, p), n in cells[fid].items() if k == key))

    rows = {f.id: (side(f.id, ka), side(f.id, kb)) for f in formulas}
    changes: FormulaChanges = formula_changes(
        {fid: sum(n for _, n in pa) for fid, (pa, _) in rows.items()},
        {fid: sum(n for _, n in pb) for fid, (_, pb) in rows.items()},
    )

    def expand(items: Iterable[FormulaCount]) -> tuple[FormulaPassages, ...]:
        return tuple(
            FormulaPassages(fc.formula_id, fc.count_a, fc.count_b, *rows[fc.formula_id])
            for fc in items
        )

    return FormulaDiff(expand(changes.added), expand(changes.dropped), expand(changes.kept))


def _pairing_keys(statement: Statement, passages: Sequence[Passage]) -> list[str | None]:
    """What pairs passages across statements: the addressee's country where the reader
    derived one (people change, countries stay), else the addressee as written."""
    countries: dict[int, str] = {}
    for entry in statement.meta.get("addressees", []) or []:
        if isinstance(entry, dict) and entry.get("country"):
            countries[int(entry["passage"])] = str(entry["country"])
    return [
        f"country {countries[p.number]}" if p.number in countries else p.addressee for p in passages
    ]


def compare_statements(
    search: Search,
    formulas: Sequence[Formula],
    a_id: str,
    b_id: str,
    *,
    passages_a: frozenset[int] | None = None,
    passages_b: frozenset[int] | None = None,
) -> StatementComparison:
    """Diff statement `a_id` (the earlier) against `b_id`, optionally restricted to some
    passages of each. Raises NotFound for an unknown id."""
    a, b = _load(search, a_id), _load(search, b_id)
    pa, pb = _only(a.passages, passages_a), _only(b.passages, passages_b)
    whole = passages_a is None and passages_b is None
    ra = roundup_addressees(search, a.id) if whole else None
    rb = roundup_addressees(search, b.id) if whole else None
    return StatementComparison(
        a=a,
        b=b,
        passages_a=pa,
        passages_b=pb,
        diff=diff_statements(pa, pb, keys=(_pairing_keys(a, pa), _pairing_keys(b, pb))),
        formulas=formula_diff(search, formulas, (a.id, passages_a), (b.id, passages_b)),
        metadata=tuple(metadata_changes(a, b)),
        addressees=compare_addressees(ra, rb) if ra is not None and rb is not None else None,
    )


# ---- season year against season year ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class LevelChange:
    """One level of the exchange in the two years.

    `status`: 'both', 'from only' or 'to only' (a level missing from a recorded year's
    record), or 'unknown' when either year has no record at all. `usual_day` is the
    usual day of the level (days from Dec 31) learned from the recorded years before
    `to`; `shift_*` are each year's main event's days from it.
    """

    level: str
    status: str
    event_from: Event | None
    event_to: Event | None
    usual: str | None
    shift_from: int | None
    shift_to: int | None
    changes: tuple[MetadataChange, ...]


@dataclass(frozen=True, slots=True)
class SeriesDiff:
    """Season year `year_from` against `year_to` of a series, as of a date.

    `formulas` is None when either year has no texts (`formula_basis` says so);
    `formula_counts` are the tracked formulas per season year with texts.
    `statements` diffs the main statements of the two years when both exist.
    `addressees` compares the two years' round-ups when both have one.
    """

    series_id: str
    as_of: dt.date
    year_from: SeriesYear
    year_to: SeriesYear
    levels: tuple[LevelChange, ...]
    formulas: FormulaChanges | None
    formula_basis: str
    formula_counts: Mapping[int, Mapping[str, int]]
    statements: StatementComparison | None
    addressees: AddresseeComparison | None


def _main_event(events: Sequence[Event], level: str, usual_day: int | None) -> Event | None:
    mine = [e for e in events if e.level == level]
    if not mine:
        return None
    # The event on the usual day if there is one, else the earliest.
    return min(mine, key=lambda e: (day_in_season(e.date) != usual_day, e.date))


def _main_statement(year: SeriesYear) -> SeriesStatement | None:
    if year.roundup_id:
        return next(s for s in year.statements if s.meta.id == year.roundup_id)
    return year.statements[0] if year.statements else None


def _levels(
    events: Sequence[Event], year_from: SeriesYear, year_to: SeriesYear, as_of: dt.date
) -> tuple[LevelChange, ...]:
    before = [
        e for y, evs in by_season_year(events, as_of).items() if y < year_to.year for e in evs
    ]
    nrm = norms(before)
    both_recorded = year_from.status == "recorded" and year_to.status == "recorded"
    names = [
        lv for lv in LEVELS if any(e.level == lv for e in (*year_from.events, *year_to.events))
    ]
    names += sorted({e.level for e in (*year_from.events, *year_to.events)} - set(LEVELS))
    out = []
    for level in names:
        ln = nrm.level(level)
        usual = ln.day if ln else None
        ef = _main_event(year_from.events, level, usual)
        et = _main_event(year_to.events, level, usual)
        if not both_recorded:
            status = "unknown"
        else:
            status = "both" if ef and et else "from only" if ef else "to only"
        out.append(
            LevelChange(
                level=level,
                status=status,
                event_from=ef,
                event_to=et,
                usual=f"{ln.channel} on {month_day(ln.day)}" if ln else None,
                shift_from=day_in_season(ef.date) - usual if ef and usual is not None else None,
                shift_to=day_in_season(et.date) - usual if et and usual is not None else None,
                changes=tuple(metadata_changes(ef, et)) if ef and et else (),
            )
        )
    return tuple(out)


def diff_series_years(
    search: Search,
    catalog: Catalog,
    series_id: str,
    year_from: int,
    year_to: int,
    as_of: dt.date | None = None,
) -> SeriesDiff:
    """Compare two season years of a series as of `as_of` (default: today).
    Raises NotFound for an unknown series, InvalidInput for bad years."""
    check_year(year_from)
    check_year(year_to)
    if year_from == year_to:
        raise InvalidInput("from and to must be different years")
    view = series_view(search, catalog, series_id, as_of)
    yf, yt = view.year(year_from), view.year(year_to)
    counts = year_formula_counts(search, catalog, view)
    if year_from in counts and year_to in counts:
        changes: FormulaChanges | None = formula_changes(counts[year_from], counts[year_to])
        basis = f"compared {year_from} with {year_to}"
    else:
        changes = None
        missing = year_from if year_from not in counts else year_to
        basis = formula_basis({}, missing, view.as_of)
    main_f, main_t = _main_statement(yf), _main_statement(yt)
    statements = None
    if main_f and main_t:
        statements = compare_statements(
            search,
            catalog.tracked(view.series) or catalog.formulas,
            main_f.meta.id,
            main_t.meta.id,
            passages_a=main_f.passages,
            passages_b=main_t.passages,
        )
    addressees = None
    if yf.addressees is not None and yt.addressees is not None:
        addressees = compare_addressees(yf.addressees, yt.addressees)
    return SeriesDiff(
        series_id=view.series.id,
        as_of=view.as_of,
        year_from=yf,
        year_to=yt,
        levels=_levels(catalog.events[view.series.id], yf, yt, view.as_of),
        formulas=changes,
        formula_basis=basis,
        formula_counts=counts,
        statements=statements,
        addressees=addressees,
    )
