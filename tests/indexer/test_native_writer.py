"""The native writer (`native/src/writer.rs`) writes the documents the tantivy package's
writer writes: the same stored fields, fast fields and indexed terms, on a corpus made
of every kind of passage (ASCII, general punctuation, accented and Han text, Russian
with lemmas, addressees, speakers and series), and its tokeniser (ASCII, accented Latin,
Cyrillic and Chinese text) gives exactly the matching model's tokens."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import tantivy
from hypothesis import example, given
from hypothesis import strategies as st

from indexer import matching
from indexer.backends.base import statement_key
from indexer.backends.embedded import (
    DOCSTORE_BLOCK,
    FILTER_FIELDS,
    STATEMENT_PAIRS,
    EmbeddedBackend,
)
from indexer.backends.native import NativePhrases, ascii_terms, passage_terms
from indexer.backends.pairs import COMMON, FREQUENT, JOINER
from indexer.ingest import delete, ingest
from indexer.model import Passage, Statement, statement_from_record
from indexer.text import joined_terms, on_ascii_path, terms
from tests.indexer.test_fast_paths import FOLDING, FUZZ, TEXT, WIDE
from tests.support.native import require_native

# Text mostly on the ASCII path (ASCII and the punctuation it maps to spaces), now and
# then pushed off it by one letter.
_ON = "aZ09 .,;-\n\"'\u00ab\u00bb\u00a0\u2000\u2014\u2019\u201c\u2060\u206f\u2017\u203e"
ON_PATH = st.text(alphabet=st.sampled_from(list(_ON) * 10 + list("é\u2070ё中")), max_size=60)


@FUZZ
@given(TEXT | ON_PATH)
def test_native_ascii_tokens_are_the_matching_models(text: str) -> None:
    require_native()
    found = ascii_terms(text)
    if not on_ascii_path(text):
        assert found is None  # off the ASCII path: Python tokenises it
    else:
        joined, count = joined_terms(text)
        assert found == (" ".join(joined.split()), count)


@FUZZ
@given(TEXT | ON_PATH | FOLDING | WIDE)
@example("Pérez de Cuéllar, «Ёлка» — Россия; µ ǰ Ǉ")
@example("构建人类命运共同体，推动ＡＢ１２ the new era of 合作。")
@example("Konstantinoúpolis-" + "é" * 50 + " " + "Ё" * 45)
@example("新时代" + "ＡＢＣ" * 20 + "中")
@example("€1 ₨2 ─┼─ ■▪● 3−4 Ёж€é")
def test_native_passage_tokens_are_the_matching_models(text: str) -> None:
    """Wherever the native writer tokenises a passage itself (the ASCII path, and the
    letter and CJK paths of one folded character per character), its tokens are
    exactly the matching model's; elsewhere it leaves the passage to Python."""
    require_native()
    found = passage_terms(text)
    if on_ascii_path(text):
        assert found == ascii_terms(text)
    if found is not None:
        joined, count = joined_terms(text)
        assert found == (" ".join(joined.split()), count)


def test_native_writer_tokenises_accented_cyrillic_and_chinese_text() -> None:
    """The paths beyond ASCII take what they are for (the fuzz test above checks only
    what they take), and leave what folding changes to Python."""
    require_native()
    taken = ("Dag Hammarskjöld and Côte d'Ivoire", "Россия и Китай", "新时代中国特色")
    # Signs and shapes that fold to themselves: "€" was the commonest character of the
    # UN passages the writer refused.
    taken += ("€4.5 billion ■ 3 − 2 ▪ a─b", "Société €10 ₽5")
    for text in taken:
        assert passage_terms(text) == (" ".join(terms(text)), len(terms(text))), text
    for text in ("Straße", "e\u0301", "α and ω", "№ 5 Ёлка", "₨ 100", "€\u0338"):
        assert passage_terms(text) is None, text


def test_native_passage_tokens_on_the_bundled_corpus() -> None:
    """Every passage of the bundled corpus (UN, Kremlin and Chinese texts) that the native
    writer tokenises itself gets the matching model's tokens, and it takes nearly all of
    them: the real texts' long words, names and punctuation, beyond what the fuzzing
    draws."""
    require_native()
    from indexer.sources import read

    taken = total = 0
    for item in read(Path(__file__).parents[2] / "corpus" / "statements"):
        if not isinstance(item, Statement):
            continue
        for p in item.passages:
            total += 1
            found = passage_terms(p.text)
            if found is not None:
                taken += 1
                joined, count = joined_terms(p.text)
                assert found == (" ".join(joined.split()), count), (item.id, p.number)
    assert total > 10_000 and taken > 0.99 * total


