"""Search over any backend: totals, ranking, paging, snippets, facets and per-period
counts, computed from a backend's exact matches by code that knows no engine.

Because ranking and counting happen here, every backend gives the same answers for the
same corpus. Results are cached per query and index generation.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import regex

from indexer.backends.base import Backend, Matches, StatementMeta
from indexer.backends.native import SnippetSpans, ascii_snippets
from indexer.catalog import Catalog, Codes, catalog_of, period_label
from indexer.errors import InvalidInput, QueryError
from indexer.matching import spans
from indexer.matchstore import MatchStore
from indexer.query import (
    And,
    Leaf,
    Node,
    Phrase,
    leaves,
    parse,
    statement_level,
    text_clauses,
    with_filters,
)
from indexer.text import HAN, TokenOffsets, phrase_offsets

SORTS = ("relevance", "date", "-date")
FACET_FIELDS = ("year", "source", "kind", "language", "speaker")
MAX_LIMIT = 200
K1, B = 1.2, 0.75


class Snippet(NamedTuple):
    """One occurrence in context: `left + match + right` is a slice of the passage text;
    `start`/`end` are character offsets of the match in that passage; `addressee` is
    the passage's, in round-ups of messages (see `Search._addressees`). (A named tuple: a
    page makes about sixty, and a frozen dataclass cost 2.7 µs each to build.)"""

    passage: int
    left: str
    match: str
    right: str
    start: int
    end: int
    addressee: str | None = None


@dataclass(frozen=True, slots=True)
class StatementHit:
    statement: StatementMeta
    occurrences: int
    passages: int
    score: float
    snippets: tuple[Snippet, ...] = ()


@dataclass(frozen=True, slots=True)
class Totals:
    statements: int
    passages: int
    occurrences: int


@dataclass(frozen=True, slots=True)
class SearchPage:
    totals: Totals
    hits: list[StatementHit]
    next: str | None
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


class PeriodCount(NamedTuple):
    """One period of a timeline: matches, and the corpus the filters admit (a named
    tuple: a timeline makes one per period, and a frozen dataclass costs ten times more
    to build)."""

    period: str
    statements: int
    occurrences: int
    corpus_statements: int
    corpus_tokens: int


# Statements whose rows an export reads at a time.
_ROWS_AHEAD = 256


class _Orders(Mapping[str, list[int]]):
    """Sort orders of a ranked result, each computed on first use (most queries only
    ever need one)."""

    def __init__(
        self,
        scores: npt.NDArray[np.float64],
        dates: npt.NDArray[np.int64],
        id_rank: npt.NDArray[np.int64],
    ) -> None:
        self._scores, self._dates, self._ids = scores, dates, id_rank
        self._done: dict[str, list[int]] = {}

    def __getitem__(self, sort: str) -> list[int]:
        found = self._done.get(sort)
        if found is not None:
            return found
        if sort == "relevance":
            order = np.lexsort((self._ids, -self._dates, -self._scores))
        elif sort == "date":
            order = np.lexsort((self._ids, self._dates))
        elif sort == "-date":
            order = np.lexsort((self._ids, -self._dates))
        else:
            raise KeyError(sort)
        out: list[int] = order.tolist()
        self._done[sort] = out
        return out

    def head(self, sort: str, n: int) -> list[int]:
        """The first `n` of order `sort`, without sorting everything: only the rows tied
        with or ahead of the n-th on the first sort key are sorted."""
        if sort in self._done or n >= len(self._scores):
            return self[sort][:n]
        first: npt.NDArray[Any]
        keys: tuple[npt.NDArray[Any], ...]
        if sort == "relevance":
            first, keys = -self._scores, (self._ids, -self._dates, -self._scores)
        elif sort == "date":
            first, keys = self._dates, (self._ids, self._dates)
        elif sort == "-date":
            first, keys = -self._dates, (self._ids, -self._dates)
        else:
            raise KeyError(sort)
        kth = np.partition(first, n - 1)[n - 1]
        ahead = np.flatnonzero(first <= kth)
        order = ahead[np.lexsort(tuple(k[ahead] for k in keys))]
        out: list[int] = order[:n].tolist()
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(SORTS)

    def __len__(self) -> int:
        return len(SORTS)


@dataclass(frozen=True, slots=True)
class _Ranked:
    """A query's matches grouped by statement, in every sort order."""

    matches: Matches
    key_array: npt.NDArray[np.int64]  # statement keys, parallel to the arrays below
    rows: npt.NDArray[np.int64]  # catalog rows of `keys` (-1: not in the catalog)
    occurrences: npt.NDArray[np.int64]
    passages: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]
    orders: _Orders  # sort name -> indexes into keys
    starts: npt.NDArray[np.int64]  # matches rows of keys[i]: starts[i]:starts[i + 1]
    derived: dict[str, object] = field(default_factory=dict)  # facets etc., computed once

    @property
    def keys(self) -> list[int]:
        """The statement keys as a list, made on first use: a page needs only its own
        (`key`), and the list of a phrase in 250k statements took 5-10 ms to make."""
        found = self.derived.get("keys")
        if found is None:
            found = self.derived["keys"] = self.key_array.tolist()
        return found  # type: ignore[return-value]

    def key(self, i: int) -> int:
        """The key of statement i."""
        return int(self.key_array[i])

    def __len__(self) -> int:
        """How many statements matched."""
        return len(self.key_array)


