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
from dataclasses import dataclass

import regex

from indexer.model import Passage

# Set difference (V1) keeps Han characters out of letter runs: each is a token alone.
_TOKEN = regex.compile(r"\p{Han}|[[\p{L}\p{M}\p{Nd}]--\p{Han}]+", regex.V1)
_CLUSTER = regex.compile(r"\P{M}\p{M}*|\p{M}+")
_BLANK_LINE = regex.compile(r"\n[ \t\r\f\v\u00a0\u3000]*\n")
# A hard-wrapped line ends a paragraph only after sentence-final punctuation.
_PARAGRAPH_END = regex.compile(r"""(?:[.!?。！？…:：]|[.!?。！？]["”’»」』)）])\s*$""")
_HAN_EDGE = regex.compile(r"\p{Han}")


# Characters that are never letters, marks or digits, and stay so under NFKC: general
# punctuation (quotes, dashes, spaces, zero-width joiners), NBSP and guillemets. Mapping
# them to spaces one for one keeps offsets and tokens, and lets most English text take the
# ASCII path below.
_PUNCT = re.compile("[\u2000-\u206f\u00a0\u00ab\u00bb]")
_ASCII_TOKEN = re.compile(r"[a-z0-9]+")


def _ascii_view(text: str) -> str | None:
    """`text` lower-cased, if after the punctuation mapping it is plain ASCII (where the
    matching model reduces to runs of [a-z0-9]); else None."""
    if not text.isascii():
        text = _PUNCT.sub(" ", text)
        if not text.isascii():
            return None
    return text.lower()


def fold(text: str) -> str:
    """Normalise a string under the matching model (NFKC, case folding, NFKC again so that
    folding is idempotent, ё→е)."""
    once = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFKC", once).replace("ё", "е")


def _fold_with_map(text: str) -> tuple[str, list[tuple[int, int]] | None]:
    """Fold `text`, returning the folded string and, for each folded character, the
    [start, end) span of the original characters it came from.

    The map is None when offsets are unchanged (the common, fast case).
    """
    if unicodedata.is_normalized("NFKC", text):
        cf = text.casefold()
        if len(cf) == len(text) and unicodedata.is_normalized("NFKC", cf):
            return cf.replace("ё", "е"), None
    # Fold cluster by cluster (a base and its marks) so each folded char knows its source.
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _CLUSTER.finditer(text):
        piece = fold(m.group())
        out.append(piece)
        spans.extend([m.span()] * len(piece))
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


def terms(text: str) -> list[str]:
    """The folded tokens of `text`, without offsets (the fast path for indexing)."""
    view = _ascii_view(text)
    if view is not None:
        return _ASCII_TOKEN.findall(view)
    folded, _ = _fold_with_map(text)
    return _TOKEN.findall(folded)


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


def _join_lines(lines: list[str]) -> str:
    out = lines[0]
    for line in lines[1:]:
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha():
            out += line  # a word broken across lines keeps its hyphen, loses the break
        elif _HAN_EDGE.match(out[-1:]) and _HAN_EDGE.match(line[:1]):
            out += line  # Chinese is written without spaces
        else:
            out += " " + line
    return out


def split_paragraphs(text: str) -> list[str]:
    """Split text into paragraphs: blank lines separate them, and so does a line break
    after sentence-final punctuation; other line breaks are hard wraps, joined back."""
    paragraphs: list[str] = []
    for block in _BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        current: list[str] = []
        for raw in block.split("\n"):
            line = raw.strip()
            if not line:
                continue
            current.append(line)
            if _PARAGRAPH_END.search(line):
                paragraphs.append(_join_lines(current))
                current = []
        if current:
            paragraphs.append(_join_lines(current))
    return paragraphs


def split_passages(text: str) -> tuple[Passage, ...]:
    """Passages of a statement's text: its paragraphs that hold at least one token."""
    return tuple(
        Passage(number=i, text=p)
        for i, p in enumerate(p for p in split_paragraphs(text) if _TOKEN.search(fold(p)))
    )
