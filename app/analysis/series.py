"""Recurring exchanges (series): events grouped by season year, the norms learned from
the previous recorded years, and a year's departures from them, all "as of" a date.

Three rules make the analysis honest and reproducible:

* As of: an event counts only once published (`published`, or its `date` when the
  publication date is unknown) on or before `as_of`. The same facts replayed with an
  earlier `as_of` give what could have been said then.
* Season year: a New Year exchange belongs to the year it closes. Events dated
  January 1–15 count for the previous year (a greeting sent late, or dated in Moscow
  or Beijing after midnight, is still that year's exchange); `SEASON_CUTOFF_DAY`.
* Unknown years: a year with no recorded event is unknown, never "no exchange took
  place". Norms are learned only from years that have records, and supports read
  "n of m previous recorded years". Within a recorded year, a usual level without a
  record is reported as missing *from the record*, provisionally if its usual date is
  still ahead of `as_of`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from app.analysis.diff import formula_changes

LEVELS = ("heads of state", "heads of government", "foreign ministers")
CHANNELS = ("messages", "phone call")
SEASON_CUTOFF_DAY = 15
DEFAULT_MIN_SHARE = 0.5

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_K = TypeVar("_K", str, int)

AnomalyKind = Literal[
    "channel", "timing", "missing_level", "addition", "formula_dropped", "formula_added"
]


@dataclass(frozen=True, slots=True)
class Report:
    """One outlet's report of an event."""

    outlet: str
    url: str | None = None
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Event:
    """One exchange of a series: who, when, by which channel, and who reported it.

    `published` is when it became public, if later than `date`; `statement_ids` link to
    statements in the corpus holding its text.
    """

    date: dt.date
    level: str
    channel: str
    participants: tuple[str, ...]
    occasion: str = "new-year"
    summary: str = ""
    reported_by: tuple[Report, ...] = ()
    initiated_by: str | None = None
    published: dt.date | None = None
    statement_ids: tuple[str, ...] = ()
    note: str | None = None

    @property
    def published_on(self) -> dt.date:
        """When the event became public: `published`, or `date` where that is unknown."""
        return self.published or self.date


@dataclass(frozen=True, slots=True)
class LevelNorm:
    """How one level's exchange usually went in the previous recorded years.

    `years`: the recorded years in which the level appears, out of `total` recorded
    years. `channel`/`day` are the usual channel and day (days from Dec 31 of the
    season year: 0 is Dec 31, -1 Dec 30, +1 Jan 1), with the number of the level's
    years that used them. `combos` counts the years using each (channel, day).
    """

    level: str
    years: tuple[int, ...]
    total: int
    channel: str
    channel_years: int
    day: int
    day_years: int
    combos: tuple[tuple[str, int, int], ...]

    @property
    def present(self) -> int:
        """In how many of the recorded years the level appears."""
        return len(self.years)

    def combo_years(self, channel: str, day: int) -> int:
        """In how many years the level used `channel` on `day`."""
        return next((n for c, d, n in self.combos if c == channel and d == day), 0)

    def text(self) -> str:
        """The norm in words, e.g. '4 of 4 previous recorded years: messages on Dec 31'."""
        same = self.channel_years == self.day_years == self.present
        head = f"{self.present} of {self.total} previous recorded years"
        if same:
            return f"{head}: {self.channel} on {month_day(self.day)}"
        return (
            f"{head}; {self.channel} in {self.channel_years} of them, "
            f"on {month_day(self.day)} in {self.day_years}"
        )


