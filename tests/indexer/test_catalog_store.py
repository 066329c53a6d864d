"""The columnar catalog, the lexicon match store and the metadata sidecar: each checked
against an independent computation (per-statement Python evaluation, a live search, a
fresh read of the index)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.analysis.timeline import period_of
from indexer.backends.base import Matches
from indexer.backends.embedded import EmbeddedBackend
from indexer.catalog import Catalog
from indexer.filtering import evaluate
from indexer.matchstore import MatchStore
from indexer.query import And, DateRange, FieldIs, MatchAll, Node, Not, Or, Phrase
from indexer.search import Search
from tests.conftest import make_statement

FILTERS: list[Node] = [
    MatchAll(),
    FieldIs("lang", "zh"),
    FieldIs("source", "kremlin"),
    FieldIs("kind", "speech"),
    Not(FieldIs("lang", "en")),
    And((FieldIs("lang", "en"), DateRange("date", dt.date(1990, 1, 1), dt.date(2005, 12, 31)))),
    Or((FieldIs("lang", "ru"), DateRange("published", dt.date(2015, 1, 1), None))),
    And((Phrase(("peace",)), FieldIs("lang", "en"))),
]


@pytest.mark.parametrize("filters", FILTERS, ids=repr)
@pytest.mark.parametrize("interval", ["year", "month"])
def test_corpus_by_period_matches_per_statement_evaluation(
    slice_search: Search, filters: Node, interval: str
) -> None:
    metas = slice_search.backend.statements()
    expected: dict[str, list[int]] = {}
    for m in metas:
        if evaluate(filters, m, None, lambda _: True, statement_level=True):
            row = expected.setdefault(period_of(m.date, interval), [0, 0])  # type: ignore[arg-type]
            row[0] += 1
            row[1] += m.tokens
    got = Catalog(metas).corpus_by_period(filters, interval)
    assert {p: list(v) for p, v in got.items()} == expected
    assert expected or filters != MatchAll()


@pytest.mark.parametrize("filters", FILTERS, ids=repr)
def test_turned_away_keys_match_per_statement_evaluation(
    slice_search: Search, filters: Node
) -> None:
    """The keys the native matcher skips: exactly the statements a filter turns away,
    ascending, packed as little-endian int64; None when none is turned away."""
    metas = slice_search.backend.statements()
    away = sorted(
        m.key for m in metas if not evaluate(filters, m, None, lambda _: True, statement_level=True)
    )
    got = Catalog(metas).turned_away(filters)
    assert (None if got is None else np.frombuffer(got, "<i8").tolist()) == (away or None)


@pytest.mark.parametrize(
    ("query", "most"),
    [
        ('"strategic partnership"', False),
        ("the", True),
        ('"of the" kind:speech', True),
        ('"human rights" kind:speech', False),
    ],
)
def test_facets_match_a_counter_over_matching_statements(
    slice_search: Search, query: str, most: bool
) -> None:
    """Counted from the matches' own statements, or (`most`: over a quarter of the
    catalog) from every statement's, weighed by whether it matched."""
    node = slice_search.query(query)
    ranked = slice_search.ranked(node)
    metas = slice_search.backend.statements()
    by_key = {m.key: m for m in metas}
    fields = ("year", "source", "language", "kind")
    expected: dict[str, Counter[str]] = {f: Counter() for f in fields}
    speakers: Counter[str] = Counter()
    for key in ranked.keys:
        m = by_key[key]
        expected["year"][str(m.date.year)] += 1
        expected["source"][m.source] += 1
        expected["language"][m.language] += 1
        expected["kind"][m.kind] += 1
        speakers.update(m.speakers)
    facets = slice_search.facets(ranked)
    assert len(ranked.keys) > 10
    assert (len(ranked.keys) * 4 > len(metas)) == most
    for name, counter in expected.items():
        assert dict(facets[name]) == dict(counter)
    assert dict(facets["speaker"]) == dict(speakers)
    counts = [n for _, n in facets["source"]]
    assert counts == sorted(counts, reverse=True)


