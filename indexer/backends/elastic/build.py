"""Elasticsearch request bodies, built by pure functions from Tifa's query AST.

Nothing here talks to a server; tests compare these bodies with literal dicts. Text
fields hold pre-folded tokens analysed by whitespace only, so Elasticsearch sees exactly
the tokens the embedded engine sees.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from indexer import matching
from indexer.backends.fields import FILTER_FIELDS, day_number
from indexer.model import Statement
from indexer.query import And, DateRange, FieldIs, Leaf, MatchAll, Near, Node, Not, Or, Phrase
from indexer.text import terms

Body = dict[str, Any]
# (field, prefix) -> the indexed words it expands to, looked up before building.
Expansions = Mapping[tuple[str, str], Sequence[str]]


@cache
def _mappings() -> dict[str, Any]:
    text = resources.files("indexer.backends.elastic").joinpath("mappings.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def index_body(shards: int, replicas: int) -> Body:
    """Settings and mappings of a statements index."""
    m = _mappings()
    return {
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            **m["settings"],
        },
        "mappings": m["mappings"],
    }


def passage_text_field() -> Body:
    """The mapping of the passage text (kept, not indexed: snippets read it)."""
    field: Body = _mappings()["mappings"]["properties"]["text"]
    return field


def vocabulary_body(shards: int, replicas: int) -> Body:
    """Settings and mappings of the vocabulary index (prefix expansion)."""
    return {
        "settings": {"number_of_shards": shards, "number_of_replicas": replicas},
        "mappings": _mappings()["vocabulary"]["mappings"],
    }


def leaf_field(leaf: Phrase) -> str:
    return "lemmas" if leaf.lemma else "tokens"


def leaf_tokens(leaf: Phrase) -> list[str]:
    return matching.lemmas(leaf.tokens) if leaf.lemma else list(leaf.tokens)


def phrase_variants(leaf: Phrase, expansions: Expansions) -> list[list[str]]:
    """The plain token lists a phrase stands for (its prefix expanded)."""
    toks = leaf_tokens(leaf)
    if not leaf.prefix:
        return [toks]
    return [[*toks[:-1], word] for word in expansions.get((leaf_field(leaf), toks[-1]), ())]


def phrase_query(field: str, toks: Sequence[str]) -> Body:
    """Consecutive tokens in `field` (a term query for a single token)."""
    if len(toks) == 1:
        return {"term": {field: toks[0]}}
    return {"match_phrase": {field: {"query": " ".join(toks)}}}


def leaf_query(leaf: Leaf, expansions: Expansions) -> Body:
    """A query matching every passage where the clause occurs (a superset for slop and
    NEAR, which `indexer.matching` settles)."""
    if isinstance(leaf, Near):
        return {
            "bool": {
                "must": [leaf_query(leaf.left, expansions), leaf_query(leaf.right, expansions)]
            }
        }
    field = leaf_field(leaf)
    variants = phrase_variants(leaf, expansions)
    if not variants:
        return {"match_none": {}}
    if leaf.slop:
        return {
            "bool": {
                "must": [
                    {"terms": {field: sorted({v[k] for v in variants})}}
                    for k in range(len(leaf.tokens))
                ]
            }
        }
    if len(variants) == 1:
        return phrase_query(field, variants[0])
    return {
        "bool": {"should": [phrase_query(field, v) for v in variants], "minimum_should_match": 1}
    }


def compile_query(node: Node, expansions: Expansions) -> Body:
    """A filter-context query matching exactly the passages `node` matches."""
    if isinstance(node, (Phrase, Near)):
        return leaf_query(node, expansions)
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, FieldIs):
        toks = terms(node.value)
        if not toks:
            return {"match_none": {}}
        return phrase_query(FILTER_FIELDS[node.field], toks)
    if isinstance(node, DateRange):
        field = "published" if node.field == "published" else "date"
        bounds: dict[str, int] = {}
        if node.lo:
            bounds["gte"] = day_number(node.lo)
        if node.hi:
            bounds["lte"] = day_number(node.hi)
        return {"range": {field: bounds}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_query(node.child, expansions)]}}
    if isinstance(node, And):
        must = [compile_query(c, expansions) for c in node.children if not isinstance(c, Not)]
        must_not = [compile_query(c.child, expansions) for c in node.children if isinstance(c, Not)]
        body: Body = {"filter": must} if must else {"filter": [{"match_all": {}}]}
        if must_not:
            body["must_not"] = must_not
        return {"bool": body}
    if isinstance(node, Or):
        return {
            "bool": {
                "should": [compile_query(c, expansions) for c in node.children],
                "minimum_should_match": 1,
            }
        }
    raise TypeError(f"unknown query node {node!r}")


def passages_only(query: Body) -> Body:
    """`query` restricted to passage documents, in filter context (no scores)."""
    return {"bool": {"filter": [query, {"term": {"doc_type": "passage"}}]}}


def counted_phrase(field: str, toks: Sequence[str], name: str) -> Body:
    """A named clause whose score tells how often the consecutive tokens occur.

    An intervals query scores `n / (n + 1)` for `n` occurrences (its saturation
    function with pivot 1, overlapping occurrences included), with no idf and no
    length factor: the count is read back from the score alone, on any shard."""
    return {
        "intervals": {
            field: {
                "match": {"query": " ".join(toks), "max_gaps": 0, "ordered": True},
                "_name": name,
            }
        }
    }


def clause_name(clause: int, variant: int) -> str:
    """The `_name` of variant `variant` of text clause `clause` (see `clause_of`)."""
    return f"{clause}.{variant}"


def clause_of(name: str) -> int:
    return int(name.split(".", 1)[0])


def counting(whole: Body, counted: Sequence[tuple[str, str, Sequence[str]]]) -> Body:
    """The passages `whole` matches, each scored (per named clause: name, field, tokens)
    by how often each counted phrase occurs in it (`include_named_queries_score`)."""
    if not counted:
        return whole
    return {
        "bool": {
            "filter": [whole],
            "should": [counted_phrase(field, toks, name) for name, field, toks in counted],
        }
    }


def stale_passages(statements: Sequence[Statement]) -> Body:
    """The passages of these statements beyond their (new) number of passages."""
    return {
        "bool": {
            "should": [
                {
                    "bool": {
                        "filter": [
                            {"term": {"sid": st.id}},
                            {"range": {"pno": {"gte": len(st.passages)}}},
                        ]
                    }
                }
                for st in statements
            ],
            "filter": [{"term": {"doc_type": "passage"}}],
            "minimum_should_match": 1,
        }
    }


def passages_by_keys(wanted: Mapping[int, Sequence[int]]) -> Body:
    """Passage documents by statement key and passage number."""
    return {
        "bool": {
            "filter": [{"term": {"doc_type": "passage"}}, {"terms": {"key": list(wanted)}}],
            "should": [
                {"bool": {"filter": [{"term": {"key": k}}, {"terms": {"pno": list(ns)}}]}}
                for k, ns in wanted.items()
            ],
            "minimum_should_match": 1,
        }
    }


def records_by_keys(keys: Sequence[int]) -> Body:
    """Statement documents by key (their records' passages are what callers read)."""
    return {
        "bool": {"filter": [{"terms": {"key": list(keys)}}, {"term": {"doc_type": "statement"}}]}
    }


def statement_by(field: str, value: object) -> Body:
    return {"bool": {"filter": [{"term": {field: value}}, {"term": {"doc_type": "statement"}}]}}


def statements_by_ids(ids: Sequence[str]) -> Body:
    return {
        "bool": {"filter": [{"terms": {"sid": list(ids)}}, {"term": {"doc_type": "statement"}}]}
    }


# A vocabulary entry's `field`: the indexed field its word occurs in, or BOTH when it
# occurs in both (every word of a text whose lemmas are its tokens: one entry, not two).
BOTH = "both"


def prefix_lookup(field: str, prefix: str, limit: int) -> Body:
    """A search of the vocabulary index for the distinct words of `field` starting with
    `prefix`, in order (a word may have an entry of its own field and one of BOTH)."""
    return {
        "size": limit,
        "query": {
            "bool": {"filter": [{"terms": {"field": [field, BOTH]}}, {"prefix": {"term": prefix}}]}
        },
        "collapse": {"field": "term"},
        "sort": [{"term": "asc"}],
        "_source": False,
        "filter_path": ["hits.hits.fields"],
    }
