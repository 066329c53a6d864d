"""The ingest fast paths give exactly what their plain definitions give: tokens (against the
brute-force twin), paragraph splitting (against the original regex rule), the record's
JSON and content hash (against json.dumps), and the embedded engine's passage documents
(against `fields.documents`)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import os
import unicodedata
from typing import Any

import pytest
import regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from indexer.backends.embedded import EmbeddedBackend
from indexer.backends.fields import documents
from indexer.backends.pairs import COMMON, FREQUENT, pair_of, pair_terms, pair_terms_for
from indexer.model import Passage, Statement
from indexer.search import kwic
from indexer.text import _fold_with_map, fold, has_terms, joined_terms, split_paragraphs, terms
from tests import bruteforce

EXAMPLES = int(os.environ.get("TIFA_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# English-like text with the punctuation the ASCII paths map, and the characters that
# push text off them (or into JSON escapes).
AWKWARD = "aZ09 .,;:!?-\n\r\t\"'\\/«»\u00a0\u2014\u2019\u201c\u201d\u2026\u2060\u2070\u206f"
AWKWARD += "\u3000。！？」）中ёЁ\u0301ﬁ①\x00\x08\x0c\x1b\x7f\u2028\u2017\u203e"
SAMPLED = st.text(alphabet=st.sampled_from(AWKWARD), max_size=200)
TEXT = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(AWKWARD)), max_size=200
)


@FUZZ
@given(TEXT)
def test_token_fast_paths_match_terms(text: str) -> None:
    toks = terms(text)
    joined, count = joined_terms(text)
    assert joined.split() == toks and count == len(toks)
    assert has_terms(text) == bool(toks)


@FUZZ
@given(SAMPLED)
def test_terms_match_the_brute_force_twin(text: str) -> None:
    assert terms(text) == bruteforce.tokens(text)


# Chinese and Japanese text with the full- and half-width forms NFKC maps (one for one,
# or two into one: ｶﾞ), marks, ligatures and letters whose folds are longer (ß, ﬁ).
WIDE = st.text(
    alphabet=st.sampled_from(
        list("中国新时代，。：；！？（）「」、ＡＢ１２ｶﾞﾟ ab\n“”—·\u3000") * 3
        + list("\u0301\u3099ßﬁİёЁ①㍿\u00a0")
    ),
    max_size=80,
)


def _cluster_fold(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The matching model's fold of `text` cluster by cluster (a base and its marks),
    with each folded character's source span: what `_fold_with_map` must give."""
    out, spans = "", []
    for m in regex.finditer(r"\P{M}\p{M}*|\p{M}+", text):
        piece = fold(m.group())
        out += piece
        spans += [m.span()] * len(piece)
    return out, spans


def test_every_character_of_the_cjk_path_folds_one_for_one() -> None:
    """Each character `_fold_with_map` folds on its CJK path (Chinese text with full-width
    punctuation) folds as `fold` folds it, to one character."""
    from indexer.text import _CJK_FOLDS_ONE_FOR_ONE

    taken = [chr(c) for c in range(0x10000) if _CJK_FOLDS_ONE_FOR_ONE.fullmatch(chr(c)) is not None]
    assert len(taken) > 27_000  # Han ideographs, CJK punctuation, full-width ASCII
    for char in taken:
        assert _fold_with_map(char) == (fold(char), None)
        assert len(fold(char)) == 1
        assert not unicodedata.category(char).startswith("M")
    text = "".join(taken)
    assert _fold_with_map(text) == ("".join(map(fold, taken)), None)


@FUZZ
@given(st.one_of(WIDE, TEXT, SAMPLED))
@example("中国，新时代。")
@example("ｶﾞ")
def test_folding_with_offsets_equals_the_cluster_by_cluster_fold(text: str) -> None:
    folded, spans = _fold_with_map(text)
    cf = text.casefold()
    if (
        unicodedata.is_normalized("NFKC", text)
        and len(cf) == len(text)
        and unicodedata.is_normalized("NFKC", cf)
    ):
        # Normalised, and case folding keeps every offset: folded whole.
        assert (folded, spans) == (cf.replace("ё", "е"), None)
    else:
        want, want_spans = _cluster_fold(text)
        assert folded == want
        assert (spans or [(i, i + 1) for i in range(len(text))]) == want_spans