PARAGRAPHS = [
    "The People's Republic of China and the Russian Federation.",
    "Of the people, by the people \u2014 for the people\u2019s \u201ccommon\u201d good.",
    "Pérez de Cuéllar spoke of the United Nations at the 1986 session.",
    "构建人类命运共同体，推动 the new era of 合作.",
    "\ufeffA byte-order mark, a ligature \ufb01nal, and \u00ab guillemets \u00bb.",
    "it is it is of the of the the the",
]
RUSSIAN = [
    "Всеобъемлющее партнёрство и стратегическое взаимодействие России и Китая.",
    "Мы и в этом году поздравляем и в новом году.",
]


def _corpus() -> list[Statement]:
    out = []
    for i in range(24):
        russian = i % 5 == 0
        pool = RUSSIAN if russian else PARAGRAPHS
        paragraphs = [pool[(i + k) % len(pool)] for k in range(1 + i % 4)]
        record: dict[str, Any] = {
            "id": f"w{i}",
            "date": f"{2000 + i % 7}-0{1 + i % 9}-1{i % 10}",
            "text": "\n\n".join(paragraphs),
            "kind": "call" if i % 2 else "message",
            "language": "ru" if russian else "en",
            "source": "kremlin" if i % 3 else "mfa",
            "speakers": ["Xi Jinping", "Vladimir Putin"][: 1 + i % 2],
            "series": ["new-year"] if i % 4 == 0 else [],
            "license": "CC BY 4.0",
        }
        if i % 6 == 1:  # passages given, with addressees
            passages = tuple(
                Passage(n, p, "Vladimir Putin" if n % 2 == 0 else None)
                for n, p in enumerate(paragraphs)
            )
            out.append(statement_from_record(record, passages))
        else:
            out.append(statement_from_record(record))
    return out


def _build(path: Path, native: bool) -> None:
    backend = EmbeddedBackend(path, native=native, writer_threads=2)
    corpus = _corpus()
    assert ingest(backend, iter(corpus[:12]), batch_statements=5).ok
    assert ingest(backend, iter(corpus[12:]), batch_statements=7).ok
    assert ingest(backend, iter(corpus[:3]), batch_statements=3).ok  # rewritten: unchanged
    assert delete(backend, ["w7"]) == 1
    backend.close()


def _documents(path: Path) -> list[tuple[Any, ...]]:
    """Every live document: its stored fields and its fast fields, in a stable order."""
    index = tantivy.Index.open(str(path))
    index.reload()
    searcher = index.searcher()
    hits = searcher.search(tantivy.Query.all_query(), limit=100_000).hits
    addrs = [addr for _, addr in hits]
    fast = {
        name: searcher.fast_field_values(name, addrs)
        for name in ("key", "pno", "uid", "pnt", "date", "published")
    }
    rows = []
    for i, addr in enumerate(addrs):
        stored = searcher.doc(addr).to_dict()
        rows.append(
            (
                tuple(sorted((k, repr(v)) for k, v in stored.items())),
                tuple(repr(fast[name][i]) for name in fast),
            )
        )
    return sorted(rows)


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require_native()
    root = Path(tmp_path_factory.mktemp("writers"))
    _build(root / "native", native=True)
    _build(root / "package", native=False)
    return root / "native", root / "package"


def test_both_writers_store_the_same_documents(both: tuple[Path, Path]) -> None:
    native, package = both
    docs = _documents(native)
    assert len(docs) > 40  # passages and statements, w7 gone
    assert docs == _documents(package)