@dataclass(frozen=True, slots=True)
class Norms:
    """What was usual, learned from the recorded years `years` only.

    `unknown_years` are the years between the first and last recorded year that have
    no record: they are neither counted for nor against any norm.
    """

    years: tuple[int, ...]
    unknown_years: tuple[int, ...]
    levels: tuple[LevelNorm, ...]

    def level(self, name: str) -> LevelNorm | None:
        """The norm of level `name`, or None if it never appears in the recorded years."""
        return next((n for n in self.levels if n.level == name), None)

    def usual_levels(self, min_share: float = DEFAULT_MIN_SHARE) -> tuple[str, ...]:
        """Levels present in at least `min_share` of the recorded years."""
        return tuple(n.level for n in self.levels if n.present >= min_share * n.total)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A departure of one year from the norm.

    `evidence`: the year's events behind the finding; `precedents`: the previous
    years' events the norm was learned from. `support` of `total` says how usual the
    norm is (for an addition: how often the added thing happened before). `provisional`
    is True when the usual date is still after `as_of`, so the finding may yet change.
    """

    kind: AnomalyKind
    level: str | None
    description: str
    evidence: tuple[Event, ...]
    norm_text: str
    support: int
    total: int
    provisional: bool = False
    precedents: tuple[Event, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Something that happened as usual (the counterpart of an Anomaly)."""

    level: str
    description: str
    evidence: tuple[Event, ...]
    norm_text: str
    support: int
    total: int


@dataclass(frozen=True, slots=True)
class YearReview:
    """One season year against its norms, as of a date.

    `recorded` is False when the year has no event known by `as_of`: it is unknown,
    and no level is reported missing. `previous_years` are the recorded years the
    norms come from; `unknown_years` the unrecorded years since the first of them.
    """

    year: int
    as_of: dt.date
    recorded: bool
    events: tuple[Event, ...]
    previous_years: tuple[int, ...]
    unknown_years: tuple[int, ...]
    norms: Norms
    confirmations: tuple[Confirmation, ...]
    anomalies: tuple[Anomaly, ...]


# ---------------------------------------------------------------------------------------
# Dates


def season_year(day: dt.date) -> int:
    """The occasion year an event belongs to: January 1–15 count for the previous year."""
    if day.month == 1 and day.day <= SEASON_CUTOFF_DAY:
        return day.year - 1
    return day.year


def day_in_season(day: dt.date) -> int:
    """Days from Dec 31 of the event's season year: Dec 28 is -3, Dec 31 0, Jan 2 +2."""
    return (day - dt.date(season_year(day), 12, 31)).days


def season_date(year: int, day: int) -> dt.date:
    """The calendar date `day` days from Dec 31 of season year `year`."""
    return dt.date(year, 12, 31) + dt.timedelta(days=day)


def month_day(day: int) -> str:
    """A season day in words ('Dec 31', 'Jan 2'); leap years aside, the year does not matter."""
    d = season_date(2001, day)
    return f"{_MONTHS[d.month - 1]} {d.day}"


def known_by(events: Iterable[Event], as_of: dt.date) -> list[Event]:
    """The events public on or before `as_of`, in date order."""
    return sorted((e for e in events if e.published_on <= as_of), key=_event_order)


def by_season_year(
    events: Iterable[Event], as_of: dt.date | None = None
) -> dict[int, tuple[Event, ...]]:
    """Events grouped by season year (ascending), keeping only those known by `as_of`
    when given. Years without events are absent: they are unknown, not empty."""
    chosen = known_by(events, as_of) if as_of else sorted(events, key=_event_order)
    grouped: dict[int, list[Event]] = {}
    for e in chosen:
        grouped.setdefault(season_year(e.date), []).append(e)
    return {y: tuple(grouped[y]) for y in sorted(grouped)}


def _event_order(e: Event) -> tuple[dt.date, int, str]:
    rank = LEVELS.index(e.level) if e.level in LEVELS else len(LEVELS)
    return e.date, rank, e.channel


def _years_text(years: Sequence[int]) -> str:
    if not years:
        return "none"
    if len(years) > 2 and list(years) == list(range(years[0], years[-1] + 1)):
        return f"{years[0]}–{years[-1]}"
    return ", ".join(str(y) for y in years)