_BLANK_LINE = regex.compile(r"\n[ \t\r\f\v\u00a0\u3000]*\n")
_PARAGRAPH_END = regex.compile(r"""(?:[.!?。！？…:：]|[.!?。！？]["”’»」』)）])\s*$""")
_HAN = regex.compile(r"\p{Han}")


def _reference_paragraphs(text: str) -> list[str]:
    """split_paragraphs as first written: a regex for the paragraph end."""
    paragraphs: list[str] = []

    def join(lines: list[str]) -> str:
        out = lines[0]
        for line in lines[1:]:
            hyphen = out.endswith("-") and len(out) > 1 and out[-2].isalpha()
            han = _HAN.match(out[-1:]) and _HAN.match(line[:1])
            out += line if hyphen or han else " " + line
        return out

    for block in _BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        current: list[str] = []
        for raw in block.split("\n"):
            line = raw.strip()
            if line:
                current.append(line)
                if _PARAGRAPH_END.search(line):
                    paragraphs.append(join(current))
                    current = []
        if current:
            paragraphs.append(join(current))
    return paragraphs


@FUZZ
@given(TEXT)
@example('."\nnext')
@example(")\nnext -\nline。」\n中\n文\u3000\n\nend…  \r\nx")
def test_paragraph_splitting_matches_the_regex_rule(text: str) -> None:
    assert split_paragraphs(text) == _reference_paragraphs(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
STATEMENTS = st.builds(
    Statement,
    id=TEXT.filter(bool),
    date=st.dates(min_value=dt.date(1900, 1, 1)),
    text=TEXT,
    title=TEXT,
    published=st.none() | st.dates(min_value=dt.date(1900, 1, 1)),
    source=TEXT,
    url=st.none() | TEXT,
    license=TEXT,
    language=st.sampled_from(["en", "ru", "zh"]),
    kind=st.sampled_from(["speech", "other"]),
    speakers=st.lists(TEXT, max_size=2).map(tuple),
    series=st.lists(TEXT, max_size=2).map(tuple),
    meta=st.dictionaries(TEXT, JSON, max_size=4),
    passages=st.lists(st.tuples(TEXT, st.none() | TEXT), max_size=4).map(
        lambda ps: tuple(Passage(i, t, a) for i, (t, a) in enumerate(ps))
    ),
)


def _or_refused(fn: Any) -> Any:
    try:
        return fn()
    except UnicodeEncodeError:
        return "refused"  # a lone surrogate: both ways must refuse it


@FUZZ
@given(STATEMENTS)
def test_record_json_and_content_hash_match_json_dumps(statement: Statement) -> None:
    record = statement.to_record()
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False)
    expected = _or_refused(
        lambda: hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()
    )
    assert _or_refused(statement.content_hash) == expected
    fresh = dataclasses.replace(statement, _digest=None)
    stored = _or_refused(lambda: json.dumps(record, ensure_ascii=False).encode("utf-8"))
    assert _or_refused(fresh.record_json) == stored
    if expected != "refused":
        assert fresh.content_hash() == expected  # cached on the way


@pytest.mark.parametrize(
    "char",
    [chr(c) for c in range(0xA0)] + ["\u2028", "\u2029", "\ufeff", "\U0001f600", "\ud800"],
)
def test_a_string_piece_is_json_dumps(char: str) -> None:
    """orjson writes the record's strings; each character as json.dumps writes it (a lone
    surrogate refused with json.dumps's UTF-8 error)."""
    from indexer.model import _json

    text = f'a{char}"{char}\\'
    expected = _or_refused(lambda: json.dumps(text, ensure_ascii=False).encode("utf-8"))
    assert _or_refused(lambda: _json(text)) == expected


