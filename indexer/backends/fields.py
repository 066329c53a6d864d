"""What every engine indexes for a statement: one plain dict per passage and one for the
statement itself. Engines differ in how they store these, never in what they hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

from indexer import matching
from indexer.backends.base import passage_key, statement_key
from indexer.filtering import filter_value_tokens
from indexer.model import Statement
from indexer.text import terms

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


def documents(st: Statement) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The passage documents and the statement document of `st`.

    Passage documents carry folded `tokens` (space-joined), `lemmas` (Russian lemmas for
    Russian text, the tokens otherwise), the filter fields, dates, and the statement's
    content hash. The statement document carries `meta` (everything but the text) and
    the full `record`.
    """
    key = statement_key(st.id)
    content_hash = st.content_hash()
    shared: dict[str, Any] = {
        "speakers": filter_value_tokens(st.speakers),
        "source": filter_value_tokens([st.source]),
        "kind": filter_value_tokens([st.kind]),
        "language": filter_value_tokens([st.language]),
        "series": filter_value_tokens(st.series),
        "sid_tokens": filter_value_tokens([st.id]),
    }
    date, published = day_number(st.date), day_number(st.published_on)
    passages = []
    total_tokens = 0
    for p in st.passages:
        toks = terms(p.text)
        total_tokens += len(toks)
        passages.append(
            {
                "doc_type": "passage",
                "sid": st.id,
                "key": key,
                "pno": p.number,
                "uid": passage_key(st.id, p.number),
                "ntok": len(toks),
                "hash": content_hash,
                "tokens": " ".join(toks),
                "lemmas": " ".join(matching.lemmas(toks) if st.language == "ru" else toks),
                **shared,
                "addressee": filter_value_tokens([p.addressee]) if p.addressee else "",
                "date": date,
                "published": published,
            }
        )
    record = st.to_record()
    meta = {k: v for k, v in record.items() if k not in ("text", "passages", "meta")}
    meta.update(
        key=key,
        addressees=sorted({p.addressee for p in st.passages if p.addressee}),
        n_passages=len(st.passages),
        n_tokens=total_tokens,
        hash=content_hash,
    )
    statement = {
        "doc_type": "statement",
        "sid": st.id,
        "key": key,
        "hash": content_hash,
        "meta": meta,
        "record": record,
    }
    return passages, statement
