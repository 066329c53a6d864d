"""Diffs: word ops with offsets (English and Chinese), sentences, passages, formulas,
metadata, and round-up addressees."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app.analysis.diff import (
    Addressee,
    FormulaCount,
    MetadataChange,
    compare_addressees,
    diff_sentences,
    diff_statements,
    formula_changes,
    metadata_changes,
    sentence_spans,
    word_ops,
)
from app.analysis.series import Event
from app.analysis.series_def import load_facts
from indexer.model import Passage

FACTS = Path(__file__).parent / "data" / "china_russia_new_year_exchanges.jsonl"

Op = tuple[str, int, int, int, int]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (
            "Relations have entered a new era.",
            "Relations have entered a new stage.",
            [("equal", 0, 28, 0, 28), ("replace", 29, 32, 29, 34)],
        ),
        (
            "We will deepen cooperation.",
            "We will further deepen cooperation.",
            [("equal", 0, 7, 0, 7), ("insert", 7, 7, 8, 15), ("equal", 8, 26, 16, 34)],
        ),
        (
            "We will further deepen cooperation.",
            "We will deepen cooperation.",
            [("equal", 0, 7, 0, 7), ("delete", 8, 15, 7, 7), ("equal", 16, 34, 8, 26)],
        ),
        # Inserted at the very start: the caret is at the first token of A.
        ("friendly ties", "Very friendly ties", [("insert", 0, 0, 0, 4), ("equal", 0, 13, 5, 18)]),
        # Case and punctuation are not changes under the matching model.
        ("New Era!", "new era", [("equal", 0, 7, 0, 7)]),
        ("", "", []),
        (
            "中俄关系进入新时代。",
            "中俄关系进入新阶段。",
            [("equal", 0, 7, 0, 7), ("replace", 7, 9, 7, 9)],
        ),
        (
            "双方深化合作",
            "双方进一步深化合作",
            [("equal", 0, 2, 0, 2), ("insert", 2, 2, 2, 5), ("equal", 2, 6, 5, 9)],
        ),
        (
            "构建新型国际关系和人类命运共同体",
            "构建人类命运共同体",
            [("equal", 0, 2, 0, 2), ("delete", 2, 9, 2, 2), ("equal", 9, 16, 2, 9)],
        ),
    ],
)
def test_word_ops(a: str, b: str, expected: list[Op]) -> None:
    ops = word_ops(a, b)
    assert [(o.op, o.a_start, o.a_end, o.b_start, o.b_end) for o in ops] == expected
    for o in ops:
        assert (o.a_text, o.b_text) == (a[o.a_start : o.a_end], b[o.b_start : o.b_end])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Xi said it. Putin agreed! 2020 was hard.",
            ["Xi said it.", "Putin agreed!", "2020 was hard."],
        ),
        (
            "Mr Putin met U.S. officials. Then he left.",
            ["Mr Putin met U.S. officials.", "Then he left."],
        ),
        (
            "He said: “It is a new era.” Then he left.",
            ["He said: “It is a new era.”", "Then he left."],
        ),
        ("两国关系进入新时代。双方将继续合作！", ["两国关系进入新时代。", "双方将继续合作！"]),
        ("  One sentence without end  ", ["One sentence without end"]),
        ("...", []),
    ],
)
def test_sentence_spans(text: str, expected: list[str]) -> None:
    assert [text[s:e] for s, e in sentence_spans(text)] == expected


def test_diff_sentences_aligns_changed_and_added_sentences() -> None:
    a = "Relations have entered a new era. We signed a joint statement."
    b = (
        "Relations have entered a new stage. 2020 has been an unprecedented year. "
        "We signed a joint statement."
    )
    got = diff_sentences(a, b)
    assert [(s.status, s.a_span, s.b_span) for s in got] == [
        ("changed", (0, 33), (0, 35)),
        ("added", None, (36, 72)),
        ("equal", (34, 62), (73, 101)),
    ]
    assert [(o.op, o.a_text, o.b_text) for o in got[0].ops] == [
        ("equal", "Relations have entered a new", "Relations have entered a new"),
        ("replace", "era", "stage"),
    ]
    # Offsets are into the whole passage text, not the sentence.
    (added,) = got[1].ops
    assert (added.op, added.b_text, added.a_start, added.a_end) == (
        "insert",
        "2020 has been an unprecedented year",
        32,
        32,
    )


def test_diff_sentences_chinese() -> None:
    a = "两国关系进入新时代。双方签署联合声明。"
    b = "双方签署联合声明。两国关系进入新阶段。"
    got = diff_sentences(a, b)
    # Order-preserving alignment: the moved sentence is paired, the other is removed/added.
    assert [(s.status, s.a_span, s.b_span) for s in got] == [
        ("removed", (0, 10), None),
        ("equal", (10, 19), (0, 9)),
        ("added", None, (9, 19)),
    ]


P = Passage


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # Similarity alignment: a changed passage, an added one, a removed one.
        (
            [
                P(0, "Dear friend, happy New Year."),
                P(1, "Trade grew by a fifth."),
                P(2, "Best wishes to you."),
            ],
            [
                P(0, "Dear friend, happy New Year to you."),
                P(1, "Best wishes to you."),
                P(2, "Vaccines are ready."),
            ],
            [
                ("changed", 0, 0, "similarity"),
                ("removed", 1, None, None),
                ("equal", 2, 1, "similarity"),
                ("added", None, 2, None),
            ],
        ),
        # Addressees pair passages whatever their text; unnamed passages go by similarity.
        (
            [
                P(0, "The President sent greetings to foreign leaders."),
                P(1, "Relations are developing dynamically.", "President of China Xi Jinping"),
                P(2, "The alliance is strong.", "President of Belarus Alexander Lukashenko"),
                P(3, "Constructive dialogue will continue.", "President of France Emmanuel Macron"),
            ],
            [
                P(0, "The President sent New Year greetings to foreign leaders."),
                P(1, "The Union State is developing.", "President of Belarus Alexander Lukashenko"),
                P(2, "Gas flows via the eastern route.", "President of China Xi Jinping"),
                P(3, "BRICS presidency was constructive.", "President of Brazil Jair Bolsonaro"),
            ],
            [
                ("changed", 0, 0, "similarity"),
                ("changed", 2, 1, "addressee"),
                # France follows the pair holding A's previous passage (Belarus).
                ("removed", 3, None, None),
                ("changed", 1, 2, "addressee"),
                ("added", None, 3, None),
            ],
        ),
        # Similarity pairs moved passages too (round-ups reorder their addressees).
        (
            [
                P(0, "Greetings to Armenia: the alliance is strong."),
                P(1, "Greetings to Brazil: BRICS is growing."),
            ],
            [
                P(0, "Greetings to Brazil: the BRICS presidency went well."),
                P(1, "Greetings to Armenia: the alliance is strong and growing."),
            ],
            [("changed", 1, 0, "similarity"), ("changed", 0, 1, "similarity")],
        ),
        ([], [P(0, "Only in B.")], [("added", None, 0, None)]),
        ([P(0, "Only in A.")], [], [("removed", 0, None, None)]),
        # Too different to be versions of each other.
        (
            [P(0, "Trade grew by a fifth.")],
            [P(0, "Vaccines are ready now.")],
            [("removed", 0, None, None), ("added", None, 0, None)],
        ),
    ],
)
def test_diff_statements(
    a: list[Passage],
    b: list[Passage],
    expected: list[tuple[str, int | None, int | None, str | None]],
) -> None:
    got = diff_statements(a, b)
    assert [(p.status, p.a_number, p.b_number, p.aligned_by) for p in got.passages] == expected


def test_diff_statements_word_ops_point_into_passages() -> None:
    got = diff_statements([P(0, "中俄关系进入新时代。")], [P(0, "中俄关系进入新阶段。")])
    (passage,) = got.passages
    assert passage.status == "changed"
    assert got.count("changed") == 1
    (sentence,) = passage.sentences
    assert [(o.op, o.a_text, o.b_text) for o in sentence.ops] == [
        ("equal", "中俄关系进入新", "中俄关系进入新"),
        ("replace", "时代", "阶段"),
    ]


@pytest.mark.parametrize(
    ("a", "b", "added", "dropped", "kept"),
    [
        (
            {"new-era": 1, "strategic-stability": 2, "core-interests": 0},
            {"core-interests": 1, "strategic-stability": 1, "treaty-of-good-neighbourliness": 1},
            [
                FormulaCount("core-interests", 0, 1),
                FormulaCount("treaty-of-good-neighbourliness", 0, 1),
            ],
            [FormulaCount("new-era", 1, 0)],
            [FormulaCount("strategic-stability", 2, 1)],
        ),
        ({}, {}, [], [], []),
    ],
)
def test_formula_changes(
    a: dict[str, int],
    b: dict[str, int],
    added: list[FormulaCount],
    dropped: list[FormulaCount],
    kept: list[FormulaCount],
) -> None:
    got = formula_changes(a, b)
    assert (list(got.added), list(got.dropped), list(got.kept)) == (added, dropped, kept)


def test_formula_changes_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="'new-era' in B"):
        formula_changes({}, {"new-era": -1})


def _event(date: str, level: str) -> Event:
    return next(e for e in load_facts(FACTS) if e.date.isoformat() == date and e.level == level)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (
            ("2019-12-31", "heads of state"),
            ("2020-12-28", "heads of state"),
            [
                MetadataChange(
                    "date", "2019-12-31", "2020-12-28", "3 days earlier (Dec 31 → Dec 28)"
                ),
                MetadataChange(
                    "channel", "messages", "phone call", "channel: messages → phone call"
                ),
            ],
        ),
        (
            ("2018-12-31", "heads of government"),
            ("2020-12-31", "heads of government"),
            [
                MetadataChange(
                    "participants",
                    "Li Keqiang, Dmitry Medvedev",
                    "Li Keqiang, Mikhail Mishustin",
                    "participants: now Mikhail Mishustin; no longer Dmitry Medvedev",
                )
            ],
        ),
        # Same year and occasion, different level and sender order: a set, so no change.
        (
            ("2019-12-30", "heads of state"),
            ("2019-12-31", "heads of state"),
            [MetadataChange("date", "2019-12-30", "2019-12-31", "1 day later (Dec 30 → Dec 31)")],
        ),
    ],
)
def test_metadata_changes(
    a: tuple[str, str], b: tuple[str, str], expected: list[MetadataChange]
) -> None:
    assert metadata_changes(_event(*a), _event(*b)) == expected


def test_metadata_changes_across_new_year() -> None:
    class Dated:
        def __init__(self, date: dt.date) -> None:
            self.date = date

    (change,) = metadata_changes(Dated(dt.date(2019, 12, 31)), Dated(dt.date(2021, 1, 2)))
    assert change.description == "2 days later (Dec 31 → Jan 2)"


def test_compare_addressees_by_country_then_name() -> None:
    a: list[Addressee | str] = [
        Addressee("President of France Emmanuel Macron", "France"),
        Addressee("President of Brazil Michel Temer", "Brazil"),
        "Prime Minister of Japan Shinzo Abe",
    ]
    b: list[Addressee | str] = [
        Addressee("President of Brazil Jair Bolsonaro", "brazil"),
        "prime minister of Japan Shinzo Abe",
        Addressee("President of Argentina Alberto Fernandez", "Argentina"),
    ]
    got = compare_addressees(a, b)
    assert [(m.a.name, m.b.name, m.by) for m in got.both] == [
        ("President of Brazil Michel Temer", "President of Brazil Jair Bolsonaro", "country"),
        ("Prime Minister of Japan Shinzo Abe", "prime minister of Japan Shinzo Abe", "name"),
    ]
    assert [x.name for x in got.only_a] == ["President of France Emmanuel Macron"]
    assert [x.name for x in got.only_b] == ["President of Argentina Alberto Fernandez"]


@pytest.mark.parametrize(
    ("a", "b", "only_a", "only_b", "both"),
    [
        ([], [], [], [], 0),
        (["A", "A"], ["A"], ["A"], [], 1),
        ([Addressee("X", "Chile")], [Addressee("X")], [], [], 1),
    ],
)
def test_compare_addressees_edges(
    a: list[Addressee | str],
    b: list[Addressee | str],
    only_a: list[str],
    only_b: list[str],
    both: int,
) -> None:
    got = compare_addressees(a, b)
    assert [x.name for x in got.only_a] == only_a
    assert [x.name for x in got.only_b] == only_b
    assert len(got.both) == both


def test_keys_pair_round_up_passages_by_country() -> None:
    from indexer.model import Passage

    a = [Passage(0, "In his message to President of Armenia Serzh Sargsyan, hope.", "Sargsyan")]
    b = [Passage(0, "Greetings to Armenian President Armen Sarkissian, hope.", "Sarkissian")]
    unkeyed = diff_statements(a, b)
    keyed = diff_statements(a, b, keys=(["country Armenia"], ["country Armenia"]))
    # By name the two messages are one removed and one added; by country, one pair.
    assert sorted(p.status for p in unkeyed.passages) == ["added", "removed"]
    assert [(p.a_number, p.b_number, p.aligned_by) for p in keyed.passages] == [(0, 0, "addressee")]
