"""Formulas as queries: the lexicon (loaded once, reloaded when the file changes), each
formula as a query node, its summary (first and last attestation, totals, sources) and
its timeline, and formula occurrence counts for any set of statements or passages.

A formula's occurrences are the sum of its variants' occurrences (the lexicon guarantees
no variant contains another within a language), counted exactly by the search layer.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.analysis.lexicon import LANGUAGES, Formula, load_formulas
from app.analysis.timeline import Granularity, TimelineRow, build_timeline, periods_between
from indexer.backends.base import StatementMeta, statement_key
from indexer.errors import InvalidInput, NotFound, TifaError
from indexer.query import And, FieldIs, MatchAll, Node, Or, Phrase, leaves, with_filters
from indexer.search import PeriodCount, Search, Totals
from indexer.text import terms

LEXICON_FILE = "formulas.yaml"
TOP_SOURCES = 5

_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int], tuple[Formula, ...]]] = {}


def load_lexicon(corpus_dir: Path) -> tuple[Formula, ...]:
    """The formulas of `corpus_dir/formulas.yaml`, read once and again only when the file
    changes (size or modification time). Raises TifaError (500) if the file is missing
    or invalid: the service cannot answer formula questions without it."""
    path = (corpus_dir / LEXICON_FILE).resolve()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise TifaError(f"the formula lexicon is missing: {path}") from None
    stamp = (st.st_mtime_ns, st.st_size)
    with _lock:
        cached = _cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
    try:
        formulas = tuple(load_formulas(path))
    except ValueError as exc:
        raise TifaError(f"the formula lexicon is invalid: {exc}") from None
    with _lock:
        _cache[path] = (stamp, formulas)
    return formulas


def get_formula(formulas: Sequence[Formula], formula_id: str) -> Formula:
    """The formula with `formula_id`; NotFound otherwise."""
    for f in formulas:
        if f.id == formula_id:
            return f
    raise NotFound(f"no formula with id {formula_id!r}")


def _phrases(variants: Iterable[str]) -> list[Phrase]:
    return list(_phrases_of(tuple(variants)))


@functools.lru_cache(maxsize=4096)
def _phrases_of(variants: tuple[str, ...]) -> tuple[Phrase, ...]:
    # Cached: every formula request folds the same variants again otherwise.
    out: list[Phrase] = []
    for v in variants:
        p = Phrase(tuple(terms(v)))
        if p not in out:
            out.append(p)
    return tuple(out)


def _or(phrases: Sequence[Node]) -> Node:
    return phrases[0] if len(phrases) == 1 else Or(tuple(phrases))


def formula_node(formula: Formula) -> Node:
    """The formula as a query: any of its variants, in any language."""
    return _or(_phrases(v for lang in formula.languages for v in formula.variants[lang]))


def language_node(formula: Formula, language: str) -> Node:
    """The formula's variants of one language, in statements of that language."""
    if language not in formula.variants:
        raise InvalidInput(f"formula {formula.id!r} has no {language} variants")
    return And((_or(_phrases(formula.variants[language])), FieldIs("lang", language)))


def lexicon_nodes(formulas: Iterable[Formula]) -> list[Node]:
    """Every query a formula timeline or summary runs without filters: the ones worth
    computing ahead of time (see `Search.warm`)."""
    out: list[Node] = []
    for f in formulas:
        out.append(formula_node(f))
        out.extend(language_node(f, lang) for lang in f.languages)
    return out


# ---- counts for sets of statements ---------------------------------------------------

# Statement key -> the passages in scope (None: the whole statement).
Scope = Mapping[int, frozenset[int] | None]


def _lexicon_node(formulas: Sequence[Formula]) -> tuple[Node, list[list[str]]]:
    """One query for every variant of `formulas`, and the formulas owning each leaf."""
    phrases: list[Phrase] = []
    owners: dict[Phrase, list[str]] = {}
    for f in formulas:
        for p in _phrases(v for lang in f.languages for v in f.variants[lang]):
            if p not in owners:
                phrases.append(p)
                owners[p] = []
            owners[p].append(f.id)
    node = _or(phrases)
    return node, [owners[leaf] for leaf in leaves(node) if isinstance(leaf, Phrase)]


