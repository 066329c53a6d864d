"""Discovery as queries: phrases recurring across the years of a series or of a filtered
subcorpus, and the key terms of one subcorpus (or period) against another.

A subcorpus is the passages a query matches (a filters-only query: every passage of the
statements it admits); a series is its statements as of a date (see services.series).
Texts are tokenized under the matching model, so every phrase found can be searched.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from app.analysis.discovery import KeyTerm, RecurringNgram, join_tokens, keyness, recurring_ngrams
from app.services.series import Catalog, series_view
from indexer.backends.base import StatementMeta
from indexer.errors import InvalidInput, TooLarge
from indexer.query import Node
from indexer.search import Search
from indexer.text import terms

MAX_STATEMENTS = 2000
MAX_N = 7


@dataclass(frozen=True, slots=True)
class Subcorpus:
    """What a discovery ran over: statements, passages and tokens, and its years."""

    statements: int
    passages: int
    tokens: int
    years: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class NgramResult:
    subcorpus: Subcorpus
    ngrams: tuple[RecurringNgram, ...]


@dataclass(frozen=True, slots=True)
class KeynessResult:
    target: Subcorpus
    reference: Subcorpus
    terms: tuple[KeyTerm, ...]


# (statement, passage number, year) -> passage tokens
Texts = list[tuple[StatementMeta, int, int, list[str]]]


def _texts(
    search: Search, wanted: Mapping[int, Sequence[int]], year_of: Mapping[int, int]
) -> Texts:
    metas = {m.key: m for m in search.backend.statements()}
    if len(wanted) > MAX_STATEMENTS:
        raise TooLarge(
            f"the subcorpus holds {len(wanted)} statements; at most {MAX_STATEMENTS} can be "
            "read for discovery: narrow it with a query or filters"
        )
    pairs = [(k, p) for k, ps in wanted.items() for p in ps]
    texts = search.backend.passage_texts(pairs)
    return [
        (metas[k], p, year_of[k], terms(texts[(k, p)]))
        for k, p in sorted(pairs)
        if (k, p) in texts and k in metas
    ]


def _subcorpus(texts: Texts) -> Subcorpus:
    return Subcorpus(
        statements=len({m.key for m, _, _, _ in texts}),
        passages=len(texts),
        tokens=sum(len(t) for _, _, _, t in texts),
        years=tuple(sorted({y for _, _, y, _ in texts})),
    )


def subcorpus_texts(search: Search, node: Node) -> Texts:
    """The passages `node` matches, tokenized, with their statement's year."""
    ranked = search.ranked(node)
    wanted: dict[int, list[int]] = {}
    for key, pno in zip(
        ranked.matches.keys.tolist(), ranked.matches.passages.tolist(), strict=True
    ):
        wanted.setdefault(int(key), []).append(int(pno))
    metas = {m.key: m for m in search.backend.statements()}
    return _texts(search, wanted, {k: metas[k].date.year for k in wanted if k in metas})


def series_texts(
    search: Search, catalog: Catalog, series_id: str, as_of: dt.date | None = None
) -> Texts:
    """The passages of a series' statements as of `as_of`, by season year."""
    view = series_view(search, catalog, series_id, as_of)
    wanted: dict[int, list[int]] = {}
    year_of: dict[int, int] = {}
    for y in view.years:
        for s in y.statements:
            numbers = sorted(s.passages) if s.passages is not None else range(s.meta.passages)
            wanted[s.meta.key] = list(numbers)
            year_of[s.meta.key] = y.year
    return _texts(search, wanted, year_of)


def _check_n(min_n: int, max_n: int) -> None:
    if not 1 <= min_n <= max_n <= MAX_N:
        raise InvalidInput(f"need 1 <= min_n <= max_n <= {MAX_N}, got {min_n} and {max_n}")


def ngrams(
    texts: Texts, *, min_years: int = 2, min_n: int = 2, max_n: int = 5, limit: int = 50
) -> NgramResult:
    """Phrases of `min_n`..`max_n` tokens found in at least `min_years` distinct years
    (never across passages), most recurrent first, at most `limit`.
    Raises InvalidInput on bad bounds."""
    _check_n(min_n, max_n)
    if min_years < 1:
        raise InvalidInput("min_years must be at least 1")
    found = recurring_ngrams(
        [(y, toks) for _, _, y, toks in texts], min_years=min_years, min_n=min_n, max_n=max_n
    )
    return NgramResult(_subcorpus(texts), tuple(found[:limit]))


def _grams(texts: Texts, n: int) -> Counter[str]:
    out: Counter[str] = Counter()
    for _, _, _, toks in texts:
        out.update(join_tokens(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return out


def key_terms(
    target: Texts,
    reference: Texts,
    *,
    n: int = 1,
    min_freq: int = 5,
    min_log_likelihood: float = 3.84,
    direction: Literal["over", "under", "both"] = "over",
    limit: int = 50,
) -> KeynessResult:
    """Terms (n-grams of `n` tokens) over- or under-used in `target` against
    `reference`, by log-likelihood (G2, default threshold p < 0.05) with Hardie's log
    ratio. Raises InvalidInput when either side holds no text."""
    _check_n(n, n)
    a, b = _grams(target, n), _grams(reference, n)
    if not a or not b:
        side = "target" if not a else "reference"
        raise InvalidInput(f"the {side} subcorpus holds no text to compare")
    found = keyness(
        a, b, min_freq=min_freq, min_log_likelihood=min_log_likelihood, direction=direction
    )
    return KeynessResult(_subcorpus(target), _subcorpus(reference), tuple(found[:limit]))