def _level_name(level: str) -> str:
    return level.replace(" ", "-")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------------
# Norms


def _usual(counter: Counter[_K], latest: Mapping[_K, int]) -> _K:
    # Ties go to what was done most recently, then to the larger value (later day).
    return max(counter, key=lambda k: (counter[k], latest[k], k))


def norms(history: Iterable[Event]) -> Norms:
    """Learn the norms from `history`: every event given counts as a previous event.

    For each level seen: the recorded years it appears in, its usual channel and usual
    day (each counted once per year, most years wins; ties go to the more recent), and
    how many years used each (channel, day). Years between the first and last recorded
    year without an event are returned as unknown.
    """
    grouped = by_season_year(history)
    years = tuple(grouped)
    unknown = tuple(y for y in range(years[0], years[-1] + 1) if y not in grouped) if years else ()
    levels: list[str] = []
    for evs in grouped.values():
        for e in evs:
            if e.level not in levels:
                levels.append(e.level)
    levels.sort(key=lambda lv: LEVELS.index(lv) if lv in LEVELS else len(LEVELS))
    out: list[LevelNorm] = []
    for level in levels:
        present: list[int] = []
        channels: Counter[str] = Counter()
        days: Counter[int] = Counter()
        combos: Counter[tuple[str, int]] = Counter()
        latest_channel: dict[str, int] = {}
        latest_day: dict[int, int] = {}
        for y, evs in grouped.items():
            mine = [e for e in evs if e.level == level]
            if not mine:
                continue
            present.append(y)
            for c in {e.channel for e in mine}:
                channels[c] += 1
                latest_channel[c] = y
            for d in {day_in_season(e.date) for e in mine}:
                days[d] += 1
                latest_day[d] = y
            combos.update({(e.channel, day_in_season(e.date)) for e in mine})
        channel = _usual(channels, latest_channel)
        day = _usual(days, latest_day)
        out.append(
            LevelNorm(
                level=level,
                years=tuple(present),
                total=len(years),
                channel=channel,
                channel_years=channels[channel],
                day=day,
                day_years=days[day],
                combos=tuple(sorted((c, d, n) for (c, d), n in combos.items())),
            )
        )
    return Norms(years=years, unknown_years=unknown, levels=tuple(out))


# ---------------------------------------------------------------------------------------
# One year against the norms


def review_year(
    events: Iterable[Event],
    year: int,
    as_of: dt.date,
    *,
    formula_counts: Mapping[int, Mapping[str, int]] | None = None,
    window: int | None = None,
    min_share: float = DEFAULT_MIN_SHARE,
) -> YearReview:
    """Compare season year `year` with the previous recorded years, as of `as_of`.

    `events` are one series' events. Only those public by `as_of` count, for the year
    and for its norms. `window`
    limits the norms to the last N recorded years before `year`. A level is usual when
    present in at least `min_share` of those years. For each usual level:

    * its usual (channel, day) took place → a Confirmation; any other event of the
      level on a (channel, day) not itself usual → an 'addition' anomaly;
    * it has events, none the usual one → a 'channel' anomaly if none used the usual
      channel, a 'timing' anomaly (shift in days of the nearest event) if none was on
      the usual day;
    * it has no event → a 'missing_level' anomaly (missing from the record).

    Events of a level that is not usual (or never seen) are 'addition' anomalies.
    `formula_counts` (season year → formula id → occurrences; the caller counts only
    statements public by `as_of`) adds 'formula_dropped'/'formula_added' anomalies
    against the latest earlier year that has counts. A year with no event known by
    `as_of` is unknown: `recorded=False`, and only formula findings are made; so is
    every level of the first recorded year, which has no norms to depart from.
    Raises ValueError if `window` is not positive or `min_share` is not in (0, 1].
    """
    if window is not None and window < 1:
        raise ValueError(f"window must be a positive number of years, got {window}")
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
    grouped = by_season_year(events, as_of)
    previous = [y for y in grouped if y < year]
    if window is not None:
        previous = previous[-window:]
    history = [e for y in previous for e in grouped[y]]
    nrm = norms(history)
    unknown = tuple(y for y in range(previous[0], year) if y not in grouped) if previous else ()
    this = grouped.get(year, ())
    confirmations: list[Confirmation] = []
    found: list[Anomaly] = []
    # With no earlier recorded year there is no norm to depart from: nothing to say.
    if this and previous:
        seen = [lv for lv in LEVELS if lv in {e.level for e in this}]
        seen += sorted({e.level for e in this} - set(LEVELS))
        levels = [n.level for n in nrm.levels] + [lv for lv in seen if nrm.level(lv) is None]
        for level in levels:
            mine = tuple(e for e in this if e.level == level)
            precedents = tuple(e for e in history if e.level == level)
            _review_level(
                level, mine, precedents, nrm, year, as_of, min_share, confirmations, found
            )
    if formula_counts is not None:
        found.extend(_formula_anomalies(formula_counts, year))
    return YearReview(
        year=year,
        as_of=as_of,
        recorded=bool(this),
        events=this,
        previous_years=tuple(previous),
        unknown_years=unknown,
        norms=nrm,
        confirmations=tuple(confirmations),
        anomalies=tuple(found),
    )


