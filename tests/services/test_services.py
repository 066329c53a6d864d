"""Services over the slice index: formula nodes, exact formula counts, the lexicon and
series caches, and how a series finds its statements."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from app.analysis.series import Event
from app.services import formulas, series
from indexer.errors import NotFound, TifaError
from indexer.model import Statement
from indexer.query import And, FieldIs, Or, Phrase
from indexer.search import Search
from tests import bruteforce

CORPUS = Path(__file__).parents[2] / "corpus"


def test_formula_as_query_nodes() -> None:
    f = formulas.get_formula(formulas.load_lexicon(CORPUS), "new-era")
    assert formulas.formula_node(f) == Or(
        (
            Phrase(("new", "era")),
            Phrase(("新", "时", "代")),
            Phrase(("новая", "эпоха")),
            Phrase(("новой", "эпохи")),
            Phrase(("новую", "эпоху")),
        )
    )
    assert formulas.language_node(f, "zh") == And(
        (Phrase(("新", "时", "代")), FieldIs("lang", "zh"))
    )
    with pytest.raises(NotFound):
        formulas.get_formula(formulas.load_lexicon(CORPUS), "nope")


@pytest.mark.parametrize("statement_id", ["kremlin-62521", "govzh-2018-report", "ungdc-CHN-2017"])
def test_formula_counts_of_a_statement_match_brute_force(
    slice_search: Search, slices: list[Statement], statement_id: str
) -> None:
    lexicon = formulas.load_lexicon(CORPUS)
    (st,) = [s for s in slices if s.id == statement_id]
    got = formulas.formula_counts(slice_search, statement_id, lexicon)
    expected = {
        f.id: sum(
            bruteforce.occurrences(p.text, v)
            for p in st.passages
            for lang in f.languages
            for v in f.variants[lang]
        )
        for f in lexicon
    }
    assert got == expected
    assert any(expected.values())


def test_formula_counts_of_a_query_are_whole_statements(
    slice_search: Search, slices: list[Statement]
) -> None:
    lexicon = formulas.load_lexicon(CORPUS)
    node = FieldIs("lang", "zh")
    got = formulas.formula_counts(slice_search, node, lexicon)
    (f,) = [f for f in lexicon if f.id == "reform-and-opening-up"]
    variants = [v for lang in f.languages for v in f.variants[lang]]
    zh = [p.text for s in slices if s.language == "zh" for p in s.passages]
    assert got["reform-and-opening-up"] == sum(
        bruteforce.occurrences(t, v) for t in zh for v in variants
    )
    with pytest.raises(NotFound):
        formulas.formula_counts(slice_search, "no-such-statement", lexicon)


def test_lexicon_is_cached_until_the_file_changes(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "formulas.yaml", tmp_path / "formulas.yaml")
    first = formulas.load_lexicon(tmp_path)
    assert formulas.load_lexicon(tmp_path) is first
    path = tmp_path / "formulas.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("label: New era", "label: New Era"),
        encoding="utf-8",
    )
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = formulas.load_lexicon(tmp_path)
    assert again is not first
    assert formulas.get_formula(again, "new-era").label == "New Era"
    path.write_text("formulas: [{id: Bad}]", encoding="utf-8")
    with pytest.raises(TifaError, match="invalid"):
        formulas.load_lexicon(tmp_path)
    with pytest.raises(TifaError, match="missing"):
        formulas.load_lexicon(tmp_path / "nowhere")


def test_catalog_loads_series_and_facts() -> None:
    catalog = series.load_catalog(CORPUS)
    assert series.load_catalog(CORPUS) is catalog
    assert [s.id for s in catalog.series] == ["china-russia-new-year", "kremlin-new-year-roundups"]
    assert len(catalog.events["china-russia-new-year"]) == 19
    assert catalog.events["kremlin-new-year-roundups"] == ()
    assert [f.id for f in catalog.tracked(catalog.get("kremlin-new-year-roundups"))][:2] == [
        "comprehensive-strategic-partnership-of-coordination",
        "mutually-beneficial-cooperation",
    ]
    with pytest.raises(NotFound):
        catalog.get("nope")


def test_linked_ids() -> None:
    e = Event(
        dt.date(2017, 12, 30),
        "heads of state",
        "messages",
        ("Vladimir Putin", "Xi Jinping"),
        summary="Round-up. Full text: Kremlin id 56543 in kremlin_en.jsonl.gz.",
        statement_ids=("xinhua-1",),
    )
    assert series.linked_ids(e) == ["xinhua-1", "kremlin-56543"]


def test_series_statements_as_of(slice_search: Search) -> None:
    catalog = series.load_catalog(CORPUS)
    sdef = catalog.get("kremlin-new-year-roundups")
    found = series.series_statements(slice_search, sdef, (), dt.date(2018, 12, 31))
    # The round-ups name their occasion in the title only.
    assert [(s.meta.id, s.link, s.season_year) for s in found] == [("kremlin-56543", "title", 2017)]
    before = series.series_statements(slice_search, sdef, (), dt.date(2017, 12, 29))
    assert before == []


def test_a_year_outside_the_record_is_unknown(slice_search: Search) -> None:
    catalog = series.load_catalog(CORPUS)
    view = series.series_view(
        slice_search, catalog, "kremlin-new-year-roundups", dt.date(2020, 1, 1)
    )
    assert view.year(1990) == series.SeriesYear(1990, "unknown", (), (), None, None)
    counts = series.year_formula_counts(slice_search, catalog, view)
    assert sorted(counts) == [2017, 2019]
    assert series.formula_basis(counts, 2018, view.as_of) == (
        "unknown: no texts of 2018 published by 2020-01-01"
    )
    assert series.formula_basis(counts, 2017, view.as_of) == (
        "unknown: no texts of an earlier year published by 2020-01-01"
    )
    assert series.formula_basis(counts, 2019, view.as_of) == "compared with 2017"
