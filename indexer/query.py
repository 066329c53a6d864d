"""The query language as values: the AST every backend compiles, and `parse()`.

A query is a tree of text clauses (phrases, proximity, boolean operators) and field
filters. Phrase tokens are already folded under the matching model, so backends never
normalise again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from indexer.errors import QueryError
from indexer.text import terms

# Fields a filter may name (inline `field:value` or as a request parameter).
TEXT_FILTER_FIELDS = ("speaker", "source", "kind", "lang", "series", "addressee", "id")
RANGE_FILTER_FIELDS = ("year", "date", "published")

MAX_QUERY_CHARS = 2000
MAX_CLAUSES = 64
MAX_PREFIX_EXPANSIONS = 512


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive tokens (a single word is a one-token phrase).

    `prefix`: the last token is a word prefix (`strateg*`). `slop`: up to that many other
    tokens may stand between consecutive tokens, order kept (`"a b"~3`). `lemma`: match
    on lemmas (Russian inflections) instead of surface tokens.
    """

    tokens: tuple[str, ...]
    prefix: bool = False
    slop: int = 0
    lemma: bool = False


@dataclass(frozen=True, slots=True)
class Near:
    """Two phrases within `distance` tokens of each other, in either order."""

    left: Phrase
    right: Phrase
    distance: int


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class FieldIs:
    """A metadata filter: `field` equals `value` (speaker, source, kind, lang, ...)."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class DateRange:
    """`field` (year, date or published) within [lo, hi]; either end may be open."""

    field: str
    lo: dt.date | None
    hi: dt.date | None


@dataclass(frozen=True, slots=True)
class MatchAll:
    """Every passage (a query made of filters only)."""


Node = Phrase | Near | And | Or | Not | FieldIs | DateRange | MatchAll
Leaf = Phrase | Near


def leaves(node: Node) -> list[Leaf]:
    """The positive text clauses of a query: what occurrences are counted from."""
    if isinstance(node, (Phrase, Near)):
        return [node]
    if isinstance(node, (And, Or)):
        out: list[Leaf] = []
        for child in node.children:
            for leaf in leaves(child):
                if leaf not in out:
                    out.append(leaf)
        return out
    return []


def text_clauses(node: Node) -> list[Leaf]:
    """Every text clause of a query, negated ones included."""
    if isinstance(node, (Phrase, Near)):
        return [node]
    if isinstance(node, Not):
        return text_clauses(node.child)
    if isinstance(node, (And, Or)):
        out: list[Leaf] = []
        for child in node.children:
            out.extend(c for c in text_clauses(child) if c not in out)
        return out
    return []


def statement_level(node: Node) -> bool:
    """Whether a filter holds or fails for all passages of a statement alike (every
    field but the addressee, which each passage has of its own)."""
    if isinstance(node, FieldIs):
        return node.field != "addressee"
    if isinstance(node, (DateRange, MatchAll)):
        return True
    if isinstance(node, Not):
        return statement_level(node.child)
    if isinstance(node, (And, Or)):
        return all(statement_level(c) for c in node.children)
    return False


def with_filters(node: Node, filters: list[Node]) -> Node:
    """`node` restricted by extra filter clauses (from request parameters)."""
    if not filters:
        return node
    if isinstance(node, MatchAll):
        return filters[0] if len(filters) == 1 else And(tuple(filters))
    return And((node, *filters))


def phrase_of(text: str) -> Phrase:
    """A plain phrase from user text, folded under the matching model."""
    toks = terms(text)
    if not toks:
        raise QueryError(f"{text!r} holds no searchable words", position=0, expected="a word")
    return Phrase(tuple(toks))


def parse(text: str) -> Node:
    """Parse the query language; raise QueryError naming the position on bad input.

    This foundation version takes quoted phrases and bare words (ANDed).
    """
    from indexer.queryparser import parse_query

    node: Node = parse_query(text)
    return node
