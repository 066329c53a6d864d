"""The backend contract: every engine stores, replaces, deletes and matches alike, with
occurrence counts equal to an independent brute-force count."""

from __future__ import annotations

import datetime as dt

import pytest

from indexer import matching
from indexer.query import And, DateRange, FieldIs, Near, Not, Or, Phrase, leaves, text_clauses
from indexer.text import terms
from tests import bruteforce
from tests.conftest import make_statement
from tests.contract.conftest import BackendFactory

TEXTS = {
    "a": "China–Russia comprehensive strategic partnership of coordination.\n\n"
    "The strategic partnership, the strategic partnership! Good-neighborliness matters.",
    "b": "China’s good neighborliness and China's friends. Strategic  partnership again.\n\n"
    "中俄关系进入新时代。中俄新时代全面战略协作伙伴关系。",
    "c": "Стратегическое взаимодействие. Ёлка и елка. The of the of the of the.",
    "d": "Nothing to see here.\n\nOf the people, by the people, for the people.",
    # Russian whose words are all in their dictionary form, and English in a Russian
    # statement: passages whose lemmas are their tokens.
    "e": "Взаимодействие и партнерство.\n\nPartnership of coordination and interaction.",
}
META = {
    "a": {
        "date": "2019-12-31",
        "kind": "message",
        "speakers": ["Xi Jinping"],
        "source": "Xinhua",
        "language": "en",
    },
    "b": {
        "date": "2020-12-28",
        "kind": "call",
        "speakers": ["Xi Jinping", "Vladimir Putin"],
        "source": "PRC MFA",
        "language": "en",
    },
    "c": {
        "date": "2018-06-01",
        "kind": "statement",
        "speakers": ["Vladimir Putin"],
        "source": "President of Russia (en.kremlin.ru)",
        "language": "ru",
    },
    "d": {
        "date": "2017-03-05",
        "kind": "speech",
        "source": "UN",
        "language": "en",
        "published": "2017-03-10",
    },
    "e": {
        "date": "2021-07-01",
        "kind": "statement",
        "speakers": ["Vladimir Putin"],
        "source": "President of Russia (en.kremlin.ru)",
        "language": "ru",
    },
}


def corpus() -> list:  # type: ignore[type-arg]
    return [make_statement(f"st-{k}", TEXTS[k], **META[k]) for k in TEXTS]  # type: ignore[arg-type]


def brute(phrase: str) -> tuple[int, int]:
    stmts = corpus()
    rows = [(s.id, s.date.year, p.text) for s in stmts for p in s.passages]
    c = bruteforce.count(rows, phrase)
    return int(c["passages"]), int(c["occurrences"])  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "phrase",
    [
        "strategic partnership",
        "the strategic partnership",
        "good-neighborliness",
        "good neighborliness",
        "China's",
        "of the",
        "of the of the",
        "the",
        "中俄",
        "新时代",
        "全面战略协作伙伴关系",
        "ёлка",
        "ЕЛКА",
        "стратегическое взаимодействие",
        "missing words",
    ],
)
def test_phrase_counts_equal_brute_force(make_backend: BackendFactory, phrase: str) -> None:
    backend = make_backend()
    backend.write(corpus())
    m = backend.match(Phrase(tuple(terms(phrase))))
    assert (len(m), int(m.occurrences.sum())) == brute(phrase)


def test_write_read_replace_delete(make_backend: BackendFactory) -> None:
    backend = make_backend()
    stmts = corpus()
    backend.write(stmts)
    assert {m.id for m in backend.statements()} == {s.id for s in stmts}
    got = backend.statement("st-b")
    assert (
        got is not None
        and got.text == TEXTS["b"]
        and got.speakers == ("Xi Jinping", "Vladimir Putin")
    )
    assert backend.hashes(["st-a", "nope"]) == {"st-a": stmts[0].content_hash()}
    # Replacing a statement removes its old passages.
    backend.write([make_statement("st-a", "Entirely new words.", **META["a"])])  # type: ignore[arg-type]
    assert len(backend.match(Phrase(("strategic", "partnership")))) == 1
    assert len(backend.match(Phrase(("entirely", "new")))) == 1
    backend.write([], delete=["st-a", "st-b"])
    assert {m.id for m in backend.statements()} == {"st-c", "st-d", "st-e"}
    assert len(backend.match(Phrase(("entirely",)))) == 0
    assert backend.statement("st-a") is None


def _expected(node: object) -> tuple[int, list[int]]:
    """Brute-force passages and per-clause occurrences of a query, via matching.spans
    on the independent tokens and the filter evaluator on statement metadata."""
    from indexer.backends.base import StatementMeta, statement_key
    from indexer.filtering import evaluate

    clause_list = leaves(node)  # type: ignore[arg-type]
    every = text_clauses(node)  # type: ignore[arg-type]
    n = 0
    totals = [0] * len(clause_list)
    for s in corpus():
        meta = StatementMeta(
            key=statement_key(s.id),
            id=s.id,
            title=s.title,
            date=s.date,
            published=s.published_on,
            source=s.source,
            url=s.url,
            license=s.license,
            language=s.language,
            kind=s.kind,
            speakers=s.speakers,
            series=s.series,
            addressees=(),
            passages=len(s.passages),
            tokens=0,
            hash="",
        )
        for p in s.passages:
            toks = bruteforce.tokens(p.text)
            found = {leaf: len(matching.spans(toks, leaf)) for leaf in every}
            counts = [found[leaf] for leaf in clause_list]
            if evaluate(node, meta, p.addressee, lambda leaf, found=found: found[leaf] > 0):  # type: ignore[arg-type,misc]
                n += 1
                totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return n, totals


