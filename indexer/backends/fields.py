"""What every engine indexes for a statement: one plain dict per passage and one for the
statement itself. Engines differ in how they store these, never in what they hold.

`indexed` computes the values once (the costly part: tokens, lemmas, keys, the content
hash); `documents` shapes them as dicts, and an engine may read `indexed` directly to
skip the dicts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from indexer import matching
from indexer.backends.base import passage_key, statement_key
from indexer.filtering import filter_value_tokens
from indexer.model import Statement
from indexer.text import joined_terms, terms

# Query field name -> indexed field holding the folded tokens of its values.
FILTER_FIELDS = {
    "speaker": "speakers",
    "source": "source",
    "kind": "kind",
    "lang": "language",
    "series": "series",
    "addressee": "addressee",
    "id": "sid_tokens",
}


def day_number(d: dt.date) -> int:
    """A date as the integer YYYYMMDD, the form engines index and range over."""
    return d.year * 10000 + d.month * 100 + d.day


@dataclass(frozen=True, slots=True)
class IndexedPassage:
    """One passage's own indexed values (whitespace-separated folded tokens and lemmas)."""

    number: int
    uid: int
    ntok: int
    tokens: str
    lemmas: str
    addressee: str  # folded tokens of the addressee, "" when there is none


@dataclass(frozen=True, slots=True)
class Indexed:
    """The indexed values of a statement; `filters` are shared by all its passages."""

    key: int
    content_hash: str
    filters: dict[str, str]
    date: int
    published: int
    passages: list[IndexedPassage]
    n_tokens: int


def statement_values(st: Statement) -> Indexed:
    """What every passage of `st` shares (key, content hash, filter values, dates), with
    no passages and no token count: for writers that tokenise passages themselves."""
    return Indexed(
        key=statement_key(st.id),
        content_hash=st.content_hash(),
        filters=_filters(st),
        date=day_number(st.date),
        published=day_number(st.published_on),
        passages=[],
        n_tokens=0,
    )


def _filters(st: Statement) -> dict[str, str]:
    return {
        "speakers": filter_value_tokens(st.speakers),
        "source": filter_value_tokens([st.source]),
        "kind": filter_value_tokens([st.kind]),
        "language": filter_value_tokens([st.language]),
        "series": filter_value_tokens(st.series),
        "sid_tokens": filter_value_tokens([st.id]),
    }


def indexed(st: Statement) -> Indexed:
    """Tokens (and Russian lemmas), keys, filter values and dates of `st` and its passages."""
    russian = st.language == "ru"
    key = statement_key(st.id)
    passages = []
    total_tokens = 0
    for p in st.passages:
        if russian:
            toks = terms(p.text)
            tokens, ntok = " ".join(toks), len(toks)
            lemmas = " ".join(matching.lemmas(toks))
        else:
            tokens, ntok = joined_terms(p.text)
            lemmas = tokens
        total_tokens += ntok
        passages.append(
            IndexedPassage(
                p.number,
                passage_key(st.id, p.number, key),
                ntok,
                tokens,
                lemmas,
                filter_value_tokens([p.addressee]) if p.addressee else "",
            )
        )
    return Indexed(
        key=key,
        content_hash=st.content_hash(),
        filters=_filters(st),
        date=day_number(st.date),
        published=day_number(st.published_on),
        passages=passages,
        n_tokens=total_tokens,
    )


def statement_meta(st: Statement, ix: Indexed) -> dict[str, Any]:
    """The statement document's `meta`: the record without its text, passages and meta,
    plus the key, the addressees, the passage and token counts and the content hash."""
    return {
        **st.header(),
        "key": ix.key,
        "addressees": sorted({p.addressee for p in st.passages if p.addressee}),
        "n_passages": len(st.passages),
        "n_tokens": ix.n_tokens,
        "hash": ix.content_hash,
    }


def documents(st: Statement) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The passage documents and the statement document of `st`.

    Passage documents carry folded `tokens` (whitespace-separated), `lemmas` (Russian lemmas for
    Russian text, the tokens otherwise), the filter fields, dates, and the statement's
    content hash. The statement document carries `meta` (everything but the text) and
    the full `record`.
    """
    ix = indexed(st)
    passages = [
        {
            "doc_type": "passage",
            "sid": st.id,
            "key": ix.key,
            "pno": p.number,
            "uid": p.uid,
            "ntok": p.ntok,
            "hash": ix.content_hash,
            "tokens": p.tokens,
            "lemmas": p.lemmas,
            **ix.filters,
            "addressee": p.addressee,
            "date": ix.date,
            "published": ix.published,
        }
        for p in ix.passages
    ]
    statement = {
        "doc_type": "statement",
        "sid": st.id,
        "key": ix.key,
        "hash": ix.content_hash,
        "meta": statement_meta(st, ix),
        "record": st.to_record(),
    }
    return passages, statement