SIMPLE = st.one_of(
    st.text(alphabet=st.sampled_from('ab ,."\\\n\tёЕжЁ中國é’—'), max_size=60),
    st.lists(st.sampled_from(["of", "The", "a", "и", "В", "x", ",", "\n"]), max_size=12).map(
        " ".join
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["en", "ru", "zh"]),
    st.lists(st.tuples(SIMPLE, st.none() | SIMPLE), min_size=1, max_size=4),
    st.booleans(),
)
def test_embedded_passage_documents_hold_what_fields_documents_hold(
    language: str, passages: list[tuple[str, str | None]], native: bool
) -> None:
    """(`native`: pair terms made by the extension when installed, else in Python.)"""
    statement = Statement(
        id='id "1"\\',
        date=dt.date(2020, 1, 2),
        text="x",
        language=language,
        speakers=("Владимир Путин", 'A "B"'),
        passages=tuple(Passage(i, t, a) for i, (t, a) in enumerate(passages)),
    )
    expected, _ = documents(statement)
    # Building documents needs no open index.
    backend = EmbeddedBackend.__new__(EmbeddedBackend)
    backend._pair_terms = pair_terms_for(native)
    built, _ = backend._documents(statement)
    for fields, doc, passage in zip(expected, built, statement.passages, strict=True):
        want = {k: v for k, v in fields.items() if k != "hash" and v != ""}
        # The passage's own text rides along for snippets (a bytes field: base64 in JSON).
        want["text"] = base64.b64encode(passage.text.encode("utf-8")).decode("ascii")
        # Passage number and token count share one fast field.
        want["pnt"] = want["pno"] << 32 | want.pop("ntok")
        # Adjacent words of one group (common, frequent) are also indexed as pairs.
        toks = want.get("tokens", "").split()
        pairs = [
            f"{a}_{b}"
            for a, b in itertools.pairwise(toks)
            if {a, b} <= COMMON or {a, b} <= FREQUENT
        ]
        if pairs:
            want["pairs"] = " ".join(pairs)
        # Lemmas are indexed only where they differ from the tokens, and marked so.
        if want.get("lemmas") == want.get("tokens"):
            want.pop("lemmas", None)
        else:
            want["lemmatised"] = "y"
        assert json.loads(doc) == want


# ---- search-time fast paths -------------------------------------------------------------

WORDS = st.sampled_from(
    [
        *("the", "of", "un", "a1", "The", "OF", "b", "Pérez", "cuéllar", "Ёлка", "елка"),
        *("中", "a\u0301", "新时代", "时代", "中国", "ａ", "ＯＦ"),
    ]
)
# Separators that keep text on the ASCII path, and ones that push it off: letters, Han,
# a byte-order mark, a lone combining mark, a ligature NFKC expands (offsets then move).
SEPARATORS = st.sampled_from(
    [
        *(" ", ", ", ".\n", "-", "\u2019", "\u00a0", "  ", "é", "ё", "中", "\ufeff", "\u0301"),
        *("ﬁ", "，", "。", "", "\u3000", "ｶﾞ"),
    ]
)


@st.composite
def _texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, max_size=25))
    out = draw(SEPARATORS) if draw(st.booleans()) else ""
    for w in words:
        out += w + draw(SEPARATORS)
    return out


@FUZZ
@given(_texts(), st.lists(WORDS, min_size=1, max_size=3), st.integers(0, 3))
@example("the the the ", ["the", "the"], 0)
@example("of-the, Of The", ["of", "the"], 0)
@example("Pérez\ufeffcuÉllar pérez-cuéllar", ["Pérez", "cuéllar"], 0)
@example("中a\u0301 b", ["a\u0301", "b"], 0)
@example("中国a1 中国，a1 a1中国 x中国a1 新时代", ["中国", "a1"], 0)
@example("a1中国 a1，中国 xa1中国 a1中国x", ["a1", "中国"], 0)
def test_snippets_found_by_regex_equal_those_found_by_tokens(
    text: str, words: list[str], limit: int
) -> None:
    """`kwic`'s regex paths for plain phrases (ASCII text, and folded text whose offsets
    folding keeps) mark exactly the spans the token path marks (`tokenize` and
    `matching.spans`), overlapping ones included."""
    from indexer.matching import spans
    from indexer.query import Phrase
    from indexer.search import _plain_offsets
    from indexer.text import tokenize

    phrase = Phrase(tuple(terms(" ".join(words))))
    toks = tokenize(text)
    want = [(toks[a].start, toks[b].end) for a, b in spans([t.text for t in toks], phrase)]
    got = _plain_offsets(text, [phrase])
    if got is not None:  # None: offsets move under folding: the token path
        assert got == sorted(want)
    assert [(s.start, s.end) for s in kwic(text, phrase, 0, 5, limit or None)] == sorted(want)[
        : limit or None
    ]