def occurrences_by_passage(
    search: Search, formulas: Sequence[Formula], scope: Scope
) -> dict[str, dict[tuple[int, int], int]]:
    """Formula id -> {(statement key, passage): occurrences} within `scope`.

    One search for the whole lexicon (cached per index generation); the scope then
    selects rows, so counting many statements or years costs one query.
    """
    out: dict[str, dict[tuple[int, int], int]] = {f.id: {} for f in formulas}
    if not formulas or not scope:
        return out
    node, owners = _lexicon_node(formulas)
    matches = search.ranked(node).matches
    if len(matches) == 0:
        return out
    in_scope = np.isin(matches.keys, np.fromiter(scope, dtype=np.int64, count=len(scope)))
    for row in np.flatnonzero(in_scope):
        key, pno = int(matches.keys[row]), int(matches.passages[row])
        allowed = scope[key]
        if allowed is not None and pno not in allowed:
            continue
        for j in np.flatnonzero(matches.occurrences[row]):
            n = int(matches.occurrences[row, j])
            for fid in owners[j]:
                cell = out[fid]
                cell[(key, pno)] = cell.get((key, pno), 0) + n
    return out


def counts_in(search: Search, formulas: Sequence[Formula], scope: Scope) -> dict[str, int]:
    """Formula id -> occurrences within `scope` (every formula listed, zeros included)."""
    by_passage = occurrences_by_passage(search, formulas, scope)
    return {fid: sum(cells.values()) for fid, cells in by_passage.items()}


def formula_counts(
    search: Search, target: str | Node, formulas: Sequence[Formula]
) -> dict[str, int]:
    """Formula id -> occurrences in one statement (by id) or in every statement matching
    a query node (whole statements). Raises NotFound for an unknown statement id."""
    if isinstance(target, str):
        if search.backend.statement(target) is None:
            raise NotFound(f"no statement with id {target!r}")
        scope: dict[int, frozenset[int] | None] = {statement_key(target): None}
    else:
        scope = dict.fromkeys(search.ranked(target).keys)
    return counts_in(search, formulas, scope)


# ---- summaries -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attestation:
    """A statement the formula occurs in."""

    statement_id: str
    date: dt.date
    title: str
    source: str


@dataclass(frozen=True, slots=True)
class SourceCount:
    source: str
    statements: int
    occurrences: int


@dataclass(frozen=True, slots=True)
class LanguageTotals:
    language: str
    statements: int
    passages: int
    occurrences: int


@dataclass(frozen=True, slots=True)
class FormulaSummary:
    """A formula in the corpus the filters admit.

    `absent_since` is the date of the last attestation when the corpus holds text of a
    later year (`corpus_last_year`): the formula stopped appearing, as far as we hold.
    It is None while the formula is still attested in the corpus's last year.
    """

    formula: Formula
    totals: Totals
    first: Attestation | None
    last: Attestation | None
    absent_since: dt.date | None
    corpus_last_year: int | None
    by_language: tuple[LanguageTotals, ...]
    top_sources: tuple[SourceCount, ...]


def _attestation(meta: StatementMeta) -> Attestation:
    return Attestation(meta.id, meta.date, meta.title, meta.source)


def _corpus_last_year(search: Search, filters: Sequence[Node]) -> int | None:
    years = search.corpus_by_period(with_filters(MatchAll(), list(filters)), "year")
    return int(max(years)) if years else None


def summarize(search: Search, formula: Formula, filters: Sequence[Node] = ()) -> FormulaSummary:
    """First and last attestation, totals (overall and per language), top sources and
    "absent since" of `formula` among statements the filters admit."""
    ranked = search.ranked(with_filters(formula_node(formula), list(filters)))
    metas = {m.key: m for m in search.backend.statements()}
    first = last = None
    if ranked.keys:
        first = _attestation(metas[ranked.keys[ranked.orders["date"][0]]])
        last = _attestation(metas[ranked.keys[ranked.orders["-date"][0]]])
    corpus_last = _corpus_last_year(search, filters)
    absent = (
        last.date if last and corpus_last is not None and corpus_last > last.date.year else None
    )
    statements: Counter[str] = Counter()
    occurrences: Counter[str] = Counter()
    for i, key in enumerate(ranked.keys):
        m = metas.get(key)
        if m is not None:
            statements[m.source] += 1
            occurrences[m.source] += int(ranked.occurrences[i])
    sources = sorted(statements, key=lambda s: (-occurrences[s], -statements[s], s))
    by_language = []
    for lang in formula.languages:
        t = search.totals(search.ranked(with_filters(language_node(formula, lang), list(filters))))
        by_language.append(LanguageTotals(lang, t.statements, t.passages, t.occurrences))
    return FormulaSummary(
        formula=formula,
        totals=search.totals(ranked),
        first=first,
        last=last,
        absent_since=absent,
        corpus_last_year=corpus_last,
        by_language=tuple(by_language),
        top_sources=tuple(
            SourceCount(s, statements[s], occurrences[s]) for s in sources[:TOP_SOURCES]
        ),
    )