def anomalies(
    events: Iterable[Event],
    year: int,
    as_of: dt.date,
    *,
    formula_counts: Mapping[int, Mapping[str, int]] | None = None,
    window: int | None = None,
    min_share: float = DEFAULT_MIN_SHARE,
) -> list[Anomaly]:
    """The anomalies of `review_year` (same arguments, same rules, same errors)."""
    review = review_year(
        events, year, as_of, formula_counts=formula_counts, window=window, min_share=min_share
    )
    return list(review.anomalies)


def _describe(e: Event) -> str:
    return f"{e.channel} on {month_day(day_in_season(e.date))}"


def _review_level(
    level: str,
    mine: tuple[Event, ...],
    precedents: tuple[Event, ...],
    nrm: Norms,
    year: int,
    as_of: dt.date,
    min_share: float,
    confirmations: list[Confirmation],
    found: list[Anomaly],
) -> None:
    name = _level_name(level)
    ln = nrm.level(level)
    total = len(nrm.years)
    if ln is None or ln.present < min_share * ln.total:
        present = ln.present if ln else 0
        where = f"({_years_text(ln.years)})" if ln else f"({_years_text(nrm.years)})"
        norm_text = (
            f"a {name} exchange in {present} of {total} previous recorded years {where}"
            if present
            else f"no {name} exchange in any of {total} previous recorded years {where}"
        )
        what = f"the first {name} exchange on record" if not present else "an unusual addition"
        for e in mine:
            found.append(
                Anomaly(
                    kind="addition",
                    level=level,
                    description=f"{name} {_describe(e)}: {what}",
                    evidence=(e,),
                    norm_text=norm_text,
                    support=present,
                    total=total,
                    precedents=precedents,
                )
            )
        return
    usual_date = season_date(year, ln.day)
    provisional = as_of < usual_date
    pending = (
        f" (provisional: the usual date, {month_day(ln.day)} {usual_date.year}, "
        f"is after as of {as_of.isoformat()})"
        if provisional
        else ""
    )
    if not mine:
        found.append(
            Anomaly(
                kind="missing_level",
                level=level,
                description=f"no {name} exchange recorded as of {as_of.isoformat()}{pending}",
                evidence=(),
                norm_text=(
                    f"a {name} exchange in {ln.present} of {ln.total} previous recorded years "
                    f"({_years_text(ln.years)})"
                ),
                support=ln.present,
                total=ln.total,
                provisional=provisional,
                precedents=precedents,
            )
        )
        return
    main = [e for e in mine if e.channel == ln.channel and day_in_season(e.date) == ln.day]
    if main:
        for e in mine:
            d = day_in_season(e.date)
            n = ln.combo_years(e.channel, d)
            if e in main or n >= min_share * ln.present:
                confirmations.append(
                    Confirmation(
                        level=level,
                        description=f"{name} {_describe(e)}, as usual",
                        evidence=(e,),
                        norm_text=f"{n} of {ln.total} previous recorded years: {_describe(e)}",
                        support=n,
                        total=ln.total,
                    )
                )
                continue
            found.append(
                Anomaly(
                    kind="addition",
                    level=level,
                    description=(
                        f"{name} {_describe(e)} in addition to the usual "
                        f"{ln.channel} on {month_day(ln.day)}"
                    ),
                    evidence=(e,),
                    norm_text=f"{_describe(e)} in {n} of {ln.total} previous recorded years",
                    support=n,
                    total=ln.total,
                    precedents=precedents,
                )
            )
        return
    if not any(e.channel == ln.channel for e in mine):
        used = " and ".join(sorted({e.channel for e in mine}))
        found.append(
            Anomaly(
                kind="channel",
                level=level,
                description=f"{name} exchange by {used} instead of {ln.channel}{pending}",
                evidence=mine,
                norm_text=(
                    f"{ln.channel} in {ln.channel_years} of {ln.present} previous recorded "
                    f"years with a {name} exchange ({_years_text(ln.years)})"
                ),
                support=ln.channel_years,
                total=ln.present,
                provisional=provisional,
                precedents=precedents,
            )
        )
    if not any(day_in_season(e.date) == ln.day for e in mine):
        nearest = min(
            mine,
            key=lambda e: (abs(day_in_season(e.date) - ln.day), e.channel != ln.channel),
        )
        shift = day_in_season(nearest.date) - ln.day
        when = f"{_plural(abs(shift), 'day')} {'before' if shift < 0 else 'after'}"
        found.append(
            Anomaly(
                kind="timing",
                level=level,
                description=(
                    f"{name} {_describe(nearest)}: {when} the usual {month_day(ln.day)}{pending}"
                ),
                evidence=(nearest,),
                norm_text=(
                    f"{month_day(ln.day)} in {ln.day_years} of {ln.present} previous recorded "
                    f"years with a {name} exchange ({_years_text(ln.years)})"
                ),
                support=ln.day_years,
                total=ln.present,
                provisional=provisional,
                precedents=precedents,
            )
        )


