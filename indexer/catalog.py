"""The catalog: statement metadata of one index generation as columns (numpy arrays).

Ranking, facets, timelines and corpus denominators need a few numbers per statement
(date, length, year, source...) for thousands of statements per query. Reading them from
`StatementMeta` objects one by one in Python dominated those computations; here they are
laid out once per generation and every query works on whole columns.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from indexer.backends.base import StatementMeta
from indexer.backends.native import sorted_positions as native_positions
from indexer.filtering import value_matches
from indexer.query import And, DateRange, FieldIs, MatchAll, Near, Node, Not, Or, Phrase

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Codes:
    """A categorical column: `labels[codes[row]]` is a statement's value."""

    labels: list[str]
    codes: IntArray


@dataclass(frozen=True, slots=True)
class MultiCodes:
    """A multi-valued categorical column in CSR form: statement `row` has the labels
    `labels[codes[starts[row]:starts[row + 1]]]`."""

    labels: list[str]
    codes: IntArray
    starts: IntArray


def _codes(values: Sequence[str]) -> Codes:
    labels = sorted(set(values))
    index = {v: i for i, v in enumerate(labels)}
    return Codes(labels, np.array([index[v] for v in values], dtype=np.int64))


def _multi_codes(values: Sequence[tuple[str, ...]]) -> MultiCodes:
    labels = sorted({v for vs in values for v in vs})
    index = {v: i for i, v in enumerate(labels)}
    flat = [index[v] for vs in values for v in vs]
    starts = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(vs) for vs in values], out=starts[1:])
    return MultiCodes(labels, np.array(flat, dtype=np.int64), starts)


