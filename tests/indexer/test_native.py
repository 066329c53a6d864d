"""The native phrase matcher against the brute-force model and the tantivy package's
answers, on an index built to stress it: a six-word vocabulary (so phrases repeat,
overlap and share words), several segments, rewritten and deleted statements, Russian
passages with lemmas of their own, and statement-level filters."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tantivy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.backends.base import Matches, statement_key
from indexer.backends.embedded import PAIRS, EmbeddedBackend
from indexer.backends.pairs import pair_terms
from indexer.ingest import delete, ingest
from indexer.model import Statement, statement_from_record
from indexer.query import And, DateRange, FieldIs, Node, Phrase
from indexer.search import Search
from indexer.text import terms
from tests import bruteforce
from tests.support.native import require_native

# Function words ("of the" is one pair term), frequent content words ("peace rights" is
# one too), a pair across the two ("the peace": positions) and a word of neither ("b").
VOCAB = ["of", "the", "peace", "rights", "a", "b"]
RUSSIAN = ["мир", "мира", "миру", "народ", "народы", "народов"]


def _statements(rng: random.Random, n: int, tag: str) -> list[Statement]:
    out = []
    for i in range(n):
        russian = i % 7 == 0
        words = RUSSIAN if russian else VOCAB
        paragraphs = [
            " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))
            for _ in range(rng.randint(1, 6))
        ]
        out.append(
            statement_from_record(
                {
                    "id": f"s{i}",
                    "date": f"{1990 + i % 12}-0{1 + i % 9}-1{i % 10}",
                    "text": "\n\n".join(paragraphs) + f" {tag}",
                    "kind": "speech" if i % 2 else "call",
                    "language": "ru" if russian else "en",
                    "source": "test",
                    "license": "CC0",
                }
            )
        )
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Statement]]]:
    """The index (written in several commits: several segments, some deletions) and the
    statements it holds now."""
    require_native()
    path = Path(tmp_path_factory.mktemp("native")) / "index"
    # Written by the tantivy package's writer, whose four threads share each commit's
    # passages between four segments: one statement's passages interleave across
    # segments, as in indexes the native writer wrote before it kept a statement's
    # documents together (the matcher must still sort, the text reader still find all).
    backend = EmbeddedBackend(path, native=False, writer_threads=4)
    rng = random.Random(7)
    first = _statements(rng, 120, "one")
    for start in range(0, len(first), 30):  # a commit per batch: several segments
        assert ingest(backend, iter(first[start : start + 30]), batch_statements=30).ok
    rewritten = _statements(rng, 40, "two")  # s0..s39 again, with new text
    assert ingest(backend, iter(rewritten), batch_statements=40).ok
    assert delete(backend, ["s100", "s101", "s102"]) == 3
    # Several segments, so that matching threads share them (and runs meet in the sort).
    assert len(json.loads((path / "meta.json").read_text())["segments"]) > 1
    assert _split_statements(path), "no statement's passages span two segments"
    current = {s.id: s for s in first}
    current.update((s.id, s) for s in rewritten)
    for gone in ("s100", "s101", "s102"):
        del current[gone]
    yield path, list(current.values())
    backend.close()


def _split_statements(path: Path) -> set[str]:
    """The statements whose live passages lie in more than one segment."""
    index = tantivy.Index.open(str(path))
    index.reload()
    searcher = index.searcher()
    segments: dict[str, set[int]] = {}
    for _, addr in searcher.search(tantivy.Query.all_query(), limit=100_000).hits:
        sid = searcher.doc(addr).to_dict()["sid"][0]
        segments.setdefault(sid, set()).add(addr.segment_ord)
    return {sid for sid, found in segments.items() if len(found) > 1}


def _expected(statements: list[Statement], phrase: str, admit: set[str] | None) -> Matches:
    rows = []
    for s in statements:
        if admit is not None and s.id not in admit:
            continue
        for p in s.passages:
            n = bruteforce.occurrences(p.text, phrase)
            if n:
                rows.append((statement_key(s.id), p.number, n))
    rows.sort()
    return Matches(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int32),
        np.array([[r[2]] for r in rows], dtype=np.int32).reshape(-1, 1),
    )


def _same(a: Matches, b: Matches) -> bool:
    """Equal rows, and `a`'s statements (the matcher's own, when it gave them) are
    those of its rows, grouped one row at a time in Python by `b`'s keys (`a`'s own
    keys may have been made from its statements)."""
    if len(a) != len(b):
        return False
    keys, starts, sums = [], [0], []
    rows_in_order = zip(b.keys.tolist(), a.occurrences[:, 0].tolist(), strict=True)
    for key, group in itertools.groupby(rows_in_order, key=lambda row: row[0]):
        rows = list(group)
        keys.append(key)
        starts.append(starts[-1] + len(rows))
        sums.append(sum(n for _, n in rows))
    groups = a.by_statement()
    return (
        groups.keys.tolist() == keys
        and np.array_equal(a.keys, b.keys)
        and np.array_equal(a.passages, b.passages)
        and np.array_equal(a.occurrences, b.occurrences)
        and groups.starts.tolist() == starts
        and groups.occurrences[:, 0].tolist() == sums
    )


PHRASES = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=4).map(" ".join)
FILTERS: list[tuple[Node | None, object]] = [
    (None, lambda s: True),
    (FieldIs("kind", "speech"), lambda s: s.kind == "speech"),
    (
        DateRange("date", dt.date(1993, 1, 1), dt.date(1997, 12, 31)),
        lambda s: 1993 <= s.date.year <= 1997,
    ),
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(phrase=PHRASES, which=st.integers(0, len(FILTERS) - 1))
def test_native_matches_brute_force_and_tantivy(
    corpus: tuple[Path, list[Statement]], phrase: str, which: int
) -> None:
    path, statements = corpus
    flt, admits = FILTERS[which]
    node: Node = Phrase(tuple(terms(phrase)))
    if flt is not None:
        node = And((node, flt))
    admit = {s.id for s in statements if admits(s)}  # type: ignore[operator]
    expected = _expected(statements, phrase, admit)
    native = EmbeddedBackend(path, native=True)
    deferred = EmbeddedBackend(path, native=True, deferred_from=0)
    plain = EmbeddedBackend(path, native=False)
    try:
        assert _same(native.match(node), expected)
        assert _same(plain.match(node), expected)
        # Matched statement by statement: a few statements' rows, then all of them.
        later = deferred.match(node)
        groups = expected.by_statement()
        at = list(range(0, len(groups.keys), 3))
        for i, passages in zip(at, later.statement_passages(at), strict=True):
            lo, hi = groups.starts[i], groups.starts[i + 1]
            assert passages.tolist() == expected.passages[lo:hi].tolist()
        assert _same(later, expected)
        if flt is None:
            # However many threads share the segments, the same rows in the same order.
            from indexer.backends.native import NativePhrases

            toks = list(terms(phrase))
            # (parallel_from=0: four threads even for the small test corpus's phrases)
            rows = [
                NativePhrases(path, threads=n, parallel_from=0).match("tokens", toks, None)
                for n in (1, 4)
            ]
            assert all(np.array_equal(a, b) for a, b in zip(*rows, strict=True))
            if len(toks) > 2:
                # Gated by the phrase's pair terms: the same rows; by a pair no passage
                # holds: none (the gates are applied, not ignored).
                made = sorted(set(pair_terms(" ".join(toks)).split()))
                native_phrases = NativePhrases(path, threads=2, parallel_from=0)
                gated = native_phrases.match("tokens", toks, None, gates=(PAIRS, made))
                assert all(np.array_equal(a, b) for a, b in zip(rows[0], gated, strict=True))
                shut = native_phrases.match("tokens", toks, None, gates=(PAIRS, ["b_b_b"]))
                assert len(shut.passages) == 0
            # Their texts as the tantivy package reads them (a pair asked twice, and one
            # no passage has, included).
            found = rows[0]
            keys = np.repeat(found.keys, np.diff(found.starts))
            wanted = list(zip(keys.tolist(), found.passages.tolist(), strict=True))[:40]
            wanted += [*wanted[:1], (-1, 0)]
            texts = [
                NativePhrases(path, threads=n, parallel_from=0).passage_texts(wanted)
                for n in (1, 4)
            ]
            by_package, _ = plain._stored_texts(wanted)
            assert texts[0] == texts[1] == [by_package.get(w) for w in wanted]
    finally:
        native.close()
        deferred.close()
        plain.close()


@pytest.mark.parametrize("word", ["мир", "народ"])
def test_lemma_phrases_read_lemmas_and_unlemmatised_tokens_alike(
    corpus: tuple[Path, list[Statement]], word: str
) -> None:
    """A lemma query looks in `lemmas` where a passage has them and in `tokens` where it
    has none (passages marked lemmatised are left out of the second): both matchers
    give the same rows."""
    path, _ = corpus
    node = Phrase((word,), lemma=True)
    native = EmbeddedBackend(path, native=True)
    plain = EmbeddedBackend(path, native=False)
    try:
        got = native.match(node)
        assert len(got) > 0
        assert _same(got, plain.match(node))
    finally:
        native.close()
        plain.close()


def test_a_commit_by_another_writer_is_seen(tmp_path: Path) -> None:
    require_native()
    reader = EmbeddedBackend(tmp_path / "index", native=True)
    writer = EmbeddedBackend(tmp_path / "index", native=False)
    node = Phrase(("peace", "of"))
    assert len(reader.match(node)) == 0
    (st_,) = _statements(random.Random(1), 1, "peace of peace of")
    assert ingest(writer, iter([st_])).ok
    writer.close()
    got = reader.match(node)
    assert _same(got, _expected([st_], "peace of", None))
    assert delete(EmbeddedBackend(tmp_path / "index", native=False), [st_.id]) == 1
    assert len(reader.match(node)) == 0
    reader.close()


def test_search_pages_are_the_same_through_either_matcher(
    corpus: tuple[Path, list[Statement]],
) -> None:
    path, _ = corpus
    native = Search(EmbeddedBackend(path, native=True))
    deferred = Search(EmbeddedBackend(path, native=True, deferred_from=0))
    plain = Search(EmbeddedBackend(path, native=False))
    for q in ['"of the"', '"peace peace" kind:speech', '"a b a"', "peace year:1993..1997"]:
        a = native.search(native.query(q), limit=10, snippets=2)
        b = plain.search(plain.query(q), limit=10, snippets=2)
        c = deferred.search(deferred.query(q), limit=10, snippets=2)
        assert a == b == c, q
        assert a.totals.statements > 0, q
        # A later page, and the whole export, through rows read later.
        if a.next is not None:
            a2 = native.search(native.query(q), limit=10, cursor=a.next, snippets=3)
            c2 = deferred.search(deferred.query(q), limit=10, cursor=c.next, snippets=3)
            assert a2 == c2, q
        assert list(native.kwic_rows(native.query(q))) == list(
            deferred.kwic_rows(deferred.query(q))
        ), q
    for s in (native, deferred, plain):
        s.backend.close()


def test_rows_read_later_are_those_of_the_view_matched(tmp_path: Path) -> None:
    """A phrase matched statement by statement reads its rows, when asked, from the index
    as it was matched: a statement rewritten or deleted since does not change them."""
    rng = random.Random(11)
    made = _statements(rng, 30, "one")
    path = tmp_path / "index"
    writer = EmbeddedBackend(path, native=False)
    assert ingest(writer, iter(made), batch_statements=30).ok
    reader = EmbeddedBackend(path, native=True, deferred_from=0)
    node = Phrase(("of", "the"))
    matches = reader.match(node)
    expected = _expected(made, "of the", None)
    groups = matches.by_statement()
    assert len(groups.keys) > 3 and len(matches) == len(expected)
    # Rewrite every statement without the phrase, and delete one: a new view.
    assert ingest(writer, iter(_statements(rng, 29, "two")), batch_statements=29).ok
    assert delete(writer, ["s29"]) == 1
    reader.match(Phrase(("peace",)))  # the reader moves on to the new view
    at = [0, len(groups.keys) - 1, 1]
    got = matches.statement_passages(at)
    want = expected.by_statement()
    for i, passages in zip(at, got, strict=True):
        lo, hi = want.starts[i], want.starts[i + 1]
        assert passages.tolist() == expected.passages[lo:hi].tolist()
    assert _same(matches, expected)
    writer.close()
    reader.close()


def test_required_but_missing_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexer.backends import native
    from indexer.errors import EngineUnavailable

    monkeypatch.setattr(native, "_module", lambda: None)
    with pytest.raises(EngineUnavailable, match=r"pip install \./native"):
        EmbeddedBackend(tmp_path / "index", native=True)
    assert not EmbeddedBackend(tmp_path / "index").native  # auto: the tantivy package


def test_every_passage_text_is_read_from_the_store(
    corpus: tuple[Path, list[Statement]],
) -> None:
    """The native reader finds each passage's own stored text (passage 0 included, which
    shares its key with the statement's own document), never falling back to records."""
    from indexer.backends.native import NativePhrases

    path, statements = corpus
    wanted = [(statement_key(s.id), p.number) for s in statements for p in s.passages]
    texts = NativePhrases(path).passage_texts(wanted)
    assert texts == [p.text for s in statements for p in s.passages]
    gone = statement_key("s100")  # deleted: nothing to read
    assert NativePhrases(path).passage_texts([(gone, 0), wanted[0]]) == [None, texts[0]]
    # A pair asked for twice gets its text twice.
    assert NativePhrases(path).passage_texts([wanted[1], wanted[1]]) == [texts[1]] * 2


