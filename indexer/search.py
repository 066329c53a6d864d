"""Search over any backend: totals, ranking, paging, snippets, facets and per-period
counts, computed from a backend's exact matches by code that knows no engine.

Because ranking and counting happen here, every backend gives the same answers for the
same corpus. Results are cached per query and index generation.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from indexer.backends.base import Backend, Matches, StatementMeta
from indexer.errors import InvalidInput, QueryError
from indexer.filtering import evaluate
from indexer.matching import spans
from indexer.query import MatchAll, Node, leaves, parse, with_filters
from indexer.text import tokenize

SORTS = ("relevance", "date", "-date")
FACET_FIELDS = ("year", "source", "kind", "language", "speaker")
MAX_LIMIT = 200
K1, B = 1.2, 0.75


@dataclass(frozen=True, slots=True)
class Snippet:
    """One occurrence in context: `left + match + right` is a slice of the passage text;
    `start`/`end` are character offsets of the match in that passage."""

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


@dataclass(frozen=True, slots=True)
class PeriodCount:
    """One period of a timeline: matches, and the corpus the filters admit."""

    period: str
    statements: int
    occurrences: int
    corpus_statements: int
    corpus_tokens: int


@dataclass(frozen=True, slots=True)
class _Ranked:
    """A query's matches grouped by statement, in every sort order."""

    matches: Matches
    keys: list[int]  # statement keys, parallel to the arrays below
    occurrences: np.ndarray
    passages: np.ndarray
    scores: np.ndarray
    orders: dict[str, list[int]]  # sort name -> indexes into keys
    derived: dict[str, object] = field(default_factory=dict)  # facets etc., computed once


def period_of(day: dt.date, interval: str) -> str:
    return f"{day.year:04d}" if interval == "year" else f"{day.year:04d}-{day.month:02d}"


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