@dataclass
class Catalog:
    """Columns over `metas` (in the backend's order: by date, then id).

    Row `i` is `metas[i]`; `row_of(keys)` maps statement keys to rows.
    """

    metas: Sequence[StatementMeta]
    sorted_keys: IntArray = field(init=False)
    rows_by_key: IntArray = field(init=False)
    date: IntArray = field(init=False)  # proleptic ordinal
    published: IntArray = field(init=False)
    tokens: IntArray = field(init=False)
    id_rank: IntArray = field(init=False)  # position of the id among all ids, sorted
    year: IntArray = field(init=False)
    month: IntArray = field(init=False)  # year * 12 + month - 1
    facets: dict[str, Codes | MultiCodes] = field(init=False)
    # The columns ranking reads, in key order (`locate`).
    tokens_by_key: IntArray = field(init=False)
    date_by_key: IntArray = field(init=False)
    id_rank_by_key: IntArray = field(init=False)
    avg_tokens: float = field(init=False)
    fingerprint: str = field(init=False)  # which statements, in which content
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _by_key: dict[int, StatementMeta] | None = field(init=False, default=None)
    _admitted: dict[Node, BoolArray] = field(init=False, default_factory=dict)
    _turned_away: dict[Node, bytes | None] = field(init=False, default_factory=dict)
    # The last read-only keys `rows_of` was asked for, and its answer (see there).
    _last_rows: tuple[IntArray, IntArray, BoolArray, IntArray] | None = field(
        init=False, default=None
    )
    _corpus: dict[tuple[Node, str], dict[str, tuple[int, int]]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        metas = self.metas
        keys = np.array([m.key for m in metas], dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[order]
        self.rows_by_key = order.astype(np.int64)
        self.date = np.array([m.date.toordinal() for m in metas], dtype=np.int64)
        self.published = np.array([m.published.toordinal() for m in metas], dtype=np.int64)
        self.tokens = np.array([m.tokens for m in metas], dtype=np.int64)
        ids = [m.id for m in metas]
        rank = np.empty(len(ids), dtype=np.int64)
        rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
        self.id_rank = rank
        self.year = np.array([m.date.year for m in metas], dtype=np.int64)
        self.month = np.array([m.date.year * 12 + m.date.month - 1 for m in metas], np.int64)
        self.facets = {
            "year": _codes([f"{m.date.year:04d}" for m in metas]),
            "source": _codes([m.source for m in metas]),
            "kind": _codes([m.kind for m in metas]),
            "language": _codes([m.language for m in metas]),
            "speaker": _multi_codes([m.speakers for m in metas]),
        }
        self.tokens_by_key = self.tokens[order]
        self.date_by_key = self.date[order]
        self.id_rank_by_key = self.id_rank[order]
        self.avg_tokens = max(float(self.tokens.sum()) / max(len(metas), 1), 1.0)
        digest = hashlib.blake2b(self.sorted_keys.tobytes(), digest_size=16)
        for row in self.rows_by_key:
            digest.update(metas[row].hash.encode())
        self.fingerprint = digest.hexdigest()

    def __len__(self) -> int:
        return len(self.metas)

    @property
    def by_key(self) -> dict[int, StatementMeta]:
        """Statement metadata by key (built on first use)."""
        found = self._by_key
        if found is None:
            found = self._by_key = {m.key: m for m in self.metas}
        return found

    def rows_of(self, keys: IntArray) -> tuple[IntArray, BoolArray]:
        """Rows of statement `keys`, and which keys are known (a statement written after
        this generation was read is unknown; its row is 0 and must be masked)."""
        _, known, rows = self.locate(keys)
        return rows, known

    def locate(self, keys: IntArray) -> tuple[IntArray, BoolArray, IntArray]:
        """Where statement `keys` are in `sorted_keys` (index the `*_by_key` columns with
        these), which keys are known, and their rows (see `rows_of`). An unknown key's
        position and row are 0 and must be masked. For ascending keys, as a match gives
        them, the positions ascend: the columns are read in order, not at random."""
        if len(self.sorted_keys) == 0:
            none = np.zeros(len(keys), np.int64)
            return none, np.zeros(len(keys), np.bool_), none
        # A filtered search asks twice for the same statements (the backend to check
        # its filters, then the ranking): the second time is answered from the first
        # when it is the very same array and nobody can change it (the native matcher's
        # keys are read-only views of its bytes).
        last = self._last_rows
        if last is not None and last[0] is keys:
            return last[1], last[2], last[3]
        found = native_positions(self.sorted_keys, keys)
        if found is not None:
            known = found >= 0
            pos = np.maximum(found, 0)
        else:
            pos = np.searchsorted(self.sorted_keys, keys)
            pos = np.minimum(pos, len(self.sorted_keys) - 1)
            known = self.sorted_keys[pos] == keys
        rows = np.where(known, self.rows_by_key[pos], 0)
        if not keys.flags.writeable:
            for made in (pos, known, rows):
                made.setflags(write=False)
            self._last_rows = (keys, pos, known, rows)
        return pos, known, rows

    # ---- filters ---------------------------------------------------------------------

    def admitted(self, filters: Node) -> BoolArray:
        """Which statements a filter node admits, as a whole statement (cached)."""
        with self._lock:
            found = self._admitted.get(filters)
        if found is not None:
            return found
        mask = self._evaluate(filters, {})
        mask.setflags(write=False)
        with self._lock:
            self._admitted[filters] = mask
        return mask

    def turned_away(self, filters: Node) -> bytes | None:
        """The keys of the statements a filter node turns away, ascending, packed as
        little-endian int64 (what the native matcher skips); None when it admits every
        statement (cached, as `admitted`)."""
        with self._lock:
            if filters in self._turned_away:
                return self._turned_away[filters]
        away = ~self.admitted(filters)[self.rows_by_key]
        packed = self.sorted_keys[away].astype("<i8").tobytes() if away.any() else None
        with self._lock:
            self._turned_away[filters] = packed
        return packed

    def _evaluate(
        self, node: Node, memo: dict[tuple[str, tuple[str, ...], str], bool]
    ) -> BoolArray:
        n = len(self.metas)
        if isinstance(node, (Phrase, Near, MatchAll)):
            # Text clauses say nothing about a statement's admission (as in
            # `filtering.evaluate(..., leaf_truth=lambda _: True)`).
            return np.ones(n, dtype=np.bool_)
        if isinstance(node, FieldIs):
            from indexer.filtering import statement_values

            out = np.zeros(n, dtype=np.bool_)
            for i, m in enumerate(self.metas):
                values = statement_values(m, node.field)
                key = (node.field, values, node.value)
                hit = memo.get(key)
                if hit is None:
                    hit = memo[key] = value_matches(values, node.value)
                out[i] = hit
            return out
        if isinstance(node, DateRange):
            day = self.published if node.field == "published" else self.date
            out = np.ones(n, dtype=np.bool_)
            if node.lo is not None:
                out &= day >= node.lo.toordinal()
            if node.hi is not None:
                out &= day <= node.hi.toordinal()
            return out
        if isinstance(node, Not):
            return ~self._evaluate(node.child, memo)
        if isinstance(node, And):
            out = np.ones(n, dtype=np.bool_)
            for c in node.children:
                out &= self._evaluate(c, memo)
            return out
        if isinstance(node, Or):
            out = np.zeros(n, dtype=np.bool_)
            for c in node.children:
                out |= self._evaluate(c, memo)
            return out
        raise TypeError(f"unknown query node {node!r}")

    # ---- periods ---------------------------------------------------------------------

    def period_codes(self, interval: str) -> IntArray:
        return self.year if interval == "year" else self.month

    def corpus_by_period(self, filters: Node, interval: str) -> dict[str, tuple[int, int]]:
        """Statements and tokens per period among statements the filters admit (cached)."""
        key = (filters, interval)
        with self._lock:
            found = self._corpus.get(key)
        if found is not None:
            return found
        mask = self.admitted(filters)
        codes = self.period_codes(interval)[mask]
        out: dict[str, tuple[int, int]] = {}
        if len(codes):
            base = int(codes.min())
            stmts = np.bincount(codes - base)
            toks = np.bincount(codes - base, weights=self.tokens[mask])
            for off in np.flatnonzero(stmts):
                out[period_label(base + int(off), interval)] = (
                    int(stmts[off]),
                    int(toks[off]),
                )
        with self._lock:
            self._corpus[key] = out
        return out


def period_label(code: int, interval: str) -> str:
    """The label of a period code (`Catalog.period_codes`): '2021' or '2021-01'."""
    if interval == "year":
        return f"{code:04d}"
    return f"{code // 12:04d}-{code % 12 + 1:02d}"


_CATALOGS: list[tuple[Sequence[StatementMeta], Catalog]] = []
_CATALOGS_LOCK = threading.Lock()


def catalog_of(metas: Sequence[StatementMeta]) -> Catalog:
    """The catalog of a backend's statement list, built once per list object.

    Backends hand out the same list object until their generation changes, so the
    catalog (and its cached filters and corpus counts) lives exactly as long as a
    generation, shared by every `Search` over that backend.
    """
    with _CATALOGS_LOCK:
        for seen, cat in _CATALOGS:
            if seen is metas:
                return cat
    cat = Catalog(metas)
    with _CATALOGS_LOCK:
        _CATALOGS.insert(0, (metas, cat))
        del _CATALOGS[4:]
    return cat