# Rows as segments hand them to the sort: runs of one statement key with rising passage
# numbers, a key's runs possibly split between segments and interleaved (passages 0, 2, 4
# in one segment and 1, 3 in another), keys in hash order.
_RUNS = st.lists(
    st.tuples(
        st.integers(0, 12),  # a few keys, so that runs of one key meet
        st.lists(st.integers(0, 40), min_size=1, max_size=8, unique=True),
        st.integers(1, 9),
    ),
    max_size=40,
)


@given(runs=_RUNS)
def test_native_row_order_is_a_sort(runs: list[tuple[int, list[int], int]]) -> None:
    """The matcher sorts rows run by run, not row by row: it must still equal a plain
    sort, whatever runs and interleavings the index writer's threads produce."""
    require_native()
    from indexer.backends import native

    module = native._module()
    assert module is not None
    rows: list[tuple[int, int, int]] = []
    seen: set[tuple[int, int]] = set()
    for key, pnos, occ in runs:
        fresh = [p for p in sorted(pnos) if (key, p) not in seen]  # a passage once
        seen.update((key, p) for p in fresh)
        rows.extend((key << 40, p, occ) for p in fresh)
    assert module.sort_rows(rows) == sorted(rows)


@pytest.mark.parametrize("spread", ["hashes", "signed", "extremes", "bunched", "few"])
def test_native_row_order_is_a_sort_for_many_runs(spread: str) -> None:
    """Past a few hundred runs the matcher deals runs into buckets by their keys' high
    bits before sorting: any keys, spread over the whole i64 range or bunched, must still
    come out as a plain sort would put them."""
    require_native()
    import random

    from indexer.backends import native

    module = native._module()
    assert module is not None
    rng = random.Random(spread)
    draw = {
        "hashes": lambda: rng.getrandbits(63),  # what statement_key gives
        "signed": lambda: rng.randint(-(2**63), 2**63 - 1),
        "extremes": lambda: rng.choice([-(2**63), 2**63 - 1, 0, -1, 1]),
        "bunched": lambda: 2**40 + rng.randint(0, 50) * (1 + rng.randint(0, 1) * 2**30),
        "few": lambda: rng.randint(0, 3),
    }[spread]
    rows: list[tuple[int, int, int]] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(2_000):
        key, first = draw(), rng.randint(0, 500)
        for p in range(first, first + rng.randint(1, 4)):
            if (key, p) not in seen:
                seen.add((key, p))
                rows.append((key, p, rng.randint(1, 9)))
    assert module.sort_rows(rows) == sorted(rows)