def test_a_statement_is_sent_again_only_for_passages_off_the_extensions_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accented, Han and ASCII passages go to the extension untokenised and Russian ones
    tokenised (for their lemmas), so their statements go over in one call; a statement
    with a passage off the extension's paths (a ligature, which NFKC splits) is refused,
    then sent again with that passage tokenised in Python, and indexed all the same."""
    require_native()
    from indexer.backends.native import NativeWriter

    calls: list[tuple[str, bool]] = []
    add = NativeWriter.add_passages

    def counted(self: NativeWriter, sid: str, *args: Any) -> tuple[bool, int, list[int]]:
        made = add(self, sid, *args)
        calls.append((sid, made[0]))
        return made

    monkeypatch.setattr(NativeWriter, "add_passages", counted)
    backend = EmbeddedBackend(tmp_path / "ix", native=True)
    corpus = _corpus()
    off = {
        s.id
        for s in corpus
        if s.language != "ru" and any(passage_terms(p.text) is None for p in s.passages)
    }
    assert off and len(off) < len(corpus)
    assert any(not on_ascii_path(p.text) for s in corpus if s.id not in off for p in s.passages)
    assert ingest(backend, iter(corpus)).ok
    backend.close()
    refused = [sid for sid, made in calls if not made]
    assert sorted(refused) == sorted(off)
    assert sorted(sid for sid, made in calls if made) == sorted(s.id for s in corpus)


def test_both_writers_keep_the_small_doc_store_blocks(both: tuple[Path, Path]) -> None:
    """A new index is made with small doc-store blocks (a page's passage texts are read
    three times faster), and neither writer's commits put tantivy's 16 KB back."""
    for path in both:
        settings = json.loads((path / "meta.json").read_text())["index_settings"]
        assert settings["docstore_blocksize"] == DOCSTORE_BLOCK < 16_384


def _vocabulary() -> dict[str, set[str]]:
    """Each indexed text field's terms (and, for tokens, each adjacent pair of them)."""
    words: dict[str, set[str]] = {"tokens": set(), "lemmas": set(), "pairs": set()}
    for s in _corpus():
        for p in s.passages:
            toks = terms(p.text)
            words["tokens"].update(toks)
            words["tokens"].update(f"{a} {b}" for a, b in itertools.pairwise(toks))
            words["lemmas"].update(matching.lemmas(toks))
            words["pairs"].update(
                a + JOINER + b
                for a, b in itertools.pairwise(toks)
                if {a, b} <= COMMON or {a, b} <= FREQUENT
            )
            if p.addressee:
                words.setdefault("addressee", set()).update(terms(p.addressee))
        for field, values in (
            ("speakers", s.speakers),
            ("source", [s.source]),
            ("kind", [s.kind]),
            ("language", [s.language]),
            ("series", s.series),
            ("sid_tokens", [s.id]),
        ):
            words.setdefault(field, set()).update(t for v in values for t in terms(v))
    return words


def test_both_writers_index_the_same_terms_and_positions(both: tuple[Path, Path]) -> None:
    native, package = both
    a, b = NativePhrases(native), NativePhrases(package)
    vocabulary = _vocabulary()
    assert set(FILTER_FIELDS.values()) <= set(vocabulary)
    compared = 0
    for field, words in vocabulary.items():
        for word in sorted(words):
            toks = word.split()
            rows_a, rows_b = a.match(field, toks, None), b.match(field, toks, None)
            assert all((x == y).all() for x, y in zip(rows_a[:5], rows_b[:5], strict=True)), (
                field,
                word,
            )
            compared += len(rows_a[0])
    assert compared > 500


def test_both_writers_count_each_statements_pairs_on_its_document(
    both: tuple[Path, Path],
) -> None:
    """A statement's document holds each pair term once per passage holding it, and once
    more per further occurrence in a passage: counted here pair by pair from the live
    statements' tokens, and read back from each writer's index."""
    live = [s for s in _corpus() if s.id != "w7"]
    passages: dict[str, dict[int, int]] = {}
    more: dict[str, dict[int, int]] = {}
    for s in live:
        key = statement_key(s.id)
        for p in s.passages:
            toks = terms(p.text)
            found = [
                a + JOINER + b
                for a, b in itertools.pairwise(toks)
                if {a, b} <= COMMON or {a, b} <= FREQUENT
            ]
            for pair in set(found):
                passages.setdefault(pair, {}).setdefault(key, 0)
                passages[pair][key] += 1
                if found.count(pair) > 1:
                    more.setdefault(pair, {}).setdefault(key, 0)
                    more[pair][key] += found.count(pair) - 1
    assert sum(len(v) for v in passages.values()) > 50 and len(more) > 2
    for path in both:
        index = NativePhrases(path)
        for field, expected in zip(STATEMENT_PAIRS, (passages, more), strict=True):
            for pair in passages:
                found = index.match(field, [pair], None)
                got = dict(zip(found.keys.tolist(), found.occurrences.tolist(), strict=True))
                assert got == expected.get(pair, {}), (path.name, field, pair)