def _formula_anomalies(counts: Mapping[int, Mapping[str, int]], year: int) -> list[Anomaly]:
    if year not in counts:
        return []
    earlier = sorted(y for y in counts if y < year)
    if not earlier:
        return []
    prev = earlier[-1]
    changes = formula_changes(counts[prev], counts[year])

    def used_in(fid: str) -> int:
        return sum(1 for y in earlier if counts[y].get(fid, 0) > 0)

    out: list[Anomaly] = []
    for fc in changes.dropped:
        k = used_in(fc.formula_id)
        out.append(
            Anomaly(
                kind="formula_dropped",
                level=None,
                description=(
                    f"formula {fc.formula_id!r} absent in {year}; "
                    f"{_plural(fc.count_a, 'occurrence')} in {prev}, the previous recorded year"
                ),
                evidence=(),
                norm_text=f"used in {k} of {len(earlier)} earlier years with counts",
                support=k,
                total=len(earlier),
            )
        )
    for fc in changes.added:
        k = used_in(fc.formula_id)
        out.append(
            Anomaly(
                kind="formula_added",
                level=None,
                description=(
                    f"formula {fc.formula_id!r} used in {year} "
                    f"({_plural(fc.count_b, 'occurrence')}), absent in {prev}, "
                    "the previous recorded year"
                ),
                evidence=(),
                norm_text=f"used in {k} of {len(earlier)} earlier years with counts",
                support=k,
                total=len(earlier),
            )
        )
    return out
