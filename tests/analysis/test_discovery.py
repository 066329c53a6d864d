"""Discovery: recurring n-grams across years, and keyness (G2, log ratio) checked
against values computed by hand."""

from __future__ import annotations

import math

import pytest

from app.analysis.discovery import (
    join_tokens,
    keyness,
    log_likelihood,
    log_ratio,
    recurring_ngrams,
)
from indexer.text import terms

# 2x2 tables (a, b, c, d) = (term in target, term in reference, target size, reference size).
# 2-term: E1 = c(a+b)/(c+d), E2 = d(a+b)/(c+d); G2 = 2(a ln(a/E1) + b ln(b/E2)).
# (10, 5, 1000, 2000): E1 = 5, E2 = 10 → G2 = 2(10 ln 2 + 5 ln 0.5) = 10 ln 2.
# (0, 20, 500, 500): E1 = E2 = 10 → G2 = 2(20 ln 2) = 40 ln 2.
# 4-term adds the other tokens: (990, 1995) against (995, 1990); (500, 480) against (490, 490).
G2_CASES = [
    (10, 5, 1000, 2000, "2-term", 10 * math.log(2)),
    (0, 20, 500, 500, "2-term", 40 * math.log(2)),
    (7, 7, 100, 100, "2-term", 0.0),
    (
        10,
        5,
        1000,
        2000,
        "4-term",
        2
        * (
            10 * math.log(2)
            + 5 * math.log(0.5)
            + 990 * math.log(990 / 995)
            + 1995 * math.log(1995 / 1990)
        ),
    ),
    (
        0,
        20,
        500,
        500,
        "4-term",
        2 * (20 * math.log(2) + 500 * math.log(500 / 490) + 480 * math.log(480 / 490)),
    ),
]


@pytest.mark.parametrize(("a", "b", "c", "d", "variant", "expected"), G2_CASES)
def test_log_likelihood_matches_hand_computation(
    a: int, b: int, c: int, d: int, variant: str, expected: float
) -> None:
    assert log_likelihood(a, b, c, d, variant=variant) == pytest.approx(expected, abs=1e-9)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "c", "d", "expected"),
    [
        (10, 5, 1000, 2000, 6.931471805599453),
        (10, 5, 1000, 2000, 6.931471805599453),
        (0, 20, 500, 500, 27.725887222397812),
    ],
)
def test_log_likelihood_literal_values(a: int, b: int, c: int, d: int, expected: float) -> None:
    assert log_likelihood(a, b, c, d) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "c", "d", "expected"),
    [
        (10, 5, 1000, 2000, 2.0),  # 1% against 0.25%: four times as frequent
        (5, 10, 1000, 1000, -1.0),
        (0, 20, 500, 500, math.log2(0.5 / 20)),  # zero replaced by 0.5
        (8, 0, 100, 100, math.log2(8 / 0.5)),
    ],
)
def test_log_ratio(a: int, b: int, c: int, d: int, expected: float) -> None:
    assert log_ratio(a, b, c, d) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((11, 5, 10, 2000), {}),
        ((-1, 5, 10, 2000), {}),
        ((0, 0, 0, 0), {}),
        ((1, 1, 10, 10), {"variant": "3-term"}),
    ],
)
def test_log_likelihood_errors(args: tuple[int, int, int, int], kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        log_likelihood(*args, **kwargs)  # type: ignore[arg-type]


def test_keyness_sorts_filters_and_signs() -> None:
    target = {"era": 10, "the": 600, "vaccine": 0, "treaty": 3}
    reference = {"era": 5, "the": 800, "vaccine": 20}
    # Corpus sizes given explicitly (the mappings hold only some terms); "treaty" is
    # under min_freq. G2: the ≈ 54.9, vaccine = 40 ln 1.5 ≈ 16.2, era = 10 ln 2 ≈ 6.9.
    got = keyness(
        target, reference, min_freq=5, direction="both", target_tokens=1000, reference_tokens=2000
    )
    assert [(k.term, k.direction) for k in got] == [
        ("the", "over"),
        ("vaccine", "under"),
        ("era", "over"),
    ]
    assert got[1].log_likelihood == pytest.approx(40 * math.log(1.5))
    era = got[2]
    assert era.log_likelihood == pytest.approx(10 * math.log(2))
    assert era.log_ratio == pytest.approx(2.0)
    assert (era.per_10k_target, era.per_10k_reference) == (100.0, 25.0)
    over = keyness(target, reference, target_tokens=1000, reference_tokens=2000)
    assert [k.term for k in over] == ["the", "era"]
    strong = keyness(
        target, reference, min_log_likelihood=10.83, target_tokens=1000, reference_tokens=2000
    )
    assert [k.term for k in strong] == ["the"]


def test_keyness_needs_tokens() -> None:
    with pytest.raises(ValueError, match="tokens"):
        keyness({}, {"a": 1})


def _docs(*items: tuple[int, str]) -> list[tuple[int, list[str]]]:
    return [(year, terms(text)) for year, text in items]


@pytest.mark.parametrize(
    ("documents", "min_years", "expected"),
    [
        (
            _docs(
                (2017, "the comprehensive strategic partnership of coordination grew"),
                (2018, "our comprehensive strategic partnership of coordination"),
                (2019, "a comprehensive strategic partnership and new era"),
                (2019, "a new era dawned"),
            ),
            2,
            [
                # "comprehensive strategic partnership" is in 3 years: kept although a
                # longer n-gram contains it, because that one has smaller support.
                ("comprehensive strategic partnership", 3, ((2017, 1), (2018, 1), (2019, 1))),
                ("comprehensive strategic partnership of coordination", 2, ((2017, 1), (2018, 1))),
            ],
        ),
        (
            _docs(
                (2016, "新时代的伙伴关系"),
                (2019, "进入新时代"),
                (2019, "新时代新时代"),
                (2020, "没有"),
            ),
            2,
            [("新时代", 2, ((2016, 1), (2019, 3)))],
        ),
        # Same year twice does not make a recurring n-gram.
        (_docs((2020, "no limits at all"), (2020, "no limits")), 2, []),
        (
            _docs((2020, "no limits at all"), (2020, "no limits")),
            1,
            [("no limits at all", 1, ((2020, 1),))],
        ),
    ],
)
def test_recurring_ngrams(
    documents: list[tuple[int, list[str]]],
    min_years: int,
    expected: list[tuple[str, int, tuple[tuple[int, int], ...]]],
) -> None:
    got = recurring_ngrams(documents, min_years=min_years)
    assert [(g.text, g.support, g.per_year) for g in got] == expected


def test_recurring_ngrams_respects_length_bounds() -> None:
    docs = _docs((2017, "a b c d e f g h i"), (2018, "a b c d e f g h i"))
    # Three 7-grams cover the 9 tokens; every shorter n-gram inside them has the same
    # support and goes.
    assert [len(g.tokens) for g in recurring_ngrams(docs, min_n=2, max_n=3)] == [3] * 7
    assert [g.text for g in recurring_ngrams(docs)] == [
        "a b c d e f g",
        "b c d e f g h",
        "c d e f g h i",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"min_years": 0}, "min_years"), ({"min_n": 3, "max_n": 2}, "min_n")]
)
def test_recurring_ngrams_errors(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        recurring_ngrams([], **kwargs)


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (("新", "时", "代"), "新时代"),
        (("new", "era"), "new era"),
        (("g20", "峰", "会"), "g20 峰会"),
    ],
)
def test_join_tokens(tokens: tuple[str, ...], expected: str) -> None:
    assert join_tokens(tokens) == expected
