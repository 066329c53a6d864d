"""Discovery: phrases recurring across years (of a series or a subcorpus) and the key
terms of one subcorpus or period against another."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.deps import FiltersDep, SearchDep
from app.routes.formulas import CatalogDep
from app.routes.route import ModelRoute
from app.services import discovery
from indexer.errors import InvalidInput
from indexer.query import DateRange, Node, parse
from indexer.search import Search

router = APIRouter(prefix="/api/v1", tags=["discover"], route_class=ModelRoute)


class SubcorpusOut(BaseModel):
    statements: int
    passages: int
    tokens: int
    years: list[int] = Field(description="Years (season years for a series) with text.")

    @classmethod
    def of(cls, s: discovery.Subcorpus) -> SubcorpusOut:
        return cls(
            statements=s.statements, passages=s.passages, tokens=s.tokens, years=list(s.years)
        )


class NgramOut(BaseModel):
    text: str = Field(description="The phrase, searchable as written.")
    tokens: list[str]
    support: int = Field(description="Distinct years it occurs in.")
    total: int
    per_year: dict[int, int]


class KeyTermOut(BaseModel):
    term: str
    freq_target: int
    freq_reference: int
    per_10k_target: float
    per_10k_reference: float
    log_likelihood: float = Field(description="G2; 3.84 is p < 0.05, 10.83 p < 0.001.")
    log_ratio: float = Field(description="log2 of the ratio of relative frequencies.")
    direction: str = Field(description="over or under: more or less frequent in the target.")


class NgramsOut(BaseModel):
    subcorpus: SubcorpusOut
    results: list[NgramOut]


class KeynessOut(BaseModel):
    target: SubcorpusOut
    reference: SubcorpusOut
    results: list[KeyTermOut]


class DiscoverOut(BaseModel):
    mode: str
    ngrams: NgramsOut | None = Field(None, description="mode=ngrams.")
    keyness: KeynessOut | None = Field(None, description="mode=keyness.")


def _years(value: str) -> Node:
    node = parse(f"year:{value}")
    if not isinstance(node, DateRange):
        raise InvalidInput("years must look like 2019, 2016..2020 or >=2016")
    return node


def _side(search: Search, q: str, years: str | None, filters: list[Node]) -> discovery.Texts:
    extra = [_years(years)] if years else []
    return discovery.subcorpus_texts(search, search.query(q, [*filters, *extra]))


@router.get(
    "/discover",
    response_model=DiscoverOut,
    summary="Recurring phrases and key terms",
    description="`mode=ngrams`: phrases of `min_n`..`max_n` tokens found in at least "
    "`min_years` distinct years, over a series' statements (`series`, `as_of`) or the "
    "passages a query matches (`q` and filters). `mode=keyness`: terms over-used in the "
    "target (`target` query, `target_years`) against the reference (`reference`, "
    "`reference_years`), both under the shared filters, by log-likelihood and log ratio.",
)
def discover(
    search: SearchDep,
    catalog: CatalogDep,
    filters: FiltersDep,
    mode: Annotated[Literal["ngrams", "keyness"], Query(description="ngrams or keyness.")],
    series: Annotated[str | None, Query(description="ngrams over a series' statements.")] = None,
    as_of: Annotated[dt.date | None, Query(description="Published on or before.")] = None,
    q: Annotated[str, Query(description="ngrams: the subcorpus query.")] = "",
    min_years: Annotated[int, Query(ge=1, le=100)] = 2,
    min_n: Annotated[int, Query(ge=1, le=discovery.MAX_N)] = 2,
    max_n: Annotated[int, Query(ge=1, le=discovery.MAX_N)] = 5,
    target: Annotated[str, Query(description="keyness: the target query.")] = "",
    target_years: Annotated[str | None, Query(description="e.g. 2017..2023.")] = None,
    reference: Annotated[str, Query(description="keyness: the reference query.")] = "",
    reference_years: Annotated[str | None, Query(description="e.g. 1954..2011.")] = None,
    n: Annotated[int, Query(ge=1, le=3, description="keyness: tokens per term.")] = 1,
    min_freq: Annotated[int, Query(ge=1)] = 5,
    min_log_likelihood: Annotated[float, Query(ge=0)] = 3.84,
    direction: Annotated[Literal["over", "under", "both"], Query()] = "over",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DiscoverOut:
    if mode == "ngrams":
        if series:
            texts = discovery.series_texts(search, catalog, series, as_of)
        else:
            texts = discovery.subcorpus_texts(search, search.query(q, filters))
        found = discovery.ngrams(texts, min_years=min_years, min_n=min_n, max_n=max_n, limit=limit)
        return DiscoverOut(
            mode=mode,
            ngrams=NgramsOut(
                subcorpus=SubcorpusOut.of(found.subcorpus),
                results=[
                    NgramOut(
                        text=g.text,
                        tokens=list(g.tokens),
                        support=g.support,
                        total=g.total,
                        per_year=dict(g.per_year),
                    )
                    for g in found.ngrams
                ],
            ),
        )
    if (target, target_years) == (reference, reference_years):
        raise InvalidInput("target and reference are the same subcorpus")
    key = discovery.key_terms(
        _side(search, target, target_years, filters),
        _side(search, reference, reference_years, filters),
        n=n,
        min_freq=min_freq,
        min_log_likelihood=min_log_likelihood,
        direction=direction,
        limit=limit,
    )
    return DiscoverOut(
        mode=mode,
        keyness=KeynessOut(
            target=SubcorpusOut.of(key.target),
            reference=SubcorpusOut.of(key.reference),
            results=[
                KeyTermOut(
                    term=t.term,
                    freq_target=t.freq_target,
                    freq_reference=t.freq_reference,
                    per_10k_target=round(t.per_10k_target, 6),
                    per_10k_reference=round(t.per_10k_reference, 6),
                    log_likelihood=round(t.log_likelihood, 6),
                    log_ratio=round(t.log_ratio, 6),
                    direction=t.direction,
                )
                for t in key.terms
            ],
        ),
    )
