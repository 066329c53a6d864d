"""The matching model: normalisation, tokens with offsets, and passage splitting.

Every backend and every count obeys this module. Text is compared after NFKC, case
folding, NFKC again (so folding twice changes nothing) and ё→е; each Han character is a
token, otherwise a token is a maximal run of Unicode letters, marks and decimal digits;
everything else separates tokens. Offsets always point into the original text, so hits
can be shown as they were written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import regex

from indexer.model import Passage

# Set difference (V1) keeps Han characters out of letter runs: each is a token alone.
_TOKEN = regex.compile(r"\p{Han}|[[\p{L}\p{M}\p{Nd}]--\p{Han}]+", regex.V1)
_BLANK_LINE = re.compile("\n[ \t\r\f\v\u00a0\u3000]*\n")
# A hard-wrapped line ends a paragraph only after sentence-final punctuation, possibly
# followed by a closing quote or bracket.
_SENTENCE_END = frozenset(".!?。！？…:：")
_CLOSED_SENTENCE_END = frozenset(".!?。！？")
_CLOSERS = frozenset('"”’»」』)）')
# One Han character: each is a token alone (the one pattern every module uses for it).
HAN = regex.compile(r"\p{Han}")
_FIRST_HAN = "\u2e80"  # no Han character sorts below it: a cheap test before the regex


# Characters that are never letters, marks or digits, and stay so under NFKC: general
# punctuation (quotes, dashes, spaces, zero-width joiners), NBSP and guillemets. Mapping
# them to spaces one for one keeps offsets and tokens, and lets most English text take the
# ASCII path below. Not U+2017 (double low line) and U+203E (overline): NFKC makes each a
# space and a combining mark, which joins the next word's token.
_PUNCT_CLASS = "\u2000-\u2016\u2018-\u203d\u203f-\u206f\u00a0\u00ab\u00bb"
_PUNCT = re.compile(f"[{_PUNCT_CLASS}]")
_NOT_PUNCT = re.compile(f"[^{_PUNCT_CLASS}]")
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")
_ASCII = bytes(range(128))
# On UTF-8 bytes: ASCII letters lower-cased, digits kept, every other byte a space, so
# that `split()` yields exactly the runs of [a-z0-9] (C loops, no regex match objects).
_ASCII_FOLD = bytes(
    c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in range(256)
)
# On `_ASCII_FOLD`'s output: every token byte an "a", spaces kept.
_ASCII_RUNS = bytes(32 if c == 32 else 97 for c in range(256))


def _ascii_bytes(text: str) -> bytes | None:
    """`text` in UTF-8 when all its non-ASCII characters are in _PUNCT (where the matching
    model reduces to runs of [a-z0-9], the rest separating them); else None."""
    if text.isascii():
        return text.encode("ascii")
    # Deleting the ASCII bytes leaves whole UTF-8 sequences: the non-ASCII characters
    # alone, few, so checking them is cheap where a regex over all of `text` is not.
    raw = text.encode("utf-8", "surrogatepass")
    rest = raw.translate(None, _ASCII).decode("utf-8", "surrogatepass")
    return raw if _NOT_PUNCT.search(rest) is None else None


def on_ascii_path(text: str) -> bool:
    """Whether `text` takes the ASCII path (its tokens are the runs of [a-z0-9]), as the
    native writer's tokeniser decides it."""
    return _ascii_bytes(text) is not None


def _ascii_view(text: str) -> str | None:
    """`text` lower-cased, if after the punctuation mapping it is plain ASCII; else None."""
    if not text.isascii():
        if max(text) > "\u206f":
            return None  # a character above every mapped one (Chinese text): no view
        text = _PUNCT.sub(" ", text)
        if not text.isascii():
            return None
    return text.lower()


def fold(text: str) -> str:
    """Normalise a string under the matching model (NFKC, case folding, NFKC again so that
    folding is idempotent, ё→е)."""
    once = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFKC", once).replace("ё", "е")