def _edges_by_loop(text: str, start: int, end: int, context: int) -> tuple[str, str]:
    """The snippet's context one character at a time: each edge moves inwards until it
    falls after (before) a space or beside a Han character."""

    def han(i: int) -> bool:
        return regex.match(r"\p{Han}", text[i]) is not None

    def cut(i: int) -> bool:
        return han(i - 1) or han(i)

    left, right = max(0, start - context), min(len(text), end + context)
    while left > 0 and not text[left - 1].isspace() and not cut(left) and left < start:
        left += 1
    while right < len(text) and not text[right].isspace() and not cut(right) and right > end:
        right -= 1
    return text[left:start], text[end:right]


@FUZZ
@given(_texts(), st.lists(WORDS, min_size=1, max_size=2), st.integers(0, 40))
@example("aa the bb", ["the"], 1)
@example("the\u2028x\x1cthe\x1cq the", ["the"], 3)
@example("中国特色社会主义新时代中国特色社会主义思想", ["新时代"], 4)
@example("GDP增长 the Ａ新时代b 中 ab", ["新时代"], 5)
def test_snippet_context_edges_equal_the_character_loop(
    text: str, words: list[str], context: int
) -> None:
    """The context is cut at spaces and beside Han characters by regex searches; they
    give what character-by-character loops give (\\s and str.isspace agree)."""
    from indexer.query import Phrase

    text = text.replace(",", "\u2028").replace("-", "\x1c\u3000")
    phrase = Phrase(tuple(terms(" ".join(words))))
    for snip in kwic(text, phrase, 0, context):
        assert (snip.left, snip.right) == _edges_by_loop(text, snip.start, snip.end, context)


def test_a_chinese_snippet_has_its_context_on_both_sides() -> None:
    """Chinese has no spaces between words: the context is cut at its width, beside any
    Han character, and never inside a Latin word next to it."""
    from indexer.query import Phrase

    text = "高举中国特色社会主义伟大旗帜，以习近平新时代中国特色社会主义思想为指导"
    [snip] = kwic(text, Phrase(tuple(terms("新时代"))), 0, 6)
    assert (snip.left, snip.match, snip.right) == ("帜，以习近平", "新时代", "中国特色社会")
    [snip] = kwic("增长GDP新时代增长率", Phrase(tuple(terms("新时代"))), 0, 2)
    assert (snip.left, snip.right) == ("", "增长")  # not "DP"


def _or_of(phrases: list[list[str]]) -> Any:
    from indexer.query import Or, Phrase

    nodes = tuple(Phrase(tuple(terms(" ".join(words)))) for words in phrases)
    return nodes[0] if len(nodes) == 1 else Or(nodes)


# Letters and punctuation around the extension's tables: ones that fold one for one
# (é, µ, ı, ’, ×, the BOM) and ones that do not (ß, İ, ſ, ǅ, ª, ², …, ‼, U+2017).
FOLDING = st.text(
    alphabet=st.sampled_from(
        list("aZ09 the un,.-\n\u2019\u00a0") * 4
        + list("éÉµıŁž×\ufeff°\u0085ßİſǅª²…‼\u2017\u2025\u0301ﬁ中РоссияЁёЎў")
    ),
    max_size=80,
)


@FUZZ
@given(
    st.one_of(_texts(), TEXT, SAMPLED, FOLDING, WIDE),
    st.lists(st.lists(WORDS, min_size=1, max_size=3), min_size=1, max_size=3),
    st.integers(0, 40),
    st.integers(0, 3),
)
@example("The UN, the—un theun", [["the", "un"], ["un", "the"]], 2, 0)
@example("the the the ", [["the", "the"], ["the"]], 0, 2)
@example("Côte the\u2026un the un", [["the", "un"]], 3, 0)
@example("Côte the\u2017un ſthe un", [["the", "un"]], 3, 0)
@example("Pérez the un", [["pérez"], ["the", "un"]], 3, 0)
@example("Dag HAMMARSKJÖLD\u00a0said, «Ёлка» µ", [["hammarskjöld"], ["елка"], ["μ"]], 6, 0)
@example("高举中国，以习近平新时代中国特色\u3000ＡＢ新时代ab", [["新时代"], ["ab"]], 4, 0)
def test_native_snippets_equal_pythons(
    text: str, phrases: list[list[str]], context: int, limit: int
) -> None:
    """The extension's snippet finder cuts exactly what `python_kwic` cuts (spans, their
    order, overlaps across phrases, edges, the limit), and leaves to it every text off
    the ASCII path."""
    from indexer.search import python_kwic, snippet_maker
    from tests.support.native import require_native

    require_native()
    node = [p for p in phrases if terms(" ".join(p))]
    if not node:
        return
    query = _or_of(node)
    want = python_kwic(text, query, 7, context, limit or None)
    assert snippet_maker(query)(text, 7, context, limit or None) == want