def _encode_cursor(payload: dict[str, object]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, object]:
    try:
        pad = "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(cursor + pad))
    except (ValueError, binascii.Error):
        raise InvalidInput("the cursor is not one this service handed out") from None
    if not isinstance(value, dict):
        raise InvalidInput("the cursor is not one this service handed out")
    return value


# Ranked results kept per process: bounded by entries and by matched passages in all,
# since one very common phrase ("of the") holds hundreds of thousands of rows.
RANKED_ENTRIES = 1024
RANKED_ROWS = 6_000_000
PAGE_ENTRIES = 512


class Search:
    """The search layer over one backend.

    `store`, when given, keeps the matches of `persist`ed queries (the formula lexicon)
    on disk per corpus version, shared by every process serving the same index.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        cache_size: int = RANKED_ENTRIES,
        cache_rows: int = RANKED_ROWS,
        store: MatchStore | None = None,
    ) -> None:
        self.backend = backend
        self.store = store
        self._cache: OrderedDict[tuple[Node, int], _Ranked] = OrderedDict()
        self._cache_size = cache_size
        self._cache_rows = cache_rows
        self._rows_held = 0
        self._pages: OrderedDict[tuple[object, ...], SearchPage] = OrderedDict()
        self._lock = threading.Lock()
        self._persisted: set[Node] = set()

    # ---- queries -------------------------------------------------------------------

    @staticmethod
    def query(q: str | None, filters: Sequence[Node] = ()) -> Node:
        """Parse `q` (empty: everything) and restrict it by filter nodes."""
        node = parse(q or "")
        return with_filters(node, list(filters))

    def _metas(self) -> dict[int, StatementMeta]:
        """Statement metadata by key, rebuilt only when the index generation changes."""
        return self.catalog().by_key

    def catalog(self) -> Catalog:
        """The current generation's statement columns."""
        return catalog_of(self.backend.statements())

    def persist(self, nodes: Collection[Node]) -> None:
        """Keep the matches of `nodes` in the store (if any) once computed."""
        self._persisted.update(nodes)

    def warm(self, nodes: Collection[Node]) -> int:
        """Persist and compute `nodes` now (e.g. the lexicon after an ingest); returns
        how many were computed rather than read from the store."""
        self.persist(nodes)
        computed = 0
        catalog = self.catalog()
        for node in nodes:
            # `is not None`: stored matches that are empty (a formula absent from this
            # corpus) are stored all the same, and an empty Matches is falsy.
            if self.store is not None and self.store.load(catalog.fingerprint, node) is not None:
                continue
            self.ranked(node)
            computed += 1
        return computed

    def warm_persisted(self) -> int:
        """`warm` every query registered with `persist` (e.g. at start-up)."""
        return self.warm(tuple(self._persisted))

    def ranked(self, node: Node) -> _Ranked:
        """Matches of `node` grouped by statement and ranked (cached per generation)."""
        key = (node, self.backend.generation())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        catalog = self.catalog()
        matches = self._narrowed(node, key[1], catalog)
        stored = matches is None and self.store is not None and node in self._persisted
        if stored:
            assert self.store is not None
            matches = self.store.load(catalog.fingerprint, node)
        if matches is None:
            matches = self.backend.match(node)
            if stored:
                assert self.store is not None
                self.store.save(catalog.fingerprint, node, matches)
        ranked = self._rank(matches, catalog)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = ranked
                self._rows_held += len(matches)
            while len(self._cache) > 1 and (
                len(self._cache) > self._cache_size or self._rows_held > self._cache_rows
            ):
                _, old = self._cache.popitem(last=False)
                self._rows_held -= len(old.matches)
        return ranked

    def _narrowed(self, node: Node, generation: int, catalog: Catalog) -> Matches | None:
        """The matches of `text AND filters` cut from the cached matches of `text` alone,
        when the filters hold or fail for a statement as a whole (refining a search by
        year, kind or speaker then costs no search); None otherwise."""
        split = _text_and_filters(node)
        if split is None:
            return None
        with self._lock:
            base = self._cache.get((split[0], generation))
        if base is None or len(base.rows) == 0 or not bool((base.rows >= 0).all()):
            return None  # not cached, or a statement the catalog does not know yet
        return base.matches.only_statements(catalog.admitted(split[1])[base.rows])

    def _rank(self, matches: Matches, catalog: Catalog) -> _Ranked:
        if len(matches) == 0:
            empty = np.zeros(0, dtype=np.int64)
            none = np.zeros(0, dtype=np.float64)
            return _Ranked(
                matches,
                empty,
                empty,
                empty,
                empty,
                none,
                _Orders(none, empty, empty),
                np.zeros(1, dtype=np.int64),
            )
        groups = matches.by_statement()
        if matches.groups is None:
            # Kept with the cached matches: narrowing them by year or kind reuses them.
            matches = Matches(matches.keys, matches.passages, matches.occurrences, groups)
        starts, per_leaf = groups.starts, groups.occurrences
        uniq = groups.keys
        passages = np.diff(starts)
        pos, known, rows = catalog.locate(uniq)
        # BM25 over statements, computed here so that every engine ranks alike.
        n_docs = max(len(catalog), 1)
        avg_len = catalog.avg_tokens
        lengths = np.where(known, catalog.tokens_by_key[pos], avg_len).astype(np.float64)
        scores = np.zeros(len(uniq))
        for j in range(per_leaf.shape[1]):
            tf = per_leaf[:, j].astype(np.float64)
            df = int(np.count_nonzero(tf))
            idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            scores += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths / avg_len))
        dates = np.where(known, catalog.date_by_key[pos], 0)
        # An unknown statement sorts as the empty id would: before every other.
        id_rank = np.where(known, catalog.id_rank_by_key[pos], -1)
        return _Ranked(
            matches=matches,
            key_array=uniq,
            rows=np.where(known, rows, -1),
            occurrences=per_leaf.sum(axis=1),
            passages=passages.astype(np.int64),
            scores=scores,
            orders=_Orders(scores, dates, id_rank),
            starts=starts,
        )

    def totals(self, ranked: _Ranked) -> Totals:
        return Totals(
            statements=len(ranked),
            passages=len(ranked.matches),
            occurrences=int(ranked.occurrences.sum()),
        )

    def search(
        self,
        node: Node,
        *,
        sort: str = "relevance",
        limit: int = 20,
        cursor: str | None = None,
        context: int = 60,
        snippets: int = 3,
        facets: bool = True,
    ) -> SearchPage:
        """One page of statements matching `node`, with exact totals and KWIC snippets."""
        if sort not in SORTS:
            raise InvalidInput(f"sort must be one of {', '.join(SORTS)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
        if not 0 <= context <= 500:
            raise InvalidInput("context must be between 0 and 500 characters")
        generation = self.backend.generation()
        page_key = (node, generation, sort, limit, cursor, context, snippets, facets)
        with self._lock:
            cached = self._pages.get(page_key)
            if cached is not None:
                self._pages.move_to_end(page_key)
                return cached
        ranked = self.ranked(node)
        start = 0
        if cursor:
            payload = _decode_cursor(cursor)
            if payload.get("sort") != sort or not isinstance(payload.get("after"), int):
                raise InvalidInput("the cursor belongs to another sort order")
            start = int(payload["after"])  # type: ignore[call-overload]
            order = ranked.orders[sort]
            if payload.get("gen") != generation:
                # The index changed: resume after the last statement seen, by id.
                last = payload.get("last")
                start = next(
                    (n + 1 for n, i in enumerate(order) if self._id(ranked, i) == last), start
                )
            page = order[start : start + limit]
        else:
            # The first page (most searches): its statements only, not the whole order.
            page = ranked.orders.head(sort, limit)
        metas = self._metas()
        hits = self._hits(node, ranked, page, metas, context, snippets)
        nxt = None
        if start + limit < len(ranked):
            nxt = _encode_cursor(
                {
                    "sort": sort,
                    "after": start + limit,
                    "gen": generation,
                    "last": self._id(ranked, page[-1]) if page else None,
                }
            )
        result = SearchPage(
            totals=self.totals(ranked),
            hits=hits,
            next=nxt,
            facets=self.facets(ranked) if facets else {},
        )
        with self._lock:
            self._pages[page_key] = result
            while len(self._pages) > PAGE_ENTRIES:
                self._pages.popitem(last=False)
        return result

    def _id(self, ranked: _Ranked, i: int) -> str:
        meta = self._metas().get(ranked.key(i))
        return meta.id if meta else ""

    def _hits(
        self,
        node: Node,
        ranked: _Ranked,
        page: Sequence[int],
        metas: dict[int, StatementMeta],
        context: int,
        snippets: int,
    ) -> list[StatementHit]:
        wanted: dict[int, list[int]] = {}
        # The page's statements' rows only (of a common phrase, matched statement by
        # statement, no other row is read).
        rows = ranked.matches.statement_passages(page)
        for i, passages in zip(page, rows, strict=True):
            wanted[ranked.key(i)] = passages[: max(snippets, 1)].tolist()
        texts = self.backend.passage_texts(
            [(k, p) for k, ps in wanted.items() for p in ps] if snippets else []
        )
        snippets_in = snippet_maker(node)
        hits = []
        for i in page:
            key = ranked.key(i)
            meta = metas.get(key)
            if meta is None:
                continue
            found: list[Snippet] = []
            for pno in wanted[key]:
                text = texts.get((key, pno))
                if text is not None and len(found) < snippets:
                    found.extend(snippets_in(text, pno, context, snippets - len(found)))
            if meta.addressees and found:
                found = _addressed(found, self._addressees(meta))
            hits.append(
                StatementHit(
                    statement=meta,
                    occurrences=int(ranked.occurrences[i]),
                    passages=int(ranked.passages[i]),
                    score=float(ranked.scores[i]),
                    snippets=tuple(found),
                )
            )
        return hits

    def _addressees(self, meta: StatementMeta) -> dict[int, str]:
        """Each passage's addressee, by passage number. Only round-ups (messages to many
        addressees, one passage each) have them, so only their records are read."""
        st = self.backend.statement(meta.id)
        return {} if st is None else {p.number: p.addressee for p in st.passages if p.addressee}

    def facets(self, ranked: _Ranked) -> dict[str, list[tuple[str, int]]]:
        """Matching statements counted by year, source, kind, language and speaker."""
        cached = ranked.derived.get("facets")
        if cached is not None:
            return cached  # type: ignore[return-value]
        catalog = self.catalog()
        rows = ranked.rows[ranked.rows >= 0]
        out: dict[str, list[tuple[str, int]]] = {}
        # A common phrase matches most of the catalog (at ten million passages, "of the"
        # is in all but a few of 259k statements): then every statement's codes are
        # counted, weighed by whether it matched, rather than the matches' own gathered
        # one by one (a random read each).
        mask = None
        if len(rows) * 4 > len(catalog):
            mask = np.zeros(len(catalog), dtype=np.float64)
            mask[rows] = 1.0
        for name, column in catalog.facets.items():
            n_labels = len(column.labels)
            counts: npt.NDArray[np.int64]
            if n_labels == 0:
                counts = np.zeros(0, dtype=np.int64)
            elif isinstance(column, Codes):
                if n_labels == 1:
                    counts = np.array([len(rows)], dtype=np.int64)
                elif mask is not None:
                    weighed = np.bincount(column.codes, weights=mask, minlength=n_labels)
                    counts = weighed.astype(np.int64)
                else:
                    counts = np.bincount(column.codes[rows], minlength=n_labels)
            else:
                starts = column.starts[rows]
                lengths = column.starts[rows + 1] - starts
                if n_labels == 1:
                    counts = np.array([int(lengths.sum())], dtype=np.int64)
                elif mask is not None:
                    weights = np.repeat(mask, np.diff(column.starts))
                    weighed = np.bincount(column.codes, weights=weights, minlength=n_labels)
                    counts = weighed.astype(np.int64)
                else:
                    # Gather each row's run of codes without a Python loop.
                    begin = np.cumsum(lengths) - lengths
                    gather = np.repeat(starts - begin, lengths) + np.arange(int(lengths.sum()))
                    counts = np.bincount(column.codes[gather], minlength=n_labels)
            nz = np.flatnonzero(counts)
            pairs = [(column.labels[c], int(counts[c])) for c in nz]
            if name == "year":
                out[name] = pairs  # labels are sorted: years in order
            else:
                # Most common first; ties in first-seen order of the matching statements
                # as Counter.most_common gave before (stable on the label order here).
                pairs.sort(key=lambda p: -p[1])
                out[name] = pairs
        ranked.derived["facets"] = out
        return out

    def kwic_rows(
        self, node: Node, *, sort: str = "relevance", limit: int = 10_000, context: int = 60
    ) -> Iterator[tuple[StatementMeta, Snippet]]:
        """Every occurrence (up to `limit`) in context, statement by statement, for export."""
        ranked = self.ranked(node)
        metas = self._metas()
        emitted = 0
        snippets_in = snippet_maker(node)
        order = ranked.orders[sort]
        wanted: list[tuple[int, int]] = []
        addressees: dict[int, dict[int, str]] = {}
        batch: list[npt.NDArray[np.int32]] = []  # passages of order[n - at:], read ahead
        at = 0
        for n, i in enumerate(order):
            if at == len(batch):
                # A batch of statements' rows at a time: of a common phrase matched
                # statement by statement, a 10,000-row export reads no other rows.
                batch, at = ranked.matches.statement_passages(order[n : n + _ROWS_AHEAD]), 0
            key = ranked.keys[i]
            wanted.extend((key, p) for p in batch[at].tolist())
            at += 1
            # Texts are fetched in batches about as large as the rows still wanted (a
            # matching passage gives at least one as a rule): a 200-row export of a
            # common phrase must not read thousands of passages.
            if len(wanted) < min(512, max(16, limit - emitted)) and n + 1 < len(order):
                continue
            texts = self.backend.passage_texts(wanted)
            for key, pno in wanted:
                text = texts.get((key, pno))
                meta = metas.get(key)
                if text is None or meta is None:
                    continue
                found = snippets_in(text, pno, context, limit - emitted)
                if meta.addressees and found:
                    if key not in addressees:  # a round-up's record read once per export
                        addressees[key] = self._addressees(meta)
                    found = _addressed(found, addressees[key])
                for snip in found:
                    yield meta, snip
                    emitted += 1
                    if emitted >= limit:
                        return
            wanted = []

    # ---- timelines -----------------------------------------------------------------

    def corpus_by_period(self, filters: Node, interval: str) -> dict[str, tuple[int, int]]:
        """Statements and tokens per period among statements the filters admit."""
        return self.catalog().corpus_by_period(filters, interval)

    def timeline(self, node: Node, filters: Node, interval: str = "year") -> list[PeriodCount]:
        """Per-period statements and occurrences of `node`, beside the corpus the
        filters admit; every period with corpus text or hits is listed, in order."""
        if interval not in ("year", "month"):
            raise InvalidInput("interval must be 'year' or 'month'")
        if not leaves(node):
            raise QueryError("a timeline needs a word or a phrase to count", position=0)
        ranked = self.ranked(node)
        catalog = self.catalog()
        known = ranked.rows >= 0
        codes = catalog.period_codes(interval)[ranked.rows[known]]
        stmts: dict[str, int] = {}
        occ: dict[str, int] = {}
        if len(codes):
            base = int(codes.min())
            n_st = np.bincount(codes - base)
            n_occ = np.bincount(codes - base, weights=ranked.occurrences[known])
            offs = np.flatnonzero(n_st)
            labels = [period_label(base + off, interval) for off in offs.tolist()]
            stmts = dict(zip(labels, n_st[offs].tolist(), strict=True))
            occ = dict(zip(labels, n_occ[offs].astype(np.int64).tolist(), strict=True))
        corpus = self.corpus_by_period(filters, interval)
        none = (0, 0)
        return [
            PeriodCount(p, stmts.get(p, 0), occ.get(p, 0), *corpus.get(p, none))
            for p in sorted(corpus.keys() | stmts.keys())
        ]


def _addressed(found: list[Snippet], addressees: dict[int, str]) -> list[Snippet]:
    """`found` with each snippet's passage addressee (None where it has none)."""
    return [s._replace(addressee=addressees.get(s.passage)) for s in found]


def _text_and_filters(node: Node) -> tuple[Node, Node] | None:
    """(the text part, the filters) of `text AND statement-level filters`, else None."""
    if not isinstance(node, And):
        return None
    text = [c for c in node.children if text_clauses(c)]
    rest = [c for c in node.children if not text_clauses(c)]
    if not text or not rest or not all(statement_level(c) for c in rest):
        return None
    return (
        text[0] if len(text) == 1 else And(tuple(text)),
        rest[0] if len(rest) == 1 else And(tuple(rest)),
    )


_SPACE = re.compile(r"\s")
# The last space of a slice: `endpos` is where \Z matches.
_LAST_SPACE = re.compile(r"\s\S*\Z")
# A Han character is a word alone, and Chinese puts no space between words: an edge may
# fall beside one (cut only at spaces, a Chinese snippet had no context on the right).
_LAST_HAN = regex.compile(r"\p{Han}\P{Han}*\Z")


def kwic(
    text: str, node: Node, passage: int, context: int, limit: int | None = None
) -> list[Snippet]:
    """Occurrences of `node`'s text clauses in one passage, in context (the first `limit`,
    or all).

    The whole phrase is one match (from its first token to its last); overlapping
    occurrences of different clauses are each reported.
    """
    return snippet_maker(node)(text, passage, context, limit)


SnippetMaker = Callable[[str, int, int, "int | None"], list[Snippet]]


def snippet_maker(node: Node) -> SnippetMaker:
    """`kwic` for one query, set up once for the many passages of a page or an export:
    plain phrases go to the extension's finder where it can fold a text (ASCII, accented
    Latin letters, Cyrillic, Chinese, most punctuation: a few microseconds a passage,
    against tens in Python), everything else to `python_kwic`."""
    native = _native_snippets(node)
    if native is None:
        return lambda text, passage, context, limit: python_kwic(
            text, node, passage, context, limit
        )
    find = native

    def make(text: str, passage: int, context: int, limit: int | None) -> list[Snippet]:
        cut = find(text, context, limit)
        if cut is None:
            return python_kwic(text, node, passage, context, limit)
        return [
            Snippet(passage, text[left:start], text[start:end], text[end:right], start, end)
            for left, start, end, right in cut
        ]

    return make


def python_kwic(
    text: str, node: Node, passage: int, context: int, limit: int | None = None
) -> list[Snippet]:
    """`kwic` in Python alone: the reference the extension's finder is held to, and the
    path for every text or clause the extension does not take."""
    found = _plain_offsets(text, leaves(node))
    if found is None:
        toks = TokenOffsets(text)
        by_token: set[tuple[int, int]] = set()
        for leaf in leaves(node):
            by_token.update(spans(toks.words, leaf))
        found = [(toks.span(a)[0], toks.span(b)[1]) for a, b in sorted(by_token)[:limit]]
    out = []
    for start, end in found[:limit]:
        left_start = max(0, start - context)
        right_end = min(len(text), end + context)
        # Do not cut a word in half at the edges of the context: the left edge moves right
        # to just after the first space from it, the right one left to the last space
        # before it (\s is str.isspace, character for character), or each only as far as
        # the first (last) Han character, beside which any cut is between words.
        if left_start > 0:
            space = _SPACE.search(text, left_start - 1, start)
            edge = start if space is None else space.end()
            han = HAN.search(text, left_start - 1, edge)
            left_start = edge if han is None else max(han.start(), left_start)
        if right_end < len(text):
            space = _LAST_SPACE.search(text, end, right_end + 1)
            edge = end if space is None else space.start()
            han = _LAST_HAN.search(text, edge, right_end + 1)
            right_end = edge if han is None else min(han.start() + 1, right_end)
        out.append(
            Snippet(
                passage=passage,
                left=text[left_start:start],
                match=text[start:end],
                right=text[end:right_end],
                start=start,
                end=end,
            )
        )
    return out


@lru_cache(maxsize=256)
def _native_snippets(node: Node) -> Callable[[str, int, int | None], SnippetSpans | None] | None:
    """The extension's snippet finder for a query whose text clauses are all plain
    phrases (the same spans and edges as below, in one call per passage); None without
    the extension or for other clauses."""
    phrases = _plain_phrases(leaves(node))
    return ascii_snippets(phrases) if phrases else None


def _plain_phrases(clauses: Sequence[Leaf]) -> list[tuple[str, ...]] | None:
    """The tokens of each clause when every one is a plain phrase (no slop, prefix or
    lemma: found as written); None otherwise."""
    phrases = []
    for leaf in clauses:
        if not isinstance(leaf, Phrase) or leaf.slop or leaf.prefix or leaf.lemma:
            return None
        phrases.append(leaf.tokens)
    return phrases


def _plain_offsets(text: str, clauses: Sequence[Leaf]) -> list[tuple[int, int]] | None:
    """Character spans of every occurrence of plain phrases in an ASCII-path text, in
    order, without tokenising it; None when a clause or the text needs the tokens."""
    phrases = _plain_phrases(clauses)
    return None if phrases is None else phrase_offsets(text, phrases)