def lexicon_totals(
    search: Search, formulas: Sequence[Formula], filters: Sequence[Node] = ()
) -> dict[str, tuple[int, int]]:
    """Formula id -> (statements, occurrences) among statements the filters admit, from
    one search for the whole lexicon."""
    node, owners = _lexicon_node(formulas)
    matches = search.ranked(with_filters(node, list(filters))).matches
    stmts: dict[str, set[int]] = {f.id: set() for f in formulas}
    occ: Counter[str] = Counter()
    for j, fids in enumerate(owners):
        col = matches.occurrences[:, j] if len(matches) else np.zeros(0, np.int32)
        rows = np.flatnonzero(col)
        for fid in fids:
            occ[fid] += int(col[rows].sum())
            stmts[fid].update(int(k) for k in matches.keys[rows])
    return {f.id: (len(stmts[f.id]), occ[f.id]) for f in formulas}


# ---- timelines -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormulaTimeline:
    """A formula per period: all variants counted as one (`rows`), and per language
    (`by_language`, each against the corpus of that language). Every list covers the
    same periods, from the first with text or hits to the last."""

    formula: Formula
    interval: Granularity
    smoothing: int | None
    rows: tuple[TimelineRow, ...]
    by_language: Mapping[str, tuple[TimelineRow, ...]]


def _labels(counted: Iterable[Sequence[PeriodCount]], interval: Granularity) -> list[str]:
    periods = sorted({p.period for rows in counted for p in rows})
    if not periods:
        return []
    first, last = periods[0], periods[-1]
    if interval == "month":
        start = dt.date(int(first[:4]), int(first[5:7]), 1)
        end = dt.date(int(last[:4]), int(last[5:7]), 1)
    else:
        start, end = dt.date(int(first), 1, 1), dt.date(int(last), 1, 1)
    return periods_between(start, end, interval)


def timeline(
    search: Search,
    formula: Formula,
    filters: Sequence[Node] = (),
    interval: Granularity = "year",
    smoothing: int | None = None,
) -> FormulaTimeline:
    """Exact per-period counts of `formula` beside the corpus the filters admit; periods
    without text are marked (`has_corpus=False`), never shown as zero.
    Raises InvalidInput on an unknown interval or an even smoothing window."""
    if interval not in ("year", "month"):
        raise InvalidInput("interval must be 'year' or 'month'")
    if smoothing is not None and (smoothing < 1 or smoothing % 2 == 0):
        raise InvalidInput("smoothing must be an odd number of periods, e.g. 3 or 5")
    flt = list(filters)
    whole = search.timeline(
        with_filters(formula_node(formula), flt), with_filters(MatchAll(), flt), interval
    )
    per_lang = {
        lang: search.timeline(
            with_filters(language_node(formula, lang), flt),
            with_filters(MatchAll(), [*flt, FieldIs("lang", lang)]),
            interval,
        )
        for lang in formula.languages
    }
    labels = _labels([whole, *per_lang.values()], interval)

    def rows(counted: Sequence[PeriodCount]) -> tuple[TimelineRow, ...]:
        hits = {p.period: (p.statements, p.occurrences) for p in counted}
        corpus = {p.period: (p.corpus_statements, p.corpus_tokens) for p in counted}
        return tuple(build_timeline(labels, hits, corpus, smoothing=smoothing))

    return FormulaTimeline(
        formula=formula,
        interval=interval,
        smoothing=smoothing,
        rows=rows(whole),
        by_language={lang: rows(c) for lang, c in per_lang.items()},
    )


__all__ = [
    "LANGUAGES",
    "Attestation",
    "FormulaSummary",
    "FormulaTimeline",
    "LanguageTotals",
    "SourceCount",
    "counts_in",
    "formula_counts",
    "formula_node",
    "get_formula",
    "language_node",
    "lexicon_totals",
    "load_lexicon",
    "occurrences_by_passage",
    "summarize",
    "timeline",
]