@pytest.mark.parametrize(
    "node",
    [
        Phrase(("strategic", "partnership"), slop=2),
        Phrase(("comprehensive", "partnership"), slop=1),
        Phrase(("comprehensive", "partnership"), slop=2),
        Phrase(("strateg",), prefix=True),
        Phrase(("strategic", "partner"), prefix=True),
        Near(Phrase(("china",)), Phrase(("partnership",)), 3),
        Near(Phrase(("people",)), Phrase(("of", "the")), 0),
        Phrase(("стратегический", "взаимодействие"), lemma=True),
        Phrase(("partnership",), lemma=True),
        Phrase(("взаимодействие",), lemma=True),
        Phrase(("стратегический", "взаимодействие"), slop=1, lemma=True),
        Phrase(("партнер",), prefix=True, lemma=True),
        Near(Phrase(("взаимодействие",), lemma=True), Phrase(("партнерство",)), 2),
        Or((Phrase(("взаимодействие",), lemma=True), Phrase(("coordination",)))),
        And((Phrase(("partnership",), lemma=True), FieldIs("lang", "ru"))),
        And((Phrase(("china",)), Phrase(("strategic",)))),
        Or((Phrase(("中", "俄")), Phrase(("people",)))),
        And((Phrase(("the",)), Not(Phrase(("people",))))),
        And((Phrase(("the",)), FieldIs("speaker", "xi jinping"))),
        And((Phrase(("the",)), FieldIs("source", "kremlin"))),
        And((Phrase(("the",)), FieldIs("kind", "speech"))),
        And((Phrase(("the",)), DateRange("date", dt.date(2019, 1, 1), dt.date(2020, 12, 31)))),
        And((Phrase(("the",)), DateRange("published", None, dt.date(2017, 3, 9)))),
        Or((Phrase(("strategic", "partnership"), slop=3), FieldIs("kind", "speech"))),
    ],
    ids=repr,
)
def test_query_constructs_equal_brute_force(make_backend: BackendFactory, node: object) -> None:
    backend = make_backend()
    backend.write(corpus())
    m = backend.match(node)  # type: ignore[arg-type]
    n, totals = _expected(node)
    assert len(m) == n
    assert [int(x) for x in m.occurrences.sum(axis=0)] == totals


def test_passage_texts_and_generation(make_backend: BackendFactory) -> None:
    backend = make_backend()
    g0 = backend.generation()
    assert backend.known_generation() in (None, g0)
    stmts = corpus()
    backend.write(stmts)
    assert backend.generation() != g0
    # A write sets the generation it made: known without asking the engine again.
    assert backend.known_generation() == backend.generation()
    meta = {m.id: m for m in backend.statements()}
    key = meta["st-b"].key
    texts = backend.passage_texts([(key, 0), (key, 1), (key, 7)])
    assert texts == {(key, 0): stmts[1].passages[0].text, (key, 1): stmts[1].passages[1].text}
    # Every passage of every statement (Chinese, Russian, accents) comes back verbatim.
    every = {(meta[st.id].key, p.number): p.text for st in stmts for p in st.passages}
    assert backend.passage_texts(list(every)) == every
    assert backend.ready()


@pytest.mark.parametrize(
    "filters",
    [
        DateRange("date", dt.date(2019, 1, 1), dt.date(2020, 12, 31)),
        FieldIs("kind", "speech"),
        Not(FieldIs("speaker", "xi jinping")),
        And((FieldIs("lang", "en"), DateRange("published", None, dt.date(2019, 12, 31)))),
        Or((FieldIs("source", "kremlin"), FieldIs("kind", "message"))),
    ],
    ids=repr,
)
@pytest.mark.parametrize(
    "text",
    [
        Phrase(("strategic", "partnership")),
        Phrase(("the",)),
        And((Phrase(("of",)), Phrase(("the",)))),
        Or((Phrase(("中", "俄")), Phrase(("people",)))),
    ],
    ids=repr,
)
def test_refining_a_cached_search_by_statement_filters_equals_searching_anew(
    make_backend: BackendFactory, text: object, filters: object
) -> None:
    """`text AND filters` cut from the cached matches of `text` (no search) is exactly
    what the engine answers for it."""
    from indexer.search import Search

    backend = make_backend()
    backend.write(corpus())
    node = And((text, filters))  # type: ignore[arg-type]
    want = backend.match(node)
    search = Search(backend)
    search.ranked(text)  # type: ignore[arg-type]
    searched: list[object] = []
    match = backend.match

    def counting(query: object) -> object:
        searched.append(query)
        return match(query)  # type: ignore[arg-type]

    backend.match = counting  # type: ignore[method-assign]
    got = search.ranked(node).matches
    assert searched == []
    assert got.keys.tolist() == want.keys.tolist()
    assert got.passages.tolist() == want.passages.tolist()
    assert got.occurrences.tolist() == want.occurrences.tolist()
    # An addressee filter is a passage's own: it is searched, not cut.
    search.ranked(And((text, FieldIs("addressee", "putin"))))  # type: ignore[arg-type]
    assert len(searched) == 1