def test_native_writer_keeps_a_statements_documents_together(tmp_path: Path) -> None:
    """With two indexing threads, each statement's passages and its statement document
    still land in one segment, consecutive and in passage order (the matcher's rows then
    need sorting only statement by statement; a page's texts sit in few blocks)."""
    require_native()
    backend = EmbeddedBackend(tmp_path / "ix", native=True, writer_threads=2)
    records = [
        statement_from_record(
            {
                "id": f"s{i}",
                "date": "2020-01-01",
                "text": "\n\n".join(f"Passage {n} of statement {i}." for n in range(2 + i % 9)),
                "language": "en",
                "source": "kremlin",
                "license": "CC BY 4.0",
            }
        )
        for i in range(300)
    ]
    assert ingest(backend, iter(records), batch_statements=300).ok
    backend.close()
    index = tantivy.Index.open(str(tmp_path / "ix"))
    index.reload()
    searcher = index.searcher()
    addrs = [a for _, a in searcher.search(tantivy.Query.all_query(), limit=100_000).hits]
    pno = searcher.fast_field_values("pno", addrs)
    placed: dict[str, list[tuple[int, int, int]]] = {}
    for addr, n in zip(addrs, pno, strict=True):
        stored = searcher.doc(addr).to_dict()
        number = -1 if stored.get("hash") else int(n)  # the statement document: last
        placed.setdefault(stored["sid"][0], []).append((addr.segment_ord, addr.doc, number))
    assert len({seg for docs in placed.values() for seg, _, _ in docs}) > 1
    for sid, docs in placed.items():
        docs.sort()
        segments = {seg for seg, _, _ in docs}
        doc_ids = [doc for _, doc, _ in docs]
        numbers = [n for _, _, n in docs]
        assert len(segments) == 1, sid
        assert doc_ids == list(range(doc_ids[0], doc_ids[0] + len(docs))), sid
        assert numbers == [*range(len(docs) - 1), -1], sid


def test_native_writer_caps_the_size_of_merged_segments(tmp_path: Path) -> None:
    """No merge makes a segment of more documents than the cap (tantivy's own policy
    merges eight segments into one of any size: the 10M-passage index ended as one
    segment, read on one core), merges still happen, and counts stay exact."""
    require_native()
    from indexer.query import Phrase
    from indexer.search import Search
    from tests import bruteforce

    backend = EmbeddedBackend(tmp_path / "ix", native=True, writer_threads=1, most_merged=200)
    statements = []
    for batch in range(24):  # one commit, so one segment of 8 x 6 = 48 documents, each
        chunk = [
            statement_from_record(
                {
                    "id": f"m{batch}-{i}",
                    "date": f"{2000 + i}-05-0{1 + batch % 9}",
                    "text": "\n\n".join(
                        f"Of the people {batch} and {n}, the new era of the people." * (1 + n % 2)
                        for n in range(5)
                    ),
                    "language": "en",
                    "source": "kremlin",
                    "license": "CC BY 4.0",
                }
            )
            for i in range(8)
        ]
        statements += chunk
        assert ingest(backend, iter(chunk)).ok
    backend.close()  # waits for the merges

    meta = json.loads((tmp_path / "ix" / "meta.json").read_text())
    sizes = sorted((s["max_doc"] for s in meta["segments"]), reverse=True)
    assert sum(sizes) == 24 * 48
    assert len(sizes) < 24, "nothing was merged"
    assert sizes[0] <= 200, sizes

    reader = EmbeddedBackend(tmp_path / "ix", native=True)
    search = Search(reader)
    rows = [(s.id, s.date.year, p.text) for s in statements for p in s.passages]
    for phrase in ("of the people", "new era", "the"):
        expected = bruteforce.count(rows, phrase)
        totals = search.totals(search.ranked(Phrase(tuple(terms(phrase)))))
        assert (totals.statements, totals.passages, totals.occurrences) == (
            expected["statements"],
            expected["passages"],
            expected["occurrences"],
        ), phrase
    reader.close()
