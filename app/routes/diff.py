"""Statement diffs: two statements passage by passage, sentence by sentence, word by word,
with the formulas added, dropped and kept, metadata changes and round-up addressees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.analysis.diff import (
    AddresseeComparison,
    FormulaChanges,
    FormulaCount,
    MetadataChange,
    PassageDiff,
    SentenceDiff,
    WordOp,
)
from app.deps import SearchDep
from app.routes.formulas import LexiconDep
from app.routes.route import ModelRoute
from app.services.diffs import FormulaPassages, StatementComparison, compare_statements
from indexer.model import Statement

router = APIRouter(prefix="/api/v1", tags=["diff"], route_class=ModelRoute)


class WordOpOut(BaseModel):
    op: str = Field(description="equal, insert, delete or replace.")
    a_start: int = Field(description="Character offsets into A's passage text ...")
    a_end: int
    b_start: int = Field(description="... and into B's (empty side: a caret position).")
    b_end: int
    a_text: str
    b_text: str

    @classmethod
    def of(cls, w: WordOp) -> WordOpOut:
        return cls(
            op=w.op,
            a_start=w.a_start,
            a_end=w.a_end,
            b_start=w.b_start,
            b_end=w.b_end,
            a_text=w.a_text,
            b_text=w.b_text,
        )


class SentenceDiffOut(BaseModel):
    status: str = Field(description="equal, changed, added or removed.")
    a_span: tuple[int, int] | None
    b_span: tuple[int, int] | None
    ops: list[WordOpOut]

    @classmethod
    def of(cls, s: SentenceDiff) -> SentenceDiffOut:
        return cls(
            status=s.status,
            a_span=s.a_span,
            b_span=s.b_span,
            ops=[WordOpOut.of(w) for w in s.ops],
        )


class PassageDiffOut(BaseModel):
    status: str = Field(description="equal, changed, added or removed.")
    a_number: int | None
    b_number: int | None
    a_addressee: str | None
    b_addressee: str | None
    aligned_by: str | None = Field(description="addressee or similarity.")
    similarity: float = Field(description="tf-idf cosine of the two passages.")
    sentences: list[SentenceDiffOut]

    @classmethod
    def of(cls, p: PassageDiff) -> PassageDiffOut:
        return cls(
            status=p.status,
            a_number=p.a_number,
            b_number=p.b_number,
            a_addressee=p.a_addressee,
            b_addressee=p.b_addressee,
            aligned_by=p.aligned_by,
            similarity=round(p.similarity, 6),
            sentences=[SentenceDiffOut.of(s) for s in p.sentences],
        )


class PassageCountOut(BaseModel):
    passage: int
    occurrences: int


class FormulaChangeOut(BaseModel):
    formula_id: str
    count_a: int
    count_b: int
    passages_a: list[PassageCountOut] | None = Field(
        None, description="Passages of A carrying it (statement diffs only)."
    )
    passages_b: list[PassageCountOut] | None = None


def _passages(cells: Iterable[tuple[int, int]]) -> list[PassageCountOut]:
    return [PassageCountOut(passage=p, occurrences=n) for p, n in cells]


class FormulaChangesOut(BaseModel):
    added: list[FormulaChangeOut] = Field(description="In B only.")
    dropped: list[FormulaChangeOut] = Field(description="In A only.")
    kept: list[FormulaChangeOut] = Field(description="In both.")

    @classmethod
    def of_counts(cls, c: FormulaChanges) -> FormulaChangesOut:
        def rows(items: Iterable[FormulaCount]) -> list[FormulaChangeOut]:
            return [
                FormulaChangeOut(formula_id=f.formula_id, count_a=f.count_a, count_b=f.count_b)
                for f in items
            ]

        return cls(added=rows(c.added), dropped=rows(c.dropped), kept=rows(c.kept))

    @classmethod
    def of_passages(
        cls,
        added: Iterable[FormulaPassages],
        dropped: Iterable[FormulaPassages],
        kept: Iterable[FormulaPassages],
    ) -> FormulaChangesOut:
        def rows(items: Iterable[FormulaPassages]) -> list[FormulaChangeOut]:
            return [
                FormulaChangeOut(
                    formula_id=f.formula_id,
                    count_a=f.count_a,
                    count_b=f.count_b,
                    passages_a=_passages(f.passages_a),
                    passages_b=_passages(f.passages_b),
                )
                for f in items
            ]

        return cls(added=rows(added), dropped=rows(dropped), kept=rows(kept))


class MetadataChangeOut(BaseModel):
    field: str
    a: str
    b: str
    description: str

    @classmethod
    def of(cls, m: MetadataChange) -> MetadataChangeOut:
        return cls(field=m.field, a=m.a, b=m.b, description=m.description)


class AddresseeRefOut(BaseModel):
    name: str
    country: str | None


class AddresseeMatchOut(BaseModel):
    a: AddresseeRefOut
    b: AddresseeRefOut
    by: str = Field(description="country or name: how the two were matched.")


class AddresseesOut(BaseModel):
    only_a: list[AddresseeRefOut] = Field(description="Greeted in A and not in B.")
    only_b: list[AddresseeRefOut] = Field(description="Greeted in B and not in A.")
    both: list[AddresseeMatchOut]

    @classmethod
    def of(cls, c: AddresseeComparison) -> AddresseesOut:
        return cls(
            only_a=[AddresseeRefOut(name=x.name, country=x.country) for x in c.only_a],
            only_b=[AddresseeRefOut(name=x.name, country=x.country) for x in c.only_b],
            both=[
                AddresseeMatchOut(
                    a=AddresseeRefOut(name=m.a.name, country=m.a.country),
                    b=AddresseeRefOut(name=m.b.name, country=m.b.country),
                    by=m.by,
                )
                for m in c.both
            ],
        )


class StatementRefOut(BaseModel):
    id: str
    title: str
    date: dt.date
    published: dt.date
    url: str | None
    source: str
    kind: str
    language: str

    @classmethod
    def of(cls, s: Statement) -> StatementRefOut:
        return cls(
            id=s.id,
            title=s.title,
            date=s.date,
            published=s.published_on,
            url=s.url,
            source=s.source,
            kind=s.kind,
            language=s.language,
        )


class PassageCountsOut(BaseModel):
    equal: int
    changed: int
    added: int
    removed: int


class StatementDiffOut(BaseModel):
    a: StatementRefOut = Field(description="The earlier statement.")
    b: StatementRefOut
    compared_a: list[int] = Field(description="Passages of A compared (all, or a share).")
    compared_b: list[int]
    counts: PassageCountsOut = Field(description="Passages by status.")
    passages: list[PassageDiffOut] = Field(description="In B's order, removals in place.")
    formulas: FormulaChangesOut
    metadata: list[MetadataChangeOut]
    addressees: AddresseesOut | None = Field(description="When both are round-ups.")

    @classmethod
    def of(cls, c: StatementComparison) -> StatementDiffOut:
        return cls(
            a=StatementRefOut.of(c.a),
            b=StatementRefOut.of(c.b),
            compared_a=[p.number for p in c.passages_a],
            compared_b=[p.number for p in c.passages_b],
            counts=PassageCountsOut(
                equal=c.diff.count("equal"),
                changed=c.diff.count("changed"),
                added=c.diff.count("added"),
                removed=c.diff.count("removed"),
            ),
            passages=[PassageDiffOut.of(p) for p in c.diff.passages],
            formulas=FormulaChangesOut.of_passages(
                c.formulas.added, c.formulas.dropped, c.formulas.kept
            ),
            metadata=[MetadataChangeOut.of(m) for m in c.metadata],
            addressees=AddresseesOut.of(c.addressees) if c.addressees else None,
        )


@router.get(
    "/diff",
    response_model=StatementDiffOut,
    summary="Diff two statements",
    description="Passages aligned (by addressee in round-ups, else by similarity), sentences "
    "aligned, word operations with offsets into each passage; formulas of the whole lexicon "
    "added, dropped and kept with the passages carrying them; metadata changes; for two "
    "round-ups, who was greeted in one and not the other. Unknown id: 404.",
)
def diff(
    search: SearchDep,
    lexicon: LexiconDep,
    a: Annotated[str, Query(description="Id of the earlier statement.")],
    b: Annotated[str, Query(description="Id of the later statement.")],
) -> StatementDiffOut:
    return StatementDiffOut.of(compare_statements(search, lexicon, a, b))