def test_native_snippets_treat_every_character_as_python_does() -> None:
    """Each character of the blocks the extension knows (ASCII, Latin-1, Latin
    Extended-A and -B, Cyrillic, general punctuation, currency signs, the minus sign,
    box drawing, block elements, geometric shapes) and a few it does not, between
    words and at the context's edges, in ASCII text and in text that folding takes,
    searched for ASCII words and for its own fold: token, space or neither, and its
    fold, exactly as in Python (where \\x1c-\\x1f are spaces, U+2014 is not, "ſ"
    folds to "s", "µ" to the Greek "μ" and "Ё" to "е"). Every character the letter
    path takes is among them."""
    from indexer.backends.native import ascii_snippets
    from indexer.search import python_kwic, snippet_maker
    from tests.support.native import require_native

    require_native()
    query = _or_of([["the", "un"]])
    domain = [chr(c) for c in range(0x250)] + [chr(c) for c in range(0x2000, 0x2070)]
    domain += [chr(c) for c in range(0x3F0, 0x470)]
    domain += [chr(c) for c in [*range(0x20A0, 0x20D0), *range(0x2210, 0x2214)]]
    domain += [chr(c) for c in range(0x2500, 0x2600)]
    domain += ["\ufeff", "\u2070", "\u3000", "中", "\U0001d400"]
    # The letter path (a phrase with a letter outside ASCII, in text with one) takes no
    # character outside the domain.
    raw = ascii_snippets([("é",)])
    assert raw is not None
    known = set(domain)
    for code in [*range(0xD800), *range(0xE000, 0x10000)]:
        if raw(f"é{chr(code)}", 0, None) is not None:
            assert chr(code) in known, hex(code)
    checked = 0
    for c in domain:
        texts = [f"ab{c}cd the{c}un ef{c}gh", f"{c}the un{c}", f"x{c}The UN{c}{c}y"]
        # The same with a letter that takes the text off the ASCII path into folding
        # (Latin or Cyrillic), and with a mark that composes with the character.
        texts += [f"é {t}" for t in texts] + [f"the un {c}\u0301 the{c}un", f"é the {c} un"]
        texts += [f"Ёлка {c}the{c}un", f"ab{c}{c.upper()} {c}ё Pérez{c}"]
        # Also searched for what the character folds to ("ss" for ß, "a" for ª, "é" for
        # É): a table holding a letter wrongly, or its wrong fold, would miss it.
        queries = [query]
        own = terms(c)
        if own:
            queries.append(_or_of([["the", "un"], own]))
            queries.append(_or_of([["pérez"], own]))
        for text, q, context in itertools.product(texts, queries, (0, 1, 2, 3, 4, 6)):
            want = python_kwic(text, q, 0, context)
            assert snippet_maker(q)(text, 0, context, None) == want, (hex(ord(c)), text)
            checked += len(want)
    assert checked > 0