class Search:
    """The search layer over one backend."""

    def __init__(self, backend: Backend, *, cache_size: int = 128) -> None:
        self.backend = backend
        self._cache: OrderedDict[tuple[Node, int], _Ranked] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._by_key: tuple[Sequence[StatementMeta], dict[int, StatementMeta]] | None = None

    # ---- queries -------------------------------------------------------------------

    @staticmethod
    def query(q: str | None, filters: Sequence[Node] = ()) -> Node:
        """Parse `q` (empty: everything) and restrict it by filter nodes."""
        node = parse(q or "")
        return with_filters(node, list(filters))

    def _metas(self) -> dict[int, StatementMeta]:
        """Statement metadata by key, rebuilt only when the index generation changes."""
        metas = self.backend.statements()
        cached = self._by_key
        if cached is not None and cached[0] is metas:
            return cached[1]
        by_key = {m.key: m for m in metas}
        self._by_key = (metas, by_key)
        return by_key

    @staticmethod
    def _rows_of(ranked: _Ranked, key: int) -> range:
        """Indexes of a statement's rows in the matches (sorted by statement key)."""
        keys = ranked.matches.keys
        lo = int(np.searchsorted(keys, key, side="left"))
        hi = int(np.searchsorted(keys, key, side="right"))
        return range(lo, hi)

    def ranked(self, node: Node) -> _Ranked:
        """Matches of `node` grouped by statement and ranked (cached per generation)."""
        key = (node, self.backend.generation())
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        ranked = self._rank(node, self.backend.match(node))
        with self._lock:
            self._cache[key] = ranked
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return ranked

    def _rank(self, node: Node, matches: Matches) -> _Ranked:
        metas = self.backend.statements()
        by_key = self._metas()
        if len(matches) == 0:
            empty = np.zeros(0)
            return _Ranked(matches, [], empty, empty, empty, {s: [] for s in SORTS})
        uniq, inverse = np.unique(matches.keys, return_inverse=True)
        n_leaves = matches.occurrences.shape[1]
        per_leaf = np.zeros((len(uniq), n_leaves), dtype=np.int64)
        for j in range(n_leaves):
            per_leaf[:, j] = np.bincount(
                inverse, weights=matches.occurrences[:, j], minlength=len(uniq)
            )
        passages = np.bincount(inverse, minlength=len(uniq))
        keys = [int(k) for k in uniq]
        # BM25 over statements, computed here so that every engine ranks alike.
        n_docs = max(len(metas), 1)
        avg_len = max(sum(m.tokens for m in metas) / n_docs, 1.0)
        lengths = np.array([by_key[k].tokens if k in by_key else avg_len for k in keys])
        scores = np.zeros(len(keys))
        for j in range(n_leaves):
            tf = per_leaf[:, j].astype(np.float64)
            df = int(np.count_nonzero(tf))
            idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            scores += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths / avg_len))
        dates = [by_key[k].date.toordinal() if k in by_key else 0 for k in keys]
        ids = [by_key[k].id if k in by_key else "" for k in keys]
        idx = range(len(keys))
        orders = {
            "relevance": sorted(idx, key=lambda i: (-scores[i], -dates[i], ids[i])),
            "date": sorted(idx, key=lambda i: (dates[i], ids[i])),
            "-date": sorted(idx, key=lambda i: (-dates[i], ids[i])),
        }
        return _Ranked(matches, keys, per_leaf.sum(axis=1), passages, scores, orders)

    def totals(self, ranked: _Ranked) -> Totals:
        return Totals(
            statements=len(ranked.keys),
            passages=len(ranked.matches),
            occurrences=int(ranked.matches.occurrences.sum()),
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
        ranked = self.ranked(node)
        order = ranked.orders[sort]
        start = 0
        if cursor:
            payload = _decode_cursor(cursor)
            if payload.get("sort") != sort or not isinstance(payload.get("after"), int):
                raise InvalidInput("the cursor belongs to another sort order")
            start = int(payload["after"])  # type: ignore[call-overload]
            if payload.get("gen") != generation:
                # The index changed: resume after the last statement seen, by id.
                last = payload.get("last")
                start = next(
                    (n + 1 for n, i in enumerate(order) if self._id(ranked, i) == last), start
                )
        page = order[start : start + limit]
        metas = self._metas()
        hits = self._hits(node, ranked, page, metas, context, snippets)
        nxt = None
        if start + limit < len(order):
            nxt = _encode_cursor(
                {
                    "sort": sort,
                    "after": start + limit,
                    "gen": generation,
                    "last": self._id(ranked, page[-1]) if page else None,
                }
            )
        return SearchPage(
            totals=self.totals(ranked),
            hits=hits,
            next=nxt,
            facets=self.facets(ranked, metas) if facets else {},
        )

    def _id(self, ranked: _Ranked, i: int) -> str:
        meta = self._metas().get(ranked.keys[i])
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
        for i in page:
            key = ranked.keys[i]
            rows = self._rows_of(ranked, key)
            wanted[key] = [int(ranked.matches.passages[r]) for r in rows[: max(snippets, 1)]]
        texts = self.backend.passage_texts(
            [(k, p) for k, ps in wanted.items() for p in ps] if snippets else []
        )
        hits = []
        for i in page:
            key = ranked.keys[i]
            meta = metas.get(key)
            if meta is None:
                continue
            found: list[Snippet] = []
            for pno in wanted[key]:
                text = texts.get((key, pno))
                if text is not None and len(found) < snippets:
                    found.extend(kwic(text, node, pno, context)[: snippets - len(found)])
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

    def facets(
        self, ranked: _Ranked, metas: dict[int, StatementMeta]
    ) -> dict[str, list[tuple[str, int]]]:
        """Matching statements counted by year, source, kind, language and speaker."""
        cached = ranked.derived.get("facets")
        if cached is not None:
            return cached  # type: ignore[return-value]
        counters: dict[str, Counter[str]] = {f: Counter() for f in FACET_FIELDS}
        for key in ranked.keys:
            m = metas.get(key)
            if m is None:
                continue
            counters["year"][str(m.date.year)] += 1
            counters["source"][m.source] += 1
            counters["kind"][m.kind] += 1
            counters["language"][m.language] += 1
            for s in m.speakers:
                counters["speaker"][s] += 1
        out = {f: c.most_common() for f, c in counters.items()}
        out["year"] = sorted(counters["year"].items())
        ranked.derived["facets"] = out
        return out

    def kwic_rows(
        self, node: Node, *, sort: str = "relevance", limit: int = 10_000, context: int = 60
    ) -> Iterator[tuple[StatementMeta, Snippet]]:
        """Every occurrence (up to `limit`) in context, statement by statement, for export."""
        ranked = self.ranked(node)
        metas = self._metas()
        emitted = 0
        order = ranked.orders[sort]
        for start in range(0, len(order), 50):
            chunk = order[start : start + 50]
            wanted: list[tuple[int, int]] = []
            for i in chunk:
                key = ranked.keys[i]
                rows = self._rows_of(ranked, key)
                wanted.extend((key, int(ranked.matches.passages[r])) for r in rows)
            texts = self.backend.passage_texts(wanted)
            for key, pno in wanted:
                text = texts.get((key, pno))
                meta = metas.get(key)
                if text is None or meta is None:
                    continue
                for snip in kwic(text, node, pno, context):
                    yield meta, snip
                    emitted += 1
                    if emitted >= limit:
                        return

    # ---- timelines -----------------------------------------------------------------

    def corpus_by_period(self, filters: Node, interval: str) -> dict[str, tuple[int, int]]:
        """Statements and tokens per period among statements the filters admit."""
        out: dict[str, tuple[int, int]] = {}
        for m in self.backend.statements():
            if not isinstance(filters, MatchAll) and not evaluate(
                filters, m, None, lambda _: True, statement_level=True
            ):
                continue
            p = period_of(m.date, interval)
            s, t = out.get(p, (0, 0))
            out[p] = (s + 1, t + m.tokens)
        return out

    def timeline(self, node: Node, filters: Node, interval: str = "year") -> list[PeriodCount]:
        """Per-period statements and occurrences of `node`, beside the corpus the
        filters admit; every period with corpus text or hits is listed, in order."""
        if interval not in ("year", "month"):
            raise InvalidInput("interval must be 'year' or 'month'")
        if not leaves(node):
            raise QueryError("a timeline needs a word or a phrase to count", position=0)
        ranked = self.ranked(node)
        metas = self._metas()
        stmts: Counter[str] = Counter()
        occ: Counter[str] = Counter()
        for i, key in enumerate(ranked.keys):
            m = metas.get(key)
            if m is None:
                continue
            p = period_of(m.date, interval)
            stmts[p] += 1
            occ[p] += int(ranked.occurrences[i])
        corpus = self.corpus_by_period(filters, interval)
        periods = sorted(set(corpus) | set(stmts))
        return [
            PeriodCount(p, stmts[p], occ[p], corpus.get(p, (0, 0))[0], corpus.get(p, (0, 0))[1])
            for p in periods
        ]


def kwic(text: str, node: Node, passage: int, context: int) -> list[Snippet]:
    """Every occurrence of `node`'s text clauses in one passage, in context.

    The whole phrase is one match (from its first token to its last); overlapping
    occurrences of different clauses are each reported.
    """
    toks = tokenize(text)
    words = [t.text for t in toks]
    found: set[tuple[int, int]] = set()
    for leaf in leaves(node):
        found.update(spans(words, leaf))
    out = []
    for first, last in sorted(found):
        start, end = toks[first].start, toks[last].end
        left_start = max(0, start - context)
        right_end = min(len(text), end + context)
        # Do not cut a word in half at the edges of the context.
        while left_start > 0 and not text[left_start - 1].isspace() and left_start < start:
            left_start += 1
        while right_end < len(text) and not text[right_end].isspace() and right_end > end:
            right_end -= 1
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