def test_matching_threads_are_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TIFA_MATCH_THREADS reaches the matcher; 0 means one thread per CPU, at most 4."""
    require_native()
    import os

    from app.config import Settings
    from app.engine import open_backend

    monkeypatch.setenv("TIFA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TIFA_MATCH_THREADS", "3")
    backend = open_backend(Settings())
    assert backend._native is not None and backend._native.threads == 3  # type: ignore[attr-defined]
    monkeypatch.setenv("TIFA_MATCH_THREADS", "0")
    backend = open_backend(Settings())
    expected = min(len(os.sched_getaffinity(0)), 4)
    assert backend._native.threads == expected  # type: ignore[attr-defined]


@settings(max_examples=200, deadline=None)
@given(
    hay=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=300, unique=True),
    picks=st.lists(st.integers(0, 10_000), max_size=200),
    strays=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50),
    ascending=st.booleans(),
)
def test_sorted_positions_are_those_of_a_lookup(
    hay: list[int], picks: list[int], strays: list[int], ascending: bool
) -> None:
    """Needles found in the haystack, absent ones (-1), ascending or in any order."""
    from indexer.backends.native import sorted_positions

    require_native()
    hay.sort()
    needles = [hay[p % len(hay)] for p in picks] if hay else []
    needles += strays
    if ascending:
        needles.sort()
    where = {key: i for i, key in enumerate(hay)}
    got = sorted_positions(np.array(hay, dtype=np.int64), np.array(needles, dtype=np.int64))
    assert got is not None
    assert got.tolist() == [where.get(n, -1) for n in needles]