def test_statement_keys_are_located_with_and_without_the_extension(
    slice_search: Search, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known keys (ascending, as a match gives them, and shuffled) and unknown ones: the
    same positions, rows and flags through the extension's search as through numpy's,
    and each row holds its key's statement."""
    import indexer.catalog as catalog_module

    metas = slice_search.backend.statements()
    keys = np.array([*sorted(m.key for m in metas)[::3], 1, 2**62], dtype=np.int64)
    shuffled = np.random.default_rng(3).permutation(keys)
    found = {}
    for how in ("native", "numpy"):
        if how == "numpy":
            monkeypatch.setattr(catalog_module, "native_positions", lambda *_: None)
        catalog = Catalog(metas)
        found[how] = [catalog.locate(k) for k in (keys, shuffled)]
        for k, (pos, known, rows) in zip((keys, shuffled), found[how], strict=True):
            assert known.tolist() == [int(x) in {m.key for m in metas} for x in k]
            assert all(metas[r].key == x for r, x, ok in zip(rows, k, known, strict=True) if ok)
            assert (catalog.sorted_keys[pos[known]] == k[known]).all()
    for (pos, known, rows), (pos2, known2, rows2) in zip(
        found["native"], found["numpy"], strict=True
    ):
        # An unknown key's position is masked: only the known ones must agree.
        assert np.array_equal(known, known2) and np.array_equal(rows, rows2)
        assert np.array_equal(pos[known], pos2[known])
        assert not known.all()


def test_orders_match_python_sorts(slice_search: Search) -> None:
    ranked = slice_search.ranked(slice_search.query("peace"))
    by_key = {m.key: m for m in slice_search.backend.statements()}
    idx = range(len(ranked.keys))
    date = [by_key[k].date.toordinal() for k in ranked.keys]
    ids = [by_key[k].id for k in ranked.keys]
    sc = ranked.scores
    assert ranked.orders["relevance"] == sorted(idx, key=lambda i: (-sc[i], -date[i], ids[i]))
    assert ranked.orders["date"] == sorted(idx, key=lambda i: (date[i], ids[i]))
    assert ranked.orders["-date"] == sorted(idx, key=lambda i: (-date[i], ids[i]))


def test_match_store_round_trip_and_guards(tmp_path: Path) -> None:
    store = MatchStore(tmp_path)
    node = Phrase(("new", "era"))
    matches = Matches(
        np.array([3, 3, 9], np.int64),
        np.array([0, 4, 1], np.int32),
        np.array([[1, 0], [2, 1], [0, 5]], np.int32),
    )
    store.save("abc", node, matches)
    fresh = MatchStore(tmp_path)  # nothing in memory: read from disk
    got = fresh.load("abc", node)
    assert got is not None
    assert got.keys.tolist() == [3, 3, 9]
    assert got.passages.tolist() == [0, 4, 1]
    assert got.occurrences.tolist() == [[1, 0], [2, 1], [0, 5]]
    assert fresh.load("other-corpus", node) is None
    assert fresh.load("abc", Phrase(("old", "era"))) is None
    # A truncated file is recomputed, never half read.
    (entry,) = (tmp_path).glob("*/*.bin")
    entry.write_bytes(entry.read_bytes()[:-3])
    assert MatchStore(tmp_path).load("abc", node) is None


def test_match_store_prunes_old_corpus_versions(tmp_path: Path) -> None:
    store = MatchStore(tmp_path)
    node = Phrase(("peace",))
    for n in range(4):
        store.save(f"fp{n}", node, Matches.empty(1))
    assert len([d for d in tmp_path.iterdir() if d.is_dir()]) == 2


def _texts(n: int) -> list[str]:
    return [f"A new era of cooperation, number {i}. The new era begins." for i in range(n)]


def test_stored_lexicon_matches_equal_live_ones_and_never_go_stale(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index")
    backend.write(
        [make_statement(f"s{i}", t, date=f"20{10 + i}-01-01") for i, t in enumerate(_texts(3))]
    )
    node = Phrase(("new", "era"))
    absent = Phrase(("no", "such", "formula"))
    store = MatchStore(tmp_path / "derived")
    first = Search(backend, store=store)
    assert first.warm([node, absent]) == 2
    # Both read from the store, the one that matches nothing too (a fresh store object:
    # nothing held in memory).
    assert Search(backend, store=MatchStore(tmp_path / "derived")).warm([node, absent]) == 0
    stored = Search(backend, store=MatchStore(tmp_path / "derived"))
    stored.persist([node])
    live = Search(backend)
    assert stored.totals(stored.ranked(node)) == live.totals(live.ranked(node))
    assert live.totals(live.ranked(node)).occurrences == 6
    # A write makes a new corpus version: the stored entry is not used for it.
    backend.write([make_statement("s9", "The new era, the new era, the new era.")])
    after = Search(backend, store=MatchStore(tmp_path / "derived"))
    after.persist([node])
    assert after.totals(after.ranked(node)).occurrences == 9
    backend.close()


def _sidecar(path: Path) -> list[dict[str, Any]]:
    """The statements of the metadata sidecar: a header line, then one a line."""
    header, *lines = (path / "tifa-statements.jsonl").read_text().splitlines()
    assert json.loads(header)["statements"] == len(lines)
    return [json.loads(line) for line in lines]


def test_metadata_sidecar_reads_back_every_statement_and_shares_values(tmp_path: Path) -> None:
    """A title with a line break stays on its line; a new process reads the sidecar back
    to the same metadata, with values statements repeat held once; the sidecar of
    earlier versions (one JSON document) is replaced."""
    path = tmp_path / "index"
    writer = EmbeddedBackend(path)
    old = path / "tifa-statements.json"
    writer.write(
        [
            make_statement(f"s{i}", f"Text {i}.", title=f"Line one\nline two {i}", kind="call")
            for i in range(5)
        ]
    )
    old.write_text('{"opstamp": -1, "statements": []}')
    writer.write([make_statement("s9", "More.", kind="call")])
    expected = writer.statements()
    assert not old.exists()
    assert len(_sidecar(path)) == 6
    reader = EmbeddedBackend(path)
    found = reader.statements()
    assert found == expected
    assert found[0].title.startswith("Line one\nline two")
    assert len({id(m.kind) for m in found}) == 1
    assert len({id(m.date) for m in found}) == 1
    writer.close()
    reader.close()


def test_metadata_sidecar_follows_writes(tmp_path: Path) -> None:
    path = tmp_path / "index"
    writer = EmbeddedBackend(path)
    writer.write([make_statement("a", "First text.")])
    assert [m.id for m in writer.statements()] == ["a"]
    assert sorted(m["id"] for m in _sidecar(path)) == ["a"]
    writer.write([make_statement("b", "Second text.", date="2021-01-01")])
    # Another process (here: another backend object) sees the new generation, not the
    # sidecar of the old one.
    reader = EmbeddedBackend(path)
    assert [m.id for m in reader.statements()] == ["a", "b"]
    # A sidecar claiming the current generation is what a new reader uses.
    # (The sidecar keeps the engine's order; statements() sorts by date and id.)
    assert sorted(m["id"] for m in _sidecar(path)) == ["a", "b"]
    writer.close()
    reader.close()
