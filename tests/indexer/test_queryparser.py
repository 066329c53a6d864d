"""The query language: exact ASTs for every construct, every error with its position,
and properties (never crashes, valid queries parse, canonical form round-trips)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.errors import QueryError
from indexer.query import (
    MAX_CLAUSES,
    MAX_QUERY_CHARS,
    And,
    DateRange,
    FieldIs,
    MatchAll,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    parse,
)
from indexer.queryparser import MAX_DEPTH, format_query, parse_query
from indexer.text import terms

D = dt.date


def ph(*tokens: str, prefix: bool = False, slop: int = 0, lemma: bool = False) -> Phrase:
    return Phrase(tokens, prefix=prefix, slop=slop, lemma=lemma)


def everything_but(*nots: Node) -> And:
    return And((MatchAll(), *(Not(n) for n in nots)))


VALID: list[tuple[str, Node]] = [
    # empty
    ("", MatchAll()),
    ("   \t\n ", MatchAll()),
    # words and phrases
    ("china", ph("china")),
    ("China", ph("china")),
    ('"new era"', ph("new", "era")),
    ('  "New  Era" ', ph("new", "era")),
    ("new era", And((ph("new"), ph("era")))),
    ("good-neighborliness", ph("good", "neighborliness")),
    ("China’s", ph("china", "s")),
    ("China's", ph("china", "s")),
    ("+china", ph("china")),
    # Chinese: each Han character is a token; a bare run is a phrase
    ("中俄", ph("中", "俄")),
    ("新时代", ph("新", "时", "代")),
    ('"人类命运共同体"', ph("人", "类", "命", "运", "共", "同", "体")),
    ("中俄 新时代", And((ph("中", "俄"), ph("新", "时", "代")))),
    ("China中国", ph("china", "中", "国")),
    # Russian: folding (ё→е), lemma matching
    ("Ёлка", ph("елка")),
    ('"стратегическое взаимодействие"', ph("стратегическое", "взаимодействие")),
    (
        '"стратегическое взаимодействие"~morph',
        ph("стратегическое", "взаимодействие", lemma=True),
    ),
    ("lemma:стратегическое", ph("стратегическое", lemma=True)),
    (
        'lemma:"стратегическое взаимодействие"',
        ph("стратегическое", "взаимодействие", lemma=True),
    ),
    ("Ёлка~morph", ph("елка", lemma=True)),
    ('lemma:"a b"~3', ph("a", "b", slop=3, lemma=True)),
    ('"a b"~3~morph', ph("a", "b", slop=3, lemma=True)),
    ('"a b"~morph~3', ph("a", "b", slop=3, lemma=True)),
    ("lemma:Ёлка~morph", ph("елка", lemma=True)),
    # words that are not fields or operators
    ("12:30", ph("12", "30")),
    ("http://example.com/a", ph("http", "example", "com", "a")),
    ("Speaker:Xi", ph("speaker", "xi")),
    ("or and not near", And((ph("or"), ph("and"), ph("not"), ph("near")))),
    ("NEARBY", ph("nearby")),
    # boolean operators and precedence: NOT > AND > OR
    ("a AND b", And((ph("a"), ph("b")))),
    ("a OR b", Or((ph("a"), ph("b")))),
    ("a b OR c", Or((And((ph("a"), ph("b"))), ph("c")))),
    ("a OR b c", Or((ph("a"), And((ph("b"), ph("c")))))),
    ("a AND b OR c AND d", Or((And((ph("a"), ph("b"))), And((ph("c"), ph("d")))))),
    ("a (b OR c)", And((ph("a"), Or((ph("b"), ph("c")))))),
    ("(a OR b) OR c", Or((ph("a"), ph("b"), ph("c")))),
    ("a (b c) d", And((ph("a"), ph("b"), ph("c"), ph("d")))),
    ("((a))", ph("a")),
    ("a OR(b)", Or((ph("a"), ph("b")))),
    ("a NOT b", And((ph("a"), Not(ph("b"))))),
    ("a -b", And((ph("a"), Not(ph("b"))))),
    ("a AND NOT b", And((ph("a"), Not(ph("b"))))),
    ("NOT a b", And((Not(ph("a")), ph("b")))),
    ("a -(b OR c)", And((ph("a"), Not(Or((ph("b"), ph("c"))))))),
    ('a -"b c"', And((ph("a"), Not(ph("b", "c"))))),
    ("a -speaker:Xi", And((ph("a"), Not(FieldIs("speaker", "Xi"))))),
    # NOT without a positive clause beside it subtracts from everything
    ("-china", everything_but(ph("china"))),
    ("NOT china", everything_but(ph("china"))),
    ("-a -b", everything_but(ph("a"), ph("b"))),
    ("a OR -b", Or((ph("a"), everything_but(ph("b"))))),
    ("-(-a)", everything_but(everything_but(ph("a")))),
    ("NOT -a", everything_but(everything_but(ph("a")))),
    ("-a year:2019", And((Not(ph("a")), DateRange("year", D(2019, 1, 1), D(2019, 12, 31))))),
    # proximity
    ('"strategic coordination"~3', ph("strategic", "coordination", slop=3)),
    ('"a b"~0', ph("a", "b")),
    ('"a b"~50', ph("a", "b", slop=50)),
    ("good-neighborliness~2", ph("good", "neighborliness", slop=2)),
    ("strategic NEAR/3 coordination", Near(ph("strategic"), ph("coordination"), 3)),
    ('"a b" NEAR/3 "c d"', Near(ph("a", "b"), ph("c", "d"), 3)),
    ("a NEAR b", Near(ph("a"), ph("b"), 5)),
    ("a NEAR/0 b", Near(ph("a"), ph("b"), 0)),
    ("a NEAR/50 b", Near(ph("a"), ph("b"), 50)),
    ("x a NEAR b y", And((ph("x"), Near(ph("a"), ph("b"), 5), ph("y")))),
    ("a NEAR b OR c", Or((Near(ph("a"), ph("b"), 5), ph("c")))),
    ("-a NEAR b", everything_but(Near(ph("a"), ph("b"), 5))),
    ("strat* NEAR lemma:b", Near(ph("strat", prefix=True), ph("b", lemma=True), 5)),
    ("(a) NEAR (b)", Near(ph("a"), ph("b"), 5)),
    # prefix
    ("strateg*", ph("strateg", prefix=True)),
    ("St*", ph("st", prefix=True)),
    ('"strategic partner*"', ph("strategic", "partner", prefix=True)),
    ('"strategic partner* "', ph("strategic", "partner", prefix=True)),
    ('"strategic partner*"~2', ph("strategic", "partner", prefix=True, slop=2)),
    ("good-neigh*", ph("good", "neigh", prefix=True)),
    ("Straße*", ph("strasse", prefix=True)),
    # text filters: values kept as typed
    ("speaker:Xi", FieldIs("speaker", "Xi")),
    ('speaker:"Xi Jinping"', FieldIs("speaker", "Xi Jinping")),
    ('speaker:" Xi Jinping "', FieldIs("speaker", "Xi Jinping")),
    ("source:http://kremlin.ru/x", FieldIs("source", "http://kremlin.ru/x")),
    ("kind:call", FieldIs("kind", "call")),
    ("lang:EN", FieldIs("lang", "EN")),
    ("series:a:b", FieldIs("series", "a:b")),
    ("addressee:Путин", FieldIs("addressee", "Путин")),
    ("id:kremlin-123", FieldIs("id", "kremlin-123")),
    ('id:"a*"', FieldIs("id", "a*")),
    (
        "year:2019 kind:call",
        And((DateRange("year", D(2019, 1, 1), D(2019, 12, 31)), FieldIs("kind", "call"))),
    ),
    ("china kind:call", And((ph("china"), FieldIs("kind", "call")))),
    # date ranges: inclusive day bounds
    ("year:2019", DateRange("year", D(2019, 1, 1), D(2019, 12, 31))),
    ("year:2016..2020", DateRange("year", D(2016, 1, 1), D(2020, 12, 31))),
    ("year:2016..", DateRange("year", D(2016, 1, 1), None)),
    ("year:..2020", DateRange("year", None, D(2020, 12, 31))),
    ("year:>=2016", DateRange("year", D(2016, 1, 1), None)),
    ("year:>2016", DateRange("year", D(2017, 1, 1), None)),
    ("year:<=2020", DateRange("year", None, D(2020, 12, 31))),
    ("year:<2020", DateRange("year", None, D(2019, 12, 31))),
    ("date:>=2019-12-01", DateRange("date", D(2019, 12, 1), None)),
    ("date:>2019-12-31", DateRange("date", D(2020, 1, 1), None)),
    ("date:<2020-03-01", DateRange("date", None, D(2020, 2, 29))),
    ("date:2019-12-01", DateRange("date", D(2019, 12, 1), D(2019, 12, 1))),
    ("date:2019-12-01..2020-01-31", DateRange("date", D(2019, 12, 1), D(2020, 1, 31))),
    ("date:2020-02", DateRange("date", D(2020, 2, 1), D(2020, 2, 29))),
    ("date:2019", DateRange("date", D(2019, 1, 1), D(2019, 12, 31))),
    ("published:<=2020-12-29", DateRange("published", None, D(2020, 12, 29))),
    ('year:"2019"', DateRange("year", D(2019, 1, 1), D(2019, 12, 31))),
]


@pytest.mark.parametrize(("query", "expected"), VALID, ids=[q or "<empty>" for q, _ in VALID])
def test_parses_to_exact_ast(query: str, expected: Node) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize(("query", "expected"), VALID, ids=[q or "<empty>" for q, _ in VALID])
def test_canonical_form_round_trips(query: str, expected: Node) -> None:
    assert parse_query(format_query(expected)) == expected


def test_apostrophes_and_folding_agree() -> None:
    assert parse_query("China’s") == parse_query("china's") == parse_query('"CHINA S"')
    assert parse_query("Ёлка") == parse_query("ёлка") == parse_query("елка")


def test_query_parse_delegates_here() -> None:
    assert parse('"new era" OR 中俄') == Or((ph("new", "era"), ph("中", "俄")))


@pytest.mark.parametrize(
    ("node", "text"),
    [
        (ph("china"), "china"),
        (ph("new", "era"), '"new era"'),
        (ph("中", "俄"), "中俄"),
        (ph("strateg", prefix=True), "strateg*"),
        (ph("a", "b", prefix=True), '"a b*"'),
        (ph("a", "b", slop=3, lemma=True), 'lemma:"a b"~3'),
        (Near(ph("a"), ph("b"), 5), "a NEAR b"),
        (Near(ph("a"), ph("b"), 3), "a NEAR/3 b"),
        (Or((And((ph("a"), ph("b"))), ph("c"))), "a b OR c"),
        (And((ph("a"), Or((ph("b"), ph("c"))))), "a (b OR c)"),
        (everything_but(ph("a")), "-a"),
        (And((ph("a"), Not(Or((ph("b"), ph("c")))))), "a -(b OR c)"),
        (FieldIs("speaker", "Xi Jinping"), 'speaker:"Xi Jinping"'),
        (DateRange("year", D(2017, 1, 1), None), "year:>=2017"),
        (DateRange("year", D(2019, 1, 1), D(2019, 12, 31)), "year:2019"),
        (DateRange("date", D(2019, 12, 1), D(2020, 1, 31)), "date:2019-12-01..2020-01-31"),
        (MatchAll(), ""),
    ],
)
def test_format_query(node: Node, text: str) -> None:
    assert format_query(node) == text


OPEN = "'\"' to close the phrase opened at"
CLAUSE = "a word, phrase or '('"

# (query, position, expected, words the message must contain)
ERRORS: list[tuple[str, int, str, str]] = [
    # quotes and parentheses
    ('"abc', 4, f"{OPEN} 0", "unclosed quote"),
    ('a "new era', 10, f"{OPEN} 2", "unclosed quote"),
    ('speaker:"Xi', 11, "'\"' to close the value opened at 8", "unclosed quote"),
    ("(a", 2, "')' to close the '(' opened at 0", "unclosed '('"),
    ("(a (b)", 6, "')' to close the '(' opened at 0", "unclosed '('"),
    ("a)", 1, "an operator, a clause or the end of the query", "unmatched ')'"),
    ("()", 1, f"{CLAUSE} inside", "empty parentheses"),
    ('"a""b"', 3, "a space, ')' or the end of the query after the closing quote", "closing"),
    # dangling operators
    ("a OR", 4, CLAUSE, "after 'OR'"),
    ("OR a", 0, CLAUSE, "start of the query"),
    ("a OR OR b", 5, CLAUSE, "found 'OR'"),
    ("a AND", 5, CLAUSE, "after 'AND'"),
    ("AND a", 0, CLAUSE, "found 'AND'"),
    ("NOT", 3, CLAUSE, "after 'NOT'"),
    ("a NOT", 5, CLAUSE, "ends too early"),
    ("(a OR)", 5, CLAUSE, "before ')'"),
    ("a NEAR", 6, CLAUSE, "after 'NEAR'"),
    ("NEAR a", 0, CLAUSE, "found 'NEAR'"),
    ("-", 0, "a word, phrase or '(' right after '-'", "excludes"),
    ("a - b", 2, "a word, phrase or '(' right after '-'", "excludes"),
    ("(a -)", 3, "a word, phrase or '(' right after '-'", "excludes"),
    # NEAR
    ("a NEAR/x b", 7, "a whole number after 'NEAR/'", "NEAR/3"),
    ("a NEAR/ b", 7, "a whole number after 'NEAR/'", "NEAR/3"),
    ("a NEAR/-1 b", 7, "a whole number after 'NEAR/'", "NEAR/3"),
    ("a NEAR/51 b", 7, "a number from 0 to 50", "too large"),
    ("a NEAR/99999999999999999999 b", 7, "a number from 0 to 50", "too large"),
    ("a NEAR b NEAR c", 9, "AND, OR, ')' or the end of the query", "chained"),
    ("(a b) NEAR c", 6, "a word or phrase before 'NEAR'", "left"),
    ("year:2019 NEAR c", 10, "a word or phrase before 'NEAR'", "left"),
    ("a NEAR/2 (b c)", 9, "a word or phrase after 'NEAR/2'", "right"),
    ("a NEAR -b", 7, CLAUSE, "found '-'"),
    # slop and suffixes
    ('"a b"~51', 6, "a number from 0 to 50", "slop 51"),
    ('"a b"~', 6, "a number from 0 to 50 or 'morph' after '~'", "not a suffix"),
    ('"a b"~x', 6, "a number from 0 to 50 or 'morph' after '~'", "not a suffix"),
    ('"a b"~3~4', 7, "a number from 0 to 50 or 'morph' after '~'", "twice"),
    ("word~2", 4, "a phrase of two or more words before '~N'", "fuzzy"),
    ('"word"~2', 6, "a phrase of two or more words before '~N'", "fuzzy"),
    ("~3", 0, CLAUSE, "'~'"),
    (
        'speaker:"Xi"~3',
        12,
        "a space, ')' or the end of the query after the closing quote",
        "no '~'",
    ),
    # prefix
    ("a*b", 1, "'*' only at the end of the last word", "prefix"),
    ('"strategic* partner"', 10, "'*' only at the end of the last word", "prefix"),
    ("*", 0, "a word prefix before '*'", "'*'"),
    ("*abc", 0, "'*' only at the end of the last word", "prefix"),
    ('"a *"', 3, "a word prefix before '*'", "'*'"),
    ("a-*", 2, "a word prefix before '*'", "'*'"),
    ("s*", 1, "a prefix of at least 2 characters", "too short"),
    ('"strategic p*"', 12, "a prefix of at least 2 characters", "too short"),
    ("中*", 1, "a phrase without '*'", "Chinese"),
    ('"a b"*', 5, "a space, ')' or the end of the query after the closing quote", "inside"),
    ("strat*~morph", 0, "either '*' or lemma matching", "prefix"),
    ("speaker:Xi*", 10, "a complete value for 'speaker:'", "wildcard"),
    # phrases without words
    ('"..."', 0, CLAUSE, "no searchable words"),
    ('"!!"', 0, CLAUSE, "no searchable words"),
    ('a ""', 2, CLAUSE, "no searchable words"),
    ("a &&", 2, CLAUSE, "no searchable words"),
    ("lemma:!!", 6, CLAUSE, "no searchable words"),
    ("\x00", 0, CLAUSE, "no searchable words"),
    # fields
    ("foo:bar", 0, "one of the fields", "unknown field 'foo'"),
    ("a note:", 2, "one of the fields", "speaker, source, kind"),
    ("speaker: Xi", 8, "a value right after 'speaker:'", "no space"),
    ("speaker:", 8, "a value right after 'speaker:'", "no space"),
    ("lemma:", 6, "a value right after 'lemma:'", "no space"),
    ('speaker:""', 9, "a value for 'speaker:'", "empty"),
    ('speaker:"  "', 9, "a value for 'speaker:'", "empty"),
    # dates
    ("year:19", 5, "a year (YYYY)", "not a year"),
    ("year:2019-12", 5, "a year (YYYY)", "not a year"),
    ("year:>=", 7, "a year (YYYY)", "not a year"),
    ("year:..", 5, "a bound before or after '..'", "at least one bound"),
    ("year:2020..2016", 11, "a bound not before 2020", "empty"),
    ("year:2016..20x", 11, "a year (YYYY)", "not a year"),
    ("year:0000", 5, "a year (YYYY)", "not a valid calendar date"),
    ("year:>9999", 5, "a bound within years 1 to 9999", "outside the calendar"),
    ("date:<0001-01-01", 5, "a bound within years 1 to 9999", "outside the calendar"),
    ("date:2019-02-30", 5, "a date (YYYY-MM-DD, YYYY-MM or YYYY)", "calendar date"),
    ("date:2019-13", 5, "a date (YYYY-MM-DD, YYYY-MM or YYYY)", "calendar date"),
    ("date:2019/12/01", 5, "a date (YYYY-MM-DD, YYYY-MM or YYYY)", "not a date"),
    ("date:２０１９", 5, "a date (YYYY-MM-DD, YYYY-MM or YYYY)", "not a date"),
    (
        'published:"<=2020-12-29"x',
        24,
        "a space, ')' or the end of the query after the closing quote",
        "closing",
    ),
]


@pytest.mark.parametrize(
    ("query", "position", "expected", "words"), ERRORS, ids=[e[0] for e in ERRORS]
)
def test_errors_name_position_and_expectation(
    query: str, position: int, expected: str, words: str
) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    err = info.value
    assert err.position == position
    assert err.expected is not None and err.expected.startswith(expected)
    assert words in err.detail
    assert err.status == 400
    assert err.errors == [{"position": position, "expected": err.expected, "message": err.detail}]


def test_first_error_in_reading_order_wins() -> None:
    # The lexer runs lazily, so the unclosed '(' at 0 is not reported before the bad
    # prefix further on, and vice versa.
    with pytest.raises(QueryError) as info:
        parse_query("a OR OR s*")
    assert info.value.position == 5


def test_query_length_limit() -> None:
    assert parse_query("a" * MAX_QUERY_CHARS) == ph("a" * MAX_QUERY_CHARS)
    with pytest.raises(QueryError) as info:
        parse_query("a" * (MAX_QUERY_CHARS + 1))
    assert info.value.position == MAX_QUERY_CHARS
    assert info.value.expected == f"at most {MAX_QUERY_CHARS} characters"


def test_clause_limit_counts_words_phrases_and_filters() -> None:
    ok = " ".join(["w"] * (MAX_CLAUSES - 1) + ["kind:call"])
    assert len(parse_query(ok).children) == MAX_CLAUSES  # type: ignore[union-attr]
    too_many = " ".join(["w"] * MAX_CLAUSES + ["kind:call"])
    with pytest.raises(QueryError) as info:
        parse_query(too_many)
    assert info.value.position == 2 * MAX_CLAUSES
    assert info.value.expected == f"at most {MAX_CLAUSES} clauses"


def test_near_counts_as_one_clause() -> None:
    query = " ".join(["w"] * (MAX_CLAUSES - 1) + ["a NEAR b"])
    assert len(parse_query(query).children) == MAX_CLAUSES  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "query",
    [
        "(" * 999 + "a" + ")" * 999,
        "-" * 1999 + "a",
        "NOT " * 499 + "a",
        "(-" * 999 + "a",
        "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
    ],
)
def test_deep_nesting_is_an_error_not_a_crash(query: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    assert info.value.expected == f"at most {MAX_DEPTH} levels of nesting"


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse_query("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH) == ph("a")
    assert parse_query("a " + "-(" * (MAX_DEPTH // 2) + "b" + ")" * (MAX_DEPTH // 2))


# ---------------------------------------------------------------------------------------
# Properties

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = [
    " ",
    "  ",
    "a",
    "bc",
    "Ёлка",
    "中俄",
    "China’s",
    "good-neighborliness",
    '"',
    "(",
    ")",
    "-",
    "*",
    "~",
    "~3",
    "~morph",
    "~99",
    ":",
    "OR",
    " OR ",
    "AND",
    " AND ",
    "NOT ",
    "NEAR",
    " NEAR/3 ",
    "NEAR/",
    "speaker:",
    "year:",
    "date:",
    "lemma:",
    "foo:",
    "2019",
    "..",
    ">=",
    "<",
    "2019-12-01",
    "12:30",
    "http://x",
    "\x00",
    "\u0301",
    "\n",
    "ﬁ",
    "ß",
    "İ",
]
fragments = st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join)


def parse_or_error(text: str) -> Node | None:
    try:
        return parse_query(text)
    except QueryError as err:
        assert err.position is not None and 0 <= err.position <= len(text)
        assert err.expected
        return None


def refolds(node: Node) -> bool:
    """Whether every phrase token in `node` folds to itself under `terms()`."""
    if isinstance(node, Phrase):
        return all(terms(t) == [t] for t in node.tokens)
    if isinstance(node, Near):
        return refolds(node.left) and refolds(node.right)
    if isinstance(node, (And, Or)):
        return all(refolds(c) for c in node.children)
    if isinstance(node, Not):
        return refolds(node.child)
    return True


def test_round_trip_of_tokens_that_refold_differently() -> None:
    # 'ß' + U+0301 folds to 'sś' (NFKC after casefold makes folding idempotent).
    node = parse_query("ß\u0301")
    assert parse_query(format_query(node)) == node


@PROPERTY
@given(st.text())
def test_any_text_parses_or_raises_query_error(text: str) -> None:
    node = parse_or_error(text)
    if node is not None and refolds(node):
        assert parse_query(format_query(node)) == node


@PROPERTY
@given(fragments)
def test_query_like_text_parses_or_raises_query_error(text: str) -> None:
    node = parse_or_error(text)
    if node is not None and refolds(node):
        assert parse_query(format_query(node)) == node


@PROPERTY
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=MAX_QUERY_CHARS + 50))
def test_long_unicode_never_crashes(text: str) -> None:
    parse_or_error(text)


# A grammar for valid queries: everything generated must parse.
LETTERS = "abcdefghijklmnopqrstuvwxyzабвгдеёжзийклмнопрстуфхцчшщыэюяABCÉЁЖ"
HAN = "中俄新时代人类命运共同体"
plain_word = st.one_of(
    st.text(alphabet=LETTERS, min_size=1, max_size=8),
    st.text(alphabet=HAN, min_size=1, max_size=4),
    st.sampled_from(["good-neighborliness", "China’s", "2019", "or", "and", "not", "near"]),
).filter(lambda w: w not in ("OR", "AND", "NOT", "NEAR"))
prefix_word = st.text(alphabet="abcdefghйцукен", min_size=2, max_size=6).map(lambda w: w + "*")
slop = st.integers(0, 50).map(lambda n: f"~{n}")
multi_words = st.lists(plain_word, min_size=2, max_size=4).map(" ".join)


@st.composite
def phrases(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["word", "quoted", "slop", "prefix", "lemma", "morph"]))
    if kind == "word":
        return draw(plain_word)
    if kind == "quoted":
        return '"' + draw(st.lists(plain_word, min_size=1, max_size=4).map(" ".join)) + '"'
    if kind == "slop":
        return '"' + draw(multi_words) + '"' + draw(slop)
    if kind == "prefix":
        word = draw(prefix_word)
        return word if draw(st.booleans()) else f'"{draw(multi_words)} {word}"'
    body = draw(st.one_of(plain_word, multi_words.map(lambda w: f'"{w}"')))
    return f"lemma:{body}" if kind == "lemma" else f"{body}~morph"


years = st.integers(2, 9998)  # `<0001` and `>9999` are outside the calendar
dates = st.dates(dt.date(1, 1, 2), dt.date(9999, 12, 30))


@st.composite
def filters(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["text", "quoted", "year", "date"]))
    field = draw(
        st.sampled_from(["speaker", "source", "kind", "lang", "series", "addressee", "id"])
    )
    if kind == "text":
        return f"{field}:" + draw(st.sampled_from(["Xi", "call", "en", "a:b", "k-1", "Путин"]))
    if kind == "quoted":
        return f'{field}:"' + draw(st.sampled_from(["Xi Jinping", "a (b)", "x*", "-1"])) + '"'
    if kind == "year":
        a, b = sorted(draw(st.lists(years, min_size=2, max_size=2)))
        form = draw(
            st.sampled_from(["{a}", "{a}..{b}", "{a}..", "..{b}", ">={a}", ">{a}", "<{b}", "<={b}"])
        )
        return "year:" + form.format(a=f"{a:04d}", b=f"{b:04d}")
    first, last = sorted(draw(st.lists(dates, min_size=2, max_size=2)))
    field = draw(st.sampled_from(["date", "published"]))
    form = draw(st.sampled_from(["{a}", "{a}..{b}", ">={a}", ">{a}", "<{b}", "<={b}", "{y}"]))
    return f"{field}:" + form.format(a=first.isoformat(), b=last.isoformat(), y=f"{first.year:04d}")


@st.composite
def nears(draw: st.DrawFn) -> str:
    op = draw(st.sampled_from(["NEAR", "NEAR/0", "NEAR/3", "NEAR/50"]))
    return f"{draw(phrases())} {op} {draw(phrases())}"


def compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    many = st.lists(inner, min_size=2, max_size=3)
    return st.one_of(
        many.map(" ".join),
        many.map(" AND ".join),
        many.map(" OR ".join),
        inner.map(lambda q: f"-({q})"),
        inner.map(lambda q: f"NOT ({q})"),
        inner.map(lambda q: f"({q})"),
    )


atoms = st.one_of(phrases(), filters(), nears(), phrases().map(lambda p: "-" + p))
valid_queries = st.recursive(atoms, compound, max_leaves=12)


@PROPERTY
@given(valid_queries)
def test_valid_queries_parse_and_round_trip(query: str) -> None:
    node = parse_query(query)
    text = format_query(node)
    assert parse_query(text) == node
    assert format_query(parse_query(text)) == text  # the canonical form is a fixpoint