def test_native_cjk_path_treats_every_character_as_python_does() -> None:
    """The extension's path for Chinese text takes exactly the characters Python folds
    one for one without its table (`_CJK_FOLDS_ONE_FOR_ONE`), and cuts around each
    (ideographs sampled) what `python_kwic` cuts: spans, and edges beside Han."""
    from indexer.backends.native import ascii_snippets
    from indexer.search import python_kwic, snippet_maker
    from indexer.text import _CJK_FOLDS_ONE_FOR_ONE
    from tests.support.native import require_native

    require_native()
    raw = ascii_snippets([("中",)])
    assert raw is not None
    taken = []
    for code in [*range(0xD800), *range(0xE000, 0x10000)]:
        c = chr(code)
        on_path = _CJK_FOLDS_ONE_FOR_ONE.fullmatch(c) is not None
        # A Han ideograph keeps the text off the other paths: only this one can take it.
        assert (raw(f"中{c}", 0, None) is not None) is on_path, hex(code)
        if on_path:
            taken.append(c)
    assert len(taken) > 27_000
    queries = [_or_of([["新时代"], ["ab"]]), _or_of([["中"]])]
    checked = 0
    for c in taken:
        if regex.match(r"\p{Han}", c) and ord(c) % 97:
            continue
        texts = [f"中{c}新时代{c}ab{c}", f"{c}新{c}时代 ab{c}cd中", f"AB{c}中国{c}{c}新时代"]
        own = [q for q in (_or_of([terms(c)]),) if terms(c)]
        for text, q, context in itertools.product(texts, queries + own, (0, 1, 2, 4)):
            want = python_kwic(text, q, 0, context)
            assert snippet_maker(q)(text, 0, context, None) == want, (hex(ord(c)), text)
            checked += len(want)
    assert checked > 0


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from([0.5, 1.0, 2.0]), st.integers(0, 3), st.integers(0, 50)),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 45),
)
def test_first_page_without_a_full_sort_equals_the_full_sort(
    rows: list[tuple[float, int, int]], n: int
) -> None:
    """`_Orders.head` (partition, then sort the rows tied with the n-th) gives the first
    `n` of the full sort, ties included, for every order."""
    import numpy as np

    from indexer.search import SORTS, _Orders

    scores = np.array([r[0] for r in rows], dtype=np.float64)
    dates = np.array([r[1] for r in rows], dtype=np.int64)
    ids = np.array([r[2] for r in rows], dtype=np.int64)
    for sort in SORTS:
        assert _Orders(scores, dates, ids).head(sort, n) == _Orders(scores, dates, ids)[sort][:n]


def test_pairs_are_made_within_each_group_of_words() -> None:
    """Function words pair with function words, frequent content words with frequent
    content words, and never across: "the council" and "rights of" are no pairs."""
    tokens = "of the human rights council of the peace b peace"
    assert pair_terms(tokens) == "of_the human_rights rights_council of_the"
    assert pair_of(["human", "rights"]) == "human_rights"
    assert pair_of(["of", "the"]) == "of_the"
    assert pair_of(["the", "council"]) is None
    assert pair_of(["peace", "b"]) is None
    assert pair_of(["human", "rights", "council"]) is None
    assert not COMMON & FREQUENT
    assert {"human", "rights", "security", "council", "climate", "change"} <= FREQUENT


@FUZZ
@given(
    st.lists(
        st.sampled_from(["of", "the", "и", "в", "peace", "rights", "中", "a1", "ё"]), max_size=30
    )
)
def test_native_pair_terms_equal_python_pair_terms(words: list[str]) -> None:
    from tests.support.native import require_native

    require_native()
    made = pair_terms_for(native=True)
    assert made is not pair_terms
    for sep in (" ", "   ", " \t "):
        tokens = sep.join(words)
        assert made(tokens) == pair_terms(tokens)


# Around the extension's keys: words of up to 16 bytes are looked up packed into one
# integer, longer ones by their strings; prefixes of one another must stay apart.
_KEYED_GROUPS = (
    ["a", "ab", "abcdefghijklmnop", "abcdefghijklmnopq", "internationalisation", "é"],
    ["b", "abcdefghijklmno", "déclaration"],
)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [w for g in _KEYED_GROUPS for w in g]
            + ["abc", "abcdefghijklmnopqr", "internationalisations", "e", "a\u0301", ""]
        ),
        max_size=20,
    )
)
def test_native_pair_terms_key_words_of_any_length(words: list[str]) -> None:
    from indexer.backends.native import pair_maker
    from tests.support.native import require_native

    require_native()
    made = pair_maker([set(g) for g in _KEYED_GROUPS], "_")
    assert made is not None
    group = {w: g for g, ws in enumerate(_KEYED_GROUPS) for w in ws}
    tokens = [w for w in words if w]
    expected = " ".join(
        f"{a}_{b}" for a, b in itertools.pairwise(tokens) if a in group and group.get(b) == group[a]
    )
    assert made(" ".join(tokens)) == expected
