"""Response models of the HTTP API (they also document it in OpenAPI)."""

from __future__ import annotations

import datetime as dt

import orjson
from pydantic import BaseModel, Field

from app.analysis.timeline import TimelineRow
from indexer.backends.base import StatementMeta
from indexer.search import SearchPage, Snippet, StatementHit


class SnippetOut(BaseModel):
    passage: int = Field(description="Passage number within the statement (from 0).")
    left: str
    match: str = Field(description="The whole matched phrase, as written.")
    right: str
    start: int = Field(description="Character offset of the match in the passage text.")
    end: int
    addressee: str | None = Field(
        default=None,
        description="Whom the passage is addressed to, in round-ups of messages (one "
        "addressee per passage); null elsewhere.",
    )

    @classmethod
    def of(cls, s: Snippet) -> SnippetOut:
        return cls.model_validate(cls.fields_of(s))

    @staticmethod
    def fields_of(s: Snippet) -> dict[str, object]:
        return {
            "passage": s.passage,
            "left": s.left,
            "match": s.match,
            "right": s.right,
            "start": s.start,
            "end": s.end,
            "addressee": s.addressee,
        }


class StatementBase(BaseModel):
    id: str
    title: str
    date: dt.date = Field(description="When it was said or sent.")
    published: dt.date = Field(description="When it became public.")
    source: str
    url: str | None
    license: str
    kind: str
    language: str
    speakers: list[str]
    series: list[str]

    @classmethod
    def fields_of(cls, m: StatementMeta) -> dict[str, object]:
        return {
            "id": m.id,
            "title": m.title,
            "date": m.date,
            "published": m.published,
            "source": m.source,
            "url": m.url,
            "license": m.license,
            "kind": m.kind,
            "language": m.language,
            "speakers": list(m.speakers),
            "series": list(m.series),
        }


class HitOut(StatementBase):
    occurrences: int = Field(description="Exact occurrences in this statement.")
    passages: int = Field(description="Matching passages in this statement.")
    score: float
    snippets: list[SnippetOut]

    @classmethod
    def of(cls, h: StatementHit) -> HitOut:
        return cls.model_validate(cls.hit_fields(h))

    @classmethod
    def hit_fields(cls, h: StatementHit) -> dict[str, object]:
        return {
            **cls.fields_of(h.statement),
            "occurrences": h.occurrences,
            "passages": h.passages,
            "score": round(h.score, 6),
            "snippets": [SnippetOut.fields_of(s) for s in h.snippets],
        }


class TotalOut(BaseModel):
    statements: int
    passages: int
    occurrences: int


class FacetValue(BaseModel):
    value: str
    statements: int


class SearchOut(BaseModel):
    total: TotalOut = Field(description="Exact totals under the matching model.")
    results: list[HitOut]
    next: str | None = Field(description="Opaque cursor for the next page, or null.")
    facets: dict[str, list[FacetValue]]

    @classmethod
    def of(cls, page: SearchPage) -> SearchOut:
        # Plain values validated in one call: building each nested model on its own
        # costs more than the search it reports, once that search is cached.
        return cls.model_validate(cls._fields_of(page))

    @classmethod
    def json_of(cls, page: SearchPage) -> bytes:
        """`of(page).model_dump_json()` in UTF-8, the same bytes, written by orjson from
        the plain values without validating them into models first: 0.1-0.2 ms for a
        page of twenty UN hits where the models took 0.55-0.6 ms (about a tenth of a first
        search over HTTP). The values are the typed fields of the search layer's
        dataclasses, which the models would only copy. (Tests hold the two to the same
        bytes.)"""
        try:
            return orjson.dumps(cls._fields_of(page))
        except orjson.JSONEncodeError:
            # What orjson refuses (a lone surrogate in a text): the models' own error.
            return cls.of(page).model_dump_json().encode()

    @staticmethod
    def _fields_of(page: SearchPage) -> dict[str, object]:
        return {
            "total": {
                "statements": page.totals.statements,
                "passages": page.totals.passages,
                "occurrences": page.totals.occurrences,
            },
            "results": [HitOut.hit_fields(h) for h in page.hits],
            "next": page.next,
            "facets": {
                f: [{"value": v, "statements": n} for v, n in values]
                for f, values in page.facets.items()
            },
        }


class PassageOut(BaseModel):
    number: int
    text: str
    addressee: str | None


class StatementOut(StatementBase):
    text: str
    meta: dict[str, object]
    passages: list[PassageOut]


class Health(BaseModel):
    status: str
    backend: str | None = None
    statements: int | None = None


class TimelineRowOut(BaseModel):
    """One period of a timeline (queries and formulas alike)."""

    period: str
    statements: int = Field(description="Statements with at least one occurrence.")
    occurrences: int
    corpus_statements: int = Field(description="Statements the filters admit in the period.")
    corpus_tokens: int
    per_10k_tokens: float | None = Field(description="Null where the period has no corpus.")
    share_of_statements: float | None
    has_corpus: bool = Field(description="False: no text at all in this period (not zero).")
    smoothed_per_10k: float | None = None

    @classmethod
    def of(cls, r: TimelineRow) -> TimelineRowOut:
        return cls.model_validate(cls.fields_of(r))

    @staticmethod
    def fields_of(r: TimelineRow) -> dict[str, object]:
        """The row as plain values, for validating many rows in one call (a timeline has
        a row per period and language, hundreds in all)."""
        return {
            "period": r.period,
            "statements": r.statements,
            "occurrences": r.occurrences,
            "corpus_statements": r.corpus_statements,
            "corpus_tokens": r.corpus_tokens,
            "per_10k_tokens": r.per_10k_tokens,
            "share_of_statements": r.share_of_statements,
            "has_corpus": r.has_corpus,
            "smoothed_per_10k": r.smoothed_per_10k,
        }
