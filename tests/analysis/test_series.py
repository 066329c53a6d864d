"""Series: season years, as-of filtering, norms from recorded years, and the seed
commentary's analysis reproduced (and corrected) from the real facts file."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.analysis.series import (
    Anomaly,
    Event,
    by_season_year,
    day_in_season,
    month_day,
    norms,
    review_year,
    season_year,
)
from app.analysis.series import (
    anomalies as find_anomalies,
)
from app.analysis.series_def import load_facts

FACTS = Path(__file__).parent / "data" / "china_russia_new_year_exchanges.jsonl"
EVENTS = load_facts(FACTS)

Row = tuple[str, str | None, str, str, int, int, bool]


def _rows(found: Sequence[Anomaly]) -> list[Row]:
    return [
        (a.kind, a.level, a.description, a.norm_text, a.support, a.total, a.provisional)
        for a in found
    ]


@pytest.mark.parametrize(
    ("day", "year", "offset", "label"),
    [
        (dt.date(2019, 12, 31), 2019, 0, "Dec 31"),
        (dt.date(2020, 12, 28), 2020, -3, "Dec 28"),
        (dt.date(2021, 1, 2), 2020, 2, "Jan 2"),
        (dt.date(2021, 1, 15), 2020, 15, "Jan 15"),
        (dt.date(2021, 1, 16), 2021, -349, "Jan 16"),
        (dt.date(2021, 6, 1), 2021, -213, "Jun 1"),
    ],
)
def test_season_year(day: dt.date, year: int, offset: int, label: str) -> None:
    assert season_year(day) == year
    assert day_in_season(day) == offset
    assert month_day(offset) == label


def test_facts_group_by_season_year_and_2023_is_absent() -> None:
    grouped = by_season_year(EVENTS)
    assert {y: len(e) for y, e in grouped.items()} == {
        2016: 2,
        2017: 2,
        2018: 3,
        2019: 2,
        2020: 4,
        2021: 2,
        2022: 2,
        2024: 1,
        2025: 1,
    }


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (dt.date(2020, 12, 27), 0),
        (dt.date(2020, 12, 29), 1),
        (dt.date(2020, 12, 31), 4),
    ],
)
def test_as_of_counts_only_published_events(as_of: dt.date, expected: int) -> None:
    assert len(by_season_year(EVENTS, as_of).get(2020, ())) == expected


def test_published_date_overrides_event_date() -> None:
    late = dataclasses.replace(EVENTS[0], published=dt.date(2017, 1, 3))
    assert by_season_year([late], dt.date(2017, 1, 2)) == {}
    assert by_season_year([late], dt.date(2017, 1, 3)) == {2016: (late,)}


def test_norms_from_the_four_years_before_2020() -> None:
    history = [e for e in EVENTS if season_year(e.date) < 2020]
    got = norms(history)
    assert got.years == (2016, 2017, 2018, 2019)
    assert got.unknown_years == ()
    heads = got.level("heads of state")
    assert heads is not None
    assert heads.text() == "4 of 4 previous recorded years: messages on Dec 31"
    assert heads.combo_years("messages", -1) == 3  # the Kremlin's Dec 30 round-ups
    premiers = got.level("heads of government")
    assert premiers is not None
    assert (premiers.years, premiers.text()) == (
        (2016, 2018),
        "2 of 4 previous recorded years: messages on Dec 31",
    )
    assert got.level("foreign ministers") is None
    assert got.usual_levels() == ("heads of state", "heads of government")
    assert got.usual_levels(min_share=0.75) == ("heads of state",)


def test_norms_with_an_unrecorded_year() -> None:
    got = norms(e for e in EVENTS if season_year(e.date) < 2025)
    assert got.years == (2016, 2017, 2018, 2019, 2020, 2021, 2022, 2024)
    assert got.unknown_years == (2023,)


PROVISIONAL = " (provisional: the usual date, Dec 31 2020, is after as of 2020-12-29)"

SEED_2020_12_29: list[Row] = [
    (
        "channel",
        "heads of state",
        "heads-of-state exchange by phone call instead of messages" + PROVISIONAL,
        "messages in 4 of 4 previous recorded years with a heads-of-state exchange (2016–2019)",
        4,
        4,
        True,
    ),
    (
        "timing",
        "heads of state",
        "heads-of-state phone call on Dec 28: 3 days before the usual Dec 31" + PROVISIONAL,
        "Dec 31 in 4 of 4 previous recorded years with a heads-of-state exchange (2016–2019)",
        4,
        4,
        True,
    ),
    (
        "missing_level",
        "heads of government",
        "no heads-of-government exchange recorded as of 2020-12-29" + PROVISIONAL,
        "a heads-of-government exchange in 2 of 4 previous recorded years (2016, 2018)",
        2,
        4,
        True,
    ),
]

SEED_2021_01_02: list[Row] = [
    (
        "addition",
        "heads of state",
        "heads-of-state phone call on Dec 28 in addition to the usual messages on Dec 31",
        "phone call on Dec 28 in 0 of 4 previous recorded years",
        0,
        4,
        False,
    ),
    (
        "addition",
        "foreign ministers",
        "foreign-ministers messages on Dec 31: the first foreign-ministers exchange on record",
        "no foreign-ministers exchange in any of 4 previous recorded years (2016–2019)",
        0,
        4,
        False,
    ),
]


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [(dt.date(2020, 12, 29), SEED_2020_12_29), (dt.date(2021, 1, 2), SEED_2021_01_02)],
)
def test_seed_commentary_reproduced_as_of(as_of: dt.date, expected: list[Row]) -> None:
    assert _rows(find_anomalies(EVENTS, 2020, as_of)) == expected


def test_after_dec_31_the_usual_exchanges_are_confirmed() -> None:
    review = review_year(EVENTS, 2020, dt.date(2021, 1, 2))
    assert review.recorded
    assert review.previous_years == (2016, 2017, 2018, 2019)
    assert [
        (c.level, c.description, c.norm_text, c.support, c.total) for c in review.confirmations
    ] == [
        (
            "heads of state",
            "heads-of-state messages on Dec 31, as usual",
            "4 of 4 previous recorded years: messages on Dec 31",
            4,
            4,
        ),
        (
            "heads of government",
            "heads-of-government messages on Dec 31, as usual",
            "2 of 4 previous recorded years: messages on Dec 31",
            2,
            4,
        ),
    ]
    (call,) = review.anomalies[0].evidence
    assert (call.date, call.channel) == (dt.date(2020, 12, 28), "phone call")


def test_evidence_and_precedents() -> None:
    (channel, _, missing) = find_anomalies(EVENTS, 2020, dt.date(2020, 12, 29))
    assert [e.date for e in channel.evidence] == [dt.date(2020, 12, 28)]
    assert [e.date.isoformat() for e in missing.precedents] == ["2016-12-31", "2018-12-31"]


@pytest.mark.parametrize(
    ("year", "as_of", "recorded", "unknown", "kinds"),
    [
        # 2023 is not in the facts: unknown, so nothing is "missing".
        (2023, dt.date(2026, 1, 31), False, (), []),
        # Before anything of 2020 was published, 2020 is unknown too.
        (2020, dt.date(2020, 12, 27), False, (), []),
        (2021, dt.date(2026, 1, 31), True, (), []),
        (2024, dt.date(2026, 1, 31), True, (2023,), ["missing_level"]),
        # The first recorded year has no norms to depart from.
        (2016, dt.date(2026, 1, 31), True, (), []),
    ],
)
def test_review_years(
    year: int, as_of: dt.date, recorded: bool, unknown: tuple[int, ...], kinds: list[str]
) -> None:
    review = review_year(EVENTS, year, as_of)
    assert review.recorded is recorded
    assert review.unknown_years == unknown
    assert [a.kind for a in review.anomalies] == kinds


def test_2024_missing_premiers_counts_only_recorded_years() -> None:
    (missing,) = find_anomalies(EVENTS, 2024, dt.date(2026, 1, 31))
    assert missing.norm_text == (
        "a heads-of-government exchange in 5 of 7 previous recorded years "
        "(2016, 2018, 2020, 2021, 2022)"
    )
    assert (missing.support, missing.total, missing.provisional) == (5, 7, False)


def test_window_limits_the_norms() -> None:
    review = review_year(EVENTS, 2020, dt.date(2020, 12, 29), window=2)
    assert review.previous_years == (2018, 2019)
    assert _rows(review.anomalies)[2][3] == (
        "a heads-of-government exchange in 1 of 2 previous recorded years (2018)"
    )


def test_timing_shift_after_the_usual_day() -> None:
    base = [
        Event(dt.date(y, 12, 31), "heads of state", "messages", ("Xi Jinping", "Vladimir Putin"))
        for y in (2016, 2017, 2018)
    ]
    late = Event(
        dt.date(2020, 1, 2), "heads of state", "messages", ("Xi Jinping", "Vladimir Putin")
    )
    (timing,) = find_anomalies([*base, late], 2019, dt.date(2020, 1, 10))
    assert (timing.kind, timing.description, timing.provisional) == (
        "timing",
        "heads-of-state messages on Jan 2: 2 days after the usual Dec 31",
        False,
    )


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        (
            {
                2018: {"new-era": 1},
                2019: {"new-era": 1, "strategic-stability": 2},
                2020: {"new-type-of-international-relations": 1, "new-era": 1},
            },
            [
                (
                    "formula_dropped",
                    "formula 'strategic-stability' absent in 2020; 2 occurrences in 2019, "
                    "the previous recorded year",
                    1,
                    2,
                ),
                (
                    "formula_added",
                    "formula 'new-type-of-international-relations' used in 2020 (1 occurrence), "
                    "absent in 2019, the previous recorded year",
                    0,
                    2,
                ),
            ],
        ),
        # No counts for 2019: compare with 2018, the previous year that has counts.
        (
            {2018: {"core-interests": 1}, 2020: {}},
            [
                (
                    "formula_dropped",
                    "formula 'core-interests' absent in 2020; 1 occurrence in 2018, "
                    "the previous recorded year",
                    1,
                    1,
                )
            ],
        ),
        ({2020: {"new-era": 1}}, []),
    ],
)
def test_formula_anomalies(
    counts: dict[int, dict[str, int]], expected: list[tuple[str, str, int, int]]
) -> None:
    found = find_anomalies(EVENTS, 2020, dt.date(2021, 1, 2), formula_counts=counts)
    got = [
        (a.kind, a.description, a.support, a.total) for a in found if a.kind.startswith("formula")
    ]
    assert got == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window"),
        ({"min_share": 0.0}, "min_share"),
        ({"min_share": 1.5}, "min_share"),
    ],
)
def test_review_year_errors(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        review_year(EVENTS, 2020, dt.date(2021, 1, 2), **kwargs)  # type: ignore[arg-type]
