"""Timelines: periods, rates, periods without corpus, and smoothing."""

from __future__ import annotations

import datetime as dt

import pytest

from app.analysis.timeline import (
    CorpusCounts,
    HitCounts,
    build_timeline,
    moving_average,
    period_of,
    periods_between,
)


@pytest.mark.parametrize(
    ("start", "end", "granularity", "expected"),
    [
        (dt.date(2016, 12, 31), dt.date(2019, 1, 1), "year", ["2016", "2017", "2018", "2019"]),
        (dt.date(2020, 5, 5), dt.date(2020, 5, 6), "year", ["2020"]),
        (
            dt.date(2019, 11, 30),
            dt.date(2020, 2, 1),
            "month",
            ["2019-11", "2019-12", "2020-01", "2020-02"],
        ),
        (dt.date(2020, 1, 1), dt.date(2020, 1, 31), "month", ["2020-01"]),
    ],
)
def test_periods_between(
    start: dt.date, end: dt.date, granularity: str, expected: list[str]
) -> None:
    assert periods_between(start, end, granularity) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "granularity", "expected"),
    [(dt.date(2020, 12, 28), "year", "2020"), (dt.date(2020, 3, 1), "month", "2020-03")],
)
def test_period_of(day: dt.date, granularity: str, expected: str) -> None:
    assert period_of(day, granularity) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((dt.date(2020, 1, 2), dt.date(2020, 1, 1), "year"), "before start"),
        ((dt.date(2020, 1, 1), dt.date(2020, 1, 2), "week"), "granularity"),
    ],
)
def test_periods_between_errors(args: tuple[dt.date, dt.date, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        periods_between(*args)  # type: ignore[arg-type]


def test_rows_report_no_corpus_periods_as_unknown_not_zero() -> None:
    rows = build_timeline(
        ["2010", "2011", "2012"],
        hits={"2010": HitCounts(2, 3), "2012": (1, 1)},
        corpus={"2010": CorpusCounts(10, 30_000), "2012": (4, 5_000)},
    )
    assert [(r.period, r.has_corpus, r.per_10k_tokens, r.share_of_statements) for r in rows] == [
        ("2010", True, 1.0, 0.2),
        ("2011", False, None, None),
        ("2012", True, 2.0, 0.25),
    ]
    assert rows[1].statements == rows[1].occurrences == rows[1].corpus_tokens == 0


def test_period_with_corpus_and_no_hits_is_zero() -> None:
    (row,) = build_timeline(["2015"], hits={}, corpus={"2015": (3, 900)})
    assert (row.has_corpus, row.per_10k_tokens, row.share_of_statements) == (True, 0.0, 0.0)


def test_months_and_ignored_outside_counts() -> None:
    rows = build_timeline(
        periods_between(dt.date(2020, 12, 1), dt.date(2021, 1, 31), "month"),
        hits={"2020-12": (1, 2), "2019-01": (5, 5)},
        corpus={"2020-12": (2, 1_000), "2021-01": (1, 500), "2019-01": (9, 9_000)},
    )
    assert [(r.period, r.per_10k_tokens) for r in rows] == [("2020-12", 20.0), ("2021-01", 0.0)]


@pytest.mark.parametrize(
    ("values", "window", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 1, [(1.0, 1), (2.0, 1), (3.0, 1), (4.0, 1)]),
        # Edges are truncated windows: the first point averages itself and its right neighbour.
        ([1.0, 2.0, 3.0, 4.0], 3, [(1.5, 2), (2.0, 3), (3.0, 3), (3.5, 2)]),
        # A gap stays a gap and is skipped by its neighbours' windows.
        ([2.0, None, 4.0, 6.0], 3, [(2.0, 1), (None, 0), (5.0, 2), (5.0, 2)]),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 5, [(2.0, 3), (2.5, 4), (3.0, 5), (3.5, 4), (4.0, 3)]),
        ([None, None], 3, [(None, 0), (None, 0)]),
        ([], 3, []),
    ],
)
def test_moving_average(
    values: list[float | None], window: int, expected: list[tuple[float | None, int]]
) -> None:
    assert moving_average(values, window) == expected


@pytest.mark.parametrize("window", [0, 2, -3])
def test_moving_average_rejects_even_or_non_positive_windows(window: int) -> None:
    with pytest.raises(ValueError, match="odd"):
        moving_average([1.0], window)


def test_smoothing_skips_no_corpus_periods() -> None:
    rows = build_timeline(
        ["2010", "2011", "2012", "2013"],
        hits={"2010": (1, 1), "2012": (1, 3), "2013": (1, 5)},
        corpus={"2010": (1, 10_000), "2012": (1, 10_000), "2013": (1, 10_000)},
        smoothing=3,
    )
    assert [(r.period, r.smoothed_per_10k, r.smoothed_over) for r in rows] == [
        ("2010", 1.0, 1),
        ("2011", None, 0),
        ("2012", 4.0, 2),
        ("2013", 4.0, 2),
    ]


@pytest.mark.parametrize(
    ("periods", "hits", "corpus", "message"),
    [
        (["2020", "2019"], {}, {}, "chronological"),
        (["2020", "2020-01"], {}, {}, "mix"),
        (["20"], {}, {}, "YYYY"),
        (["2020", "2020"], {}, {}, "repeated"),
        (["2020"], {"2020": (1, 1)}, {}, "holds no text"),
        (["2020"], {"2020": (3, 3)}, {"2020": (2, 100)}, "more statements"),
        (["2020"], {"2020": (2, 1)}, {"2020": (2, 100)}, "fewer occurrences"),
        (["2020"], {}, {"2020": (2, 0)}, "disagree"),
        (["2020"], {"2020": (-1, 0)}, {"2020": (2, 10)}, "negative"),
    ],
)
def test_build_timeline_errors(
    periods: list[str],
    hits: dict[str, tuple[int, int]],
    corpus: dict[str, tuple[int, int]],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        build_timeline(periods, hits, corpus)
