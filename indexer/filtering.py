"""Filters evaluated in Python: the same semantics the engines apply, for one statement.

Used to compute corpus denominators (how many statements and tokens a filter admits)
and to settle the few matches engines can only approximate (proximity inside OR).
A `field:value` filter holds when the folded tokens of `value` stand consecutively in
one of the field's values: `source:kremlin` matches "President of Russia (en.kremlin.ru)".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from indexer.backends.base import StatementMeta
from indexer.query import And, DateRange, FieldIs, MatchAll, Near, Node, Not, Or, Phrase
from indexer.text import count_phrase, terms

VALUE_SEPARATOR = " | "  # joins multi-valued fields so a phrase never spans two values


def filter_value_tokens(values: Iterable[str]) -> str:
    """The indexed form of a (multi-valued) filter field: folded tokens, values separated."""
    return VALUE_SEPARATOR.join(" ".join(t) for t in (terms(v) for v in values) if t)


def statement_values(meta: StatementMeta, field: str) -> tuple[str, ...]:
    """The values of a filter field for a statement (addressee: all its addressees)."""
    return {
        "speaker": meta.speakers,
        "source": (meta.source,),
        "kind": (meta.kind,),
        "lang": (meta.language,),
        "series": meta.series,
        "addressee": meta.addressees,
        "id": (meta.id,),
    }[field]


def value_matches(values: Iterable[str], wanted: str) -> bool:
    """True when `wanted`'s folded tokens stand consecutively in one of `values`."""
    want = terms(wanted)
    if not want:
        return False
    return any(count_phrase(terms(v), want) for v in values)


def evaluate(
    node: Node,
    meta: StatementMeta,
    addressee: str | None,
    leaf_truth: Callable[[Phrase | Near], bool],
    *,
    statement_level: bool = False,
) -> bool:
    """Whether one passage (of statement `meta`, addressed to `addressee`) matches `node`,
    given the truth of each text clause. With `statement_level`, whether the statement
    as a whole is admitted (an addressee filter then looks at all its addressees)."""
    if isinstance(node, (Phrase, Near)):
        return leaf_truth(node)
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, FieldIs):
        if node.field == "addressee" and not statement_level:
            return addressee is not None and value_matches([addressee], node.value)
        return value_matches(statement_values(meta, node.field), node.value)
    if isinstance(node, DateRange):
        day = meta.published if node.field == "published" else meta.date
        return (node.lo is None or day >= node.lo) and (node.hi is None or day <= node.hi)
    if isinstance(node, Not):
        return not evaluate(
            node.child, meta, addressee, leaf_truth, statement_level=statement_level
        )
    if isinstance(node, And):
        return all(
            evaluate(c, meta, addressee, leaf_truth, statement_level=statement_level)
            for c in node.children
        )
    if isinstance(node, Or):
        return any(
            evaluate(c, meta, addressee, leaf_truth, statement_level=statement_level)
            for c in node.children
        )
    raise TypeError(f"unknown query node {node!r}")
