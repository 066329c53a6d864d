"""Exact counts on the real corpus slices, against the independent brute-force model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.model import Statement
from indexer.query import Phrase
from indexer.search import Search
from indexer.text import terms
from tests import bruteforce

# Formulas, pairs of common words, rare names, Chinese and Russian phrases.
PHRASES = [
    "strategic partnership",
    "comprehensive strategic partnership",
    "strategic interaction",
    "comprehensive partnership and strategic interaction",
    "good-neighbourliness",
    "good neighbourliness and friendly cooperation",
    "new era",
    "multipolar world",
    "strategic stability",
    "Shanghai Cooperation Organisation",
    "Belt and Road",
    "win-win cooperation",
    "core interests",
    "United Nations",
    "Security Council",
    "sustainable development",
    "international peace and security",
    "of the",
    "in the",
    "to the",
    "and the",
    "it is",
    "we are",
    "the",
    "China’s",
    "Russia's",
    "Hu Jintao",
    "Xi Jinping",
    "Jiang Zemin",
    "Pérez de Cuéllar",
    "Boutros Boutros-Ghali",
    "Nazarbayev",
    "Lukashenko",
    "Kofi Annan",
    "Dag Hammarskjöld",
    "新时代",
    "中俄",
    "人类命运共同体",
    "改革开放",
    "中国特色社会主义",
    "高质量发展",
    "一带一路",
    "人民",
    "经济",
    "政府工作报告",
    "全面建成小康社会",
    "Ёлка",
    "Россия",
    "1999",
    "2020",
]


@pytest.fixture(scope="module", params=["native", "native-deferred", "tantivy"])
def matcher_search(request: pytest.FixtureRequest, slice_data_dir: Path) -> Iterator[Search]:
    """The slices' index searched through each plain-phrase matcher in turn: the native
    extension (also matching every phrase statement by statement, its rows read when
    asked) and the tantivy package (skipped, or failed under CI, without the first)."""
    from indexer.backends.embedded import EmbeddedBackend
    from tests.support.native import require_native

    native = request.param.startswith("native")
    if native:
        require_native()
    backend = EmbeddedBackend(
        slice_data_dir / "index",
        native=native,
        deferred_from=0 if request.param == "native-deferred" else None,
    )
    yield Search(backend)
    backend.close()


@pytest.mark.parametrize("phrase", PHRASES)
def test_totals_and_years_equal_brute_force(
    phrase: str, slices: list[Statement], matcher_search: Search
) -> None:
    slice_search = matcher_search
    rows = [(s.id, s.date.year, p.text) for s in slices for p in s.passages]
    expected = bruteforce.count(rows, phrase)
    node = Phrase(tuple(terms(phrase)))
    totals = slice_search.totals(slice_search.ranked(node))
    assert (totals.statements, totals.passages, totals.occurrences) == (
        expected["statements"],
        expected["passages"],
        expected["occurrences"],
    )
    if not expected["statements"]:
        return
    timeline = {
        int(p.period): (p.statements, p.occurrences)
        for p in slice_search.timeline(node, _all(), "year")
        if p.statements
    }
    assert timeline == expected["per_year"]


def _all():  # type: ignore[no-untyped-def]
    from indexer.query import MatchAll

    return MatchAll()


def test_statement_and_passage_counts(slices: list[Statement], slice_search: Search) -> None:
    metas = slice_search.backend.statements()
    assert len(metas) == len(slices)
    assert sum(m.passages for m in metas) == sum(len(s.passages) for s in slices)
    assert sum(m.tokens for m in metas) == sum(
        len(bruteforce.tokens(p.text)) for s in slices for p in s.passages
    )


def test_new_era_in_government_work_reports(slice_search: Search) -> None:
    from indexer.query import And, FieldIs

    node = And((Phrase(tuple(terms("新时代中国特色社会主义"))), FieldIs("lang", "zh")))
    years = [p.period for p in slice_search.timeline(node, FieldIs("lang", "zh")) if p.statements]
    assert years and years[0] == "2018"