class _CharFolds(dict[int, str]):
    """`fold` of each character, computed when first asked for: a `str.translate` table."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = fold(chr(code))
        return folded


class _OneForOne(dict[int, str]):
    """A `str.translate` table deleting each character whose fold is one character."""

    def __missing__(self, code: int) -> str:
        kept = self[code] = "" if len(_CHAR_FOLDS[code]) == 1 else "x"
        return kept


_CHAR_FOLDS = _CharFolds()
_ONE_FOR_ONE = _OneForOne()
_MARK = regex.compile(r"\p{M}")
# Text in clusters (a base and its marks, or marks at the start), with the one-character
# clusters (a character that is not a mark and has none after it) taken a run at a time:
# group 1 is such a run.
_RUN_OR_CLUSTER = regex.compile(r"((?:\P{M}(?!\p{M}))+)|\P{M}\p{M}+|\p{M}+")


# Text made only of these characters folds one for one, with no character composing with
# another: ASCII, Han ideographs (their own fold), CJK punctuation and the quotes and dashes
# Chinese uses (their own), the ideographic space (a space) and full-width ASCII (ASCII).
# Chinese text with full-width punctuation is not NFKC-normalised, and folding it
# character by character through `_CHAR_FOLDS` cost about 50 µs a passage, a search page
# of Chinese snippets 2 ms; here it costs a few. tests/indexer/test_fast_paths.py holds
# each character to `fold`.
_CJK_FOLDS_ONE_FOR_ONE = re.compile(
    "[\t-\r -~\u00b7\u2010\u2012-\u2016\u2018-\u2023\u2027\u3000-\u3003\u3008-\u3011"
    "\u3014-\u301f\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff5e]*"
)
# Of those, the ones whose fold is another character than their case folding.
_CJK_NFKC_CHANGES = re.compile("[\u3000\uff01-\uff5e]")


def _fold_with_map(text: str) -> tuple[str, list[tuple[int, int]] | None]:
    """Fold `text`, returning the folded string and, for each folded character, the
    [start, end) span of the original characters it came from.

    The map is None when offsets are unchanged (the common, fast case).
    """
    if unicodedata.is_normalized("NFKC", text):
        cf = text.casefold()
        if len(cf) == len(text) and unicodedata.is_normalized("NFKC", cf):
            return cf.replace("ё", "е"), None
    if _CJK_FOLDS_ONE_FOR_ONE.fullmatch(text):
        for char in set(_CJK_NFKC_CHANGES.findall(text)):
            text = text.replace(char, _CHAR_FOLDS[ord(char)])
        return text.casefold(), None
    if not _MARK.search(text) and not text.translate(_ONE_FOR_ONE):
        # Without marks every cluster below is one character, and each folds to one:
        # the same string and offsets, a table lookup per character instead of a fold
        # (Chinese text with full-width punctuation, which NFKC maps, lands here; the
        # loop below cost a Chinese search's snippets 30 ms).
        return text.translate(_CHAR_FOLDS), None
    # Fold cluster by cluster (a base and its marks) so each folded char knows its source.
    # Runs of one-character clusters (no mark after them) go through the table at once;
    # only a base with its marks, and a character whose fold is longer or shorter, are
    # folded alone (a UN speech with one "ö" written as o + U+0308 had every one of its
    # hundreds of characters folded alone, 2 ms a passage).
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _RUN_OR_CLUSTER.finditer(text):
        run = m.group(1)
        if run is None:
            piece = fold(m.group())
            out.append(piece)
            spans.extend([m.span()] * len(piece))
            continue
        start = m.start()
        if not run.translate(_ONE_FOR_ONE):
            out.append(run.translate(_CHAR_FOLDS))
            spans.extend([(i, i + 1) for i in range(start, start + len(run))])
            continue
        for i, char in enumerate(run, start):
            piece = _CHAR_FOLDS[ord(char)]
            out.append(piece)
            spans.extend([(i, i + 1)] * len(piece))
    return "".join(out), spans


@dataclass(frozen=True, slots=True)
class Token:
    """A folded token and the [start, end) character span it came from in the original."""

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Tokens of `text` under the matching model, with offsets into `text`."""
    view = _ascii_view(text)
    if view is not None:
        return [Token(m.group(), m.start(), m.end()) for m in _ASCII_TOKEN.finditer(view)]
    folded, spans = _fold_with_map(text)
    if spans is None:
        return [Token(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(folded)]
    return [
        Token(m.group(), spans[m.start()][0], spans[m.end() - 1][1])
        for m in _TOKEN.finditer(folded)
    ]


class TokenOffsets:
    """The folded tokens of a text (`words`, exactly `[t.text for t in tokenize(text)]`)
    with each token's offsets found only when asked for.

    Snippets need the offsets of a few tokens in a passage of hundreds; building a `Token`
    per token cost most of a search's snippet time.
    """

    _finder: re.Pattern[str] | regex.Pattern[str]

    __slots__ = ("_finder", "_iter", "_map", "_source", "_spans", "words")

    def __init__(self, text: str) -> None:
        view = _ascii_view(text)
        if view is not None:
            self._finder, self._source, self._map = _ASCII_TOKEN, view, None
        else:
            folded, spans = _fold_with_map(text)
            self._finder, self._source, self._map = _TOKEN, folded, spans
        self.words: list[str] = self._finder.findall(self._source)
        self._spans: list[tuple[int, int]] = []
        self._iter: Iterator[Any] | None = None

    def span(self, i: int) -> tuple[int, int]:
        """[start, end) of token `i` in the original text."""
        if self._iter is None:
            self._iter = self._finder.finditer(self._source)
        spans, mapping = self._spans, self._map
        while len(spans) <= i:
            m = next(self._iter)
            if mapping is None:
                spans.append(m.span())
            else:
                spans.append((mapping[m.start()][0], mapping[m.end() - 1][1]))
        return spans[i]


@lru_cache(maxsize=1024)
def _ascii_phrase(tokens: tuple[str, ...]) -> re.Pattern[str]:
    # The first word opens the pattern and the word boundary before it is checked after
    # it: a pattern that starts with a literal is scanned for by re's fast prefix search,
    # about ten times faster than trying a leading assertion at every position.
    first, *rest = map(re.escape, tokens)
    tail = "".join(f"[^a-z0-9]+{t}" for t in rest)
    return re.compile(f"{first}(?<![a-z0-9]{first}){tail}(?![a-z0-9])")


# A letter, mark or digit that is not Han: what a non-Han token is a maximal run of.
_RUN_CHAR = regex.compile(r"[[\p{L}\p{M}\p{Nd}]--\p{Han}]", regex.V1)
# What lies between two non-Han tokens: at least one character that is no token's (a Han
# one would be a token itself).
_SEPARATION = regex.compile(r"[^\p{L}\p{M}\p{Nd}]+")

# Where the next occurrence of a phrase starts and ends in a text, from a position on.
Finder = Callable[[str, int], "tuple[int, int] | None"]


@lru_cache(maxsize=1024)
def _ascii_finder(tokens: tuple[str, ...]) -> Finder:
    search = _ascii_phrase(tokens).search

    def find(view: str, pos: int) -> tuple[int, int] | None:
        m = search(view, pos)
        return None if m is None else m.span()

    return find


@lru_cache(maxsize=1024)
def _unicode_finder(tokens: tuple[str, ...]) -> Finder:
    """The phrase's finder over folded text whose offsets folding kept."""
    first, rest = tokens[0], tokens[1:]
    han = [HAN.search(t) is not None for t in tokens]  # a Han token: one character
    run_at, separation_at = _RUN_CHAR.match, _SEPARATION.match

    # Not one regex per phrase: compiling a Unicode-class pattern costs milliseconds, more
    # than scanning a page of passages with this. Each token is found as a literal and its
    # neighbours checked with the two patterns compiled once above. A Han character is a
    # token on its own, so next to one no separator is needed (新时代: three tokens).
    def find(view: str, pos: int) -> tuple[int, int] | None:
        while (start := view.find(first, pos)) >= 0:
            pos = start + 1
            if not han[0] and start and run_at(view, start - 1):
                continue  # inside a longer run
            end = start + len(first)
            for i, token in enumerate(rest, 1):
                # Next to a Han token the next one may follow directly: tried first, as
                # it is in most Chinese text (a letter there is never a separation).
                if (han[i - 1] or han[i]) and view.startswith(token, end):
                    end += len(token)
                    continue
                gap = separation_at(view, end)
                if gap is None:
                    break
                end = gap.end()
                if not view.startswith(token, end):
                    break
                end += len(token)
            else:
                if han[-1] or not run_at(view, end):
                    return start, end
        return None

    return find


def phrase_offsets(text: str, phrases: Sequence[Sequence[str]]) -> list[tuple[int, int]] | None:
    """[start, end) in `text` of every occurrence of each folded phrase, in order: found
    over the lower-cased text where it takes the ASCII path (tokens are the runs of
    [a-z0-9]), else over the folded text where folding keeps every offset; None
    otherwise."""
    view = _ascii_view(text)
    if view is None:
        folded, spans = _fold_with_map(text)
        if spans is not None:
            return None
        return _all_starts(folded, [_unicode_finder(tuple(toks)) for toks in phrases])
    return _all_starts(view, [_ascii_finder(tuple(toks)) for toks in phrases])


def _all_starts(view: str, finders: Sequence[Finder]) -> list[tuple[int, int]]:
    found = set()
    for find in finders:
        # Each search resumes one character after the last start, so that overlapping
        # occurrences ("the the" in "the the the") are all found, as token by token.
        span = find(view, 0)
        while span is not None:
            found.add(span)
            span = find(view, span[0] + 1)
    return sorted(found)


def terms(text: str) -> list[str]:
    """The folded tokens of `text`, without offsets (the fast path for indexing)."""
    raw = _ascii_bytes(text)
    if raw is not None:
        return raw.translate(_ASCII_FOLD).decode("ascii").split()
    folded, _ = _fold_with_map(text)
    return _TOKEN.findall(folded)


def joined_terms(text: str) -> tuple[str, int]:
    """A string whose whitespace-separated words are `terms(text)`, and their number:
    what indexing needs (engines split on whitespace). Where the text is ASCII the string
    is the text with every non-token character a space, made without a str per token."""
    raw = _ascii_bytes(text)
    if raw is not None:
        spaced = raw.translate(_ASCII_FOLD)
        # Tokens are the runs of non-spaces: count where one starts, in C.
        return spaced.decode("ascii"), (b" " + spaced.translate(_ASCII_RUNS)).count(b" a")
    folded, _ = _fold_with_map(text)
    found = _TOKEN.findall(folded)
    return " ".join(found), len(found)


def has_terms(text: str) -> bool:
    """Whether `text` holds at least one token (`bool(terms(text))`, cheaper)."""
    # An ASCII letter or digit stays a word character through folding: no canonical
    # composition takes one as its second character, and marks after it join its token.
    if _ASCII_WORD.search(text) is not None:
        return True
    return _TOKEN.search(fold(text)) is not None


def count_phrase(haystack: list[str], phrase: list[str]) -> int:
    """Occurrences of `phrase` in `haystack`: each start position counts once."""
    n = len(phrase)
    if n == 0 or n > len(haystack):
        return 0
    first = phrase[0]
    count = 0
    for i, tok in enumerate(haystack):
        if tok == first and haystack[i : i + n] == phrase:
            count += 1
    return count


def _is_han(ch: str) -> bool:
    return ch >= _FIRST_HAN and HAN.match(ch) is not None


def _join_lines(lines: list[str]) -> str:
    if len(lines) == 1:
        return lines[0]
    joined = " ".join(lines)
    # No line ends with a hyphen (each line's end is followed by a space here) and no
    # Han character: the rules below would join every line with a space.
    if "- " not in joined and joined.isascii():
        return joined
    out = lines[0]
    for line in lines[1:]:
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha():
            out += line  # a word broken across lines keeps its hyphen, loses the break
        elif _is_han(out[-1]) and _is_han(line[0]):
            out += line  # Chinese is written without spaces
        else:
            out += " " + line
    return out


def _ends_paragraph(line: str) -> bool:
    """Whether a stripped, non-empty line ends with sentence-final punctuation (optionally
    closed by a quote or bracket). Checking the last two characters is enough: `strip()`
    removes every character the `\\s` of the matching model's regexes matches."""
    last = line[-1]
    return last in _SENTENCE_END or (
        last in _CLOSERS and len(line) > 1 and line[-2] in _CLOSED_SENTENCE_END
    )


def split_paragraphs(text: str) -> list[str]:
    """Split text into paragraphs: blank lines separate them, and so does a line break
    after sentence-final punctuation; other line breaks are hard wraps, joined back."""
    paragraphs: list[str] = []
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for block in _BLANK_LINE.split(text):
        current: list[str] = []
        for raw in block.split("\n"):
            line = raw.strip()
            if not line:
                continue
            current.append(line)
            if _ends_paragraph(line):
                paragraphs.append(_join_lines(current))
                current = []
        if current:
            paragraphs.append(_join_lines(current))
    return paragraphs


def split_passages(text: str) -> tuple[Passage, ...]:
    """Passages of a statement's text: its paragraphs that hold at least one token."""
    return tuple(
        Passage(i, p) for i, p in enumerate(p for p in split_paragraphs(text) if has_terms(p))
    )
