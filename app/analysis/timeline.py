"""Timelines: a formula's or query's hits per period, set against how much text the
corpus holds in that period, so a rise in mentions is not mistaken for a rise in text.

A period with no corpus text is reported as such (`has_corpus=False`, rates None),
never as zero: "we hold nothing for 2011" is not "nobody said it in 2011".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

Granularity = Literal["year", "month"]

_YEAR = re.compile(r"^\d{4}$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEARS = re.compile(r"\d{4}(?:\n\d{4})*")
_MONTHS = re.compile(r"\d{4}-(?:0[1-9]|1[0-2])(?:\n\d{4}-(?:0[1-9]|1[0-2]))*")


class HitCounts(NamedTuple):
    """Hits in one period: statements with at least one hit, and occurrences."""

    statements: int
    occurrences: int


class CorpusCounts(NamedTuple):
    """What the corpus holds in one period: statements and tokens."""

    statements: int
    tokens: int


class TimelineRow(NamedTuple):
    """One period of a timeline (a named tuple: a formula timeline makes hundreds, and
    a frozen dataclass costs ten times more to build).

    `per_10k_tokens` is occurrences per 10,000 corpus tokens; `share_of_statements` is
    the share of the period's statements with at least one hit. Both are None when
    `has_corpus` is False. `smoothed_per_10k` is the centred moving average (None when
    not smoothing or when the period has no corpus), and `smoothed_over` the number of
    periods that average was taken over (fewer at the edges and around gaps).
    """

    period: str
    statements: int
    occurrences: int
    corpus_statements: int
    corpus_tokens: int
    per_10k_tokens: float | None
    share_of_statements: float | None
    has_corpus: bool
    smoothed_per_10k: float | None = None
    smoothed_over: int = 0


def period_of(day: dt.date, granularity: Granularity) -> str:
    """The period label of `day`: 'YYYY' for 'year', 'YYYY-MM' for 'month'.

    Raises ValueError for an unknown granularity.
    """
    if granularity == "year":
        return f"{day.year:04d}"
    if granularity == "month":
        return f"{day.year:04d}-{day.month:02d}"
    raise ValueError(f"granularity must be 'year' or 'month', got {granularity!r}")


def periods_between(start: dt.date, end: dt.date, granularity: Granularity) -> list[str]:
    """Every period label from the one holding `start` to the one holding `end`, in order.

    Both ends are included. Raises ValueError if `end` is before `start` or the
    granularity is unknown.
    """
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    if granularity == "year":
        return [f"{y:04d}" for y in range(start.year, end.year + 1)]
    if granularity == "month":
        first = start.year * 12 + start.month - 1
        last = end.year * 12 + end.month - 1
        return [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in range(first, last + 1)]
    raise ValueError(f"granularity must be 'year' or 'month', got {granularity!r}")


def _check_periods(periods: Sequence[str]) -> None:
    if not periods:
        return
    # One regex over all the labels first: a timeline checks every period's label.
    joined = "\n".join(periods)
    if not (_YEARS.fullmatch(joined) or _MONTHS.fullmatch(joined)):
        bad = [p for p in periods if not (_YEAR.match(p) or _MONTH.match(p))]
        if bad:
            raise ValueError(f"period labels must be 'YYYY' or 'YYYY-MM'; got {bad[0]!r}")
    if len({len(p) for p in periods}) > 1:
        raise ValueError("periods mix years and months; use one granularity")
    if len(set(periods)) != len(periods):
        raise ValueError("periods are repeated")
    if list(periods) != sorted(periods):
        raise ValueError("periods must be in chronological order")


def moving_average(values: Sequence[float | None], window: int) -> list[tuple[float | None, int]]:
    """Centred moving average of `values` over an odd `window`, skipping None values.

    Returns, for each position, (mean, n): the unweighted mean of the non-None values
    within window // 2 positions either side, and how many values it took. A None input
    stays (None, 0): a period without text gets no invented rate. At the edges and around
    gaps the window is truncated rather than padded, so `n` says how much support each
    point has. Raises ValueError unless `window` is a positive odd integer.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"smoothing window must be a positive odd number, got {window}")
    half = window // 2
    out: list[tuple[float | None, int]] = []
    for i, value in enumerate(values):
        if value is None:
            out.append((None, 0))
            continue
        near = [v for v in values[max(0, i - half) : i + half + 1] if v is not None]
        out.append((sum(near) / len(near), len(near)))
    return out


def build_timeline(
    periods: Sequence[str],
    hits: Mapping[str, HitCounts | tuple[int, int]],
    corpus: Mapping[str, CorpusCounts | tuple[int, int]],
    *,
    smoothing: int | None = None,
) -> list[TimelineRow]:
    """Rows for `periods` (labels from `periods_between`, in order) from hit and corpus counts.

    `hits` maps a period to (statements with a hit, occurrences); `corpus` maps a period
    to (statements, tokens). A period absent from `corpus`, or with zero statements
    there, has no corpus: its rates are None and `has_corpus` False. A period absent
    from `hits` had no hits. Counts for periods outside `periods` are ignored.

    `smoothing=N` (odd) adds a centred moving average of `per_10k_tokens`. It is the
    unweighted mean of the rates of the periods with corpus inside the window: periods
    without corpus are skipped, not counted as zero, and the window is truncated at the
    edges (see `moving_average`). Unweighted, so one period with much more text does not
    swamp its neighbours; a reader wanting the pooled rate can sum the raw columns.

    Raises ValueError on malformed or unordered period labels, negative counts, hits in
    a period without corpus, more hit statements than corpus statements, corpus
    statements without tokens, or an even smoothing window.
    """
    _check_periods(periods)
    rows: list[TimelineRow] = []
    append = rows.append
    none = (0, 0)
    # One pass with plain tuples: this runs for every period of every formula timeline.
    for period in periods:
        h_st, h_occ = hits.get(period, none)
        c_st, c_tok = corpus.get(period, none)
        if h_st < 0 or h_occ < 0 or c_st < 0 or c_tok < 0:
            raise ValueError(f"negative count for period {period}")
        if h_occ < h_st:
            raise ValueError(f"period {period}: fewer occurrences than statements with a hit")
        has_corpus = c_st > 0
        if has_corpus != (c_tok > 0):
            raise ValueError(f"period {period}: corpus statements and tokens disagree")
        if not has_corpus and h_st:
            raise ValueError(f"period {period}: hits reported where the corpus holds no text")
        if h_st > c_st:
            raise ValueError(f"period {period}: more statements with hits than in the corpus")
        append(
            TimelineRow(
                period,
                h_st,
                h_occ,
                c_st,
                c_tok,
                h_occ * 10_000 / c_tok if has_corpus else None,
                h_st / c_st if has_corpus else None,
                has_corpus,
            )
        )
    if smoothing is None:
        return rows
    smoothed = moving_average([r.per_10k_tokens for r in rows], smoothing)
    return [
        TimelineRow(
            period=r.period,
            statements=r.statements,
            occurrences=r.occurrences,
            corpus_statements=r.corpus_statements,
            corpus_tokens=r.corpus_tokens,
            per_10k_tokens=r.per_10k_tokens,
            share_of_statements=r.share_of_statements,
            has_corpus=r.has_corpus,
            smoothed_per_10k=mean,
            smoothed_over=n,
        )
        for r, (mean, n) in zip(rows, smoothed, strict=True)
    ]
