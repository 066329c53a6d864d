"""The backend protocol and the plain values that cross it.

A backend stores statements and answers one question exactly: which passages match a
query, and how many occurrences of each text clause each holds. Everything analysts see
(totals, ranking, timelines, facets, snippets) is computed from that answer by engine-
independent code in `indexer.search`, so every backend gives the same answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from indexer.errors import EngineFailure
from indexer.model import Statement
from indexer.query import Node

_T = TypeVar("_T")


def statement_key(statement_id: str) -> int:
    """A 63-bit integer key for a statement id, stable across runs and engines."""
    digest = hashlib.blake2b(statement_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


_GOLDEN = 0x9E3779B97F4A7C15  # odd: multiplying by it is a bijection modulo 2**64


def passage_key(statement_id: str, number: int, key: int | None = None) -> int:
    """A 63-bit integer key for one passage, stable across runs and engines: distinct
    for the passages of one statement, and as unlikely as hash collisions to meet
    another statement's. `key` is the statement's, when already known (ingest makes
    hundreds of thousands of these: arithmetic, not a hash, per passage)."""
    if key is None:
        key = statement_key(statement_id)
    return ((key + (number + 1) * _GOLDEN) & 0xFFFF_FFFF_FFFF_FFFF) >> 1


@dataclass(frozen=True, slots=True)
class StatementMeta:
    """What the search layer needs of a statement without its text."""

    key: int
    id: str
    title: str
    date: dt.date
    published: dt.date
    source: str
    url: str | None
    license: str
    language: str
    kind: str
    speakers: tuple[str, ...]
    series: tuple[str, ...]
    addressees: tuple[str, ...]
    passages: int
    tokens: int
    hash: str


class RowReader(Protocol):
    """Reads the rows of matches made statement by statement (see `Matches.later`): of
    the statements whose keys are given (ascending), or of all of them (None)."""

    def __call__(self, keys: npt.NDArray[np.int64] | None) -> Matches: ...


class Matches:
    """Every passage matching a query: parallel arrays, one row per passage, sorted by
    (statement key, passage number). Not to be changed once made.

    `occurrences[i, j]` is how often text clause j (in `query.leaves` order) occurs in
    passage i under the matching model; zero for a clause the passage matched without
    (e.g. the other side of an OR).

    Matches made `later` know their statements first, and read their rows only when
    asked: counting, ranking and faceting a search need only the statements, a page
    the rows of its own (`statement_passages`).
    """

    __slots__ = ("_keys", "_later", "_occurrences", "_passages", "groups")

    def __init__(
        self,
        keys: npt.NDArray[np.int64] | None,
        passages: npt.NDArray[np.int32],
        occurrences: npt.NDArray[np.int32],
        groups: Statements | None = None,
    ) -> None:
        """`keys`: each row's statement key; None when `groups` (the rows grouped by
        statement, when the engine already knows them: see `by_statement`) says them
        (the native matcher hands back no key per row)."""
        if keys is None and groups is None:
            raise ValueError("matches need their rows' keys or their statements")
        self._keys = keys
        self._passages: npt.NDArray[np.int32] | None = passages
        self._occurrences: npt.NDArray[np.int32] | None = occurrences
        self._later: RowReader | None = None
        self.groups = groups

    @classmethod
    def later(cls, groups: Statements, read: RowReader) -> Matches:
        """Matches of which only the statements are known yet; `read` gives the rows."""
        made = cls(None, np.zeros(0, np.int32), np.zeros((0, 1), np.int32), groups)
        made._passages = made._occurrences = None
        made._later = read
        return made

    @property
    def passages(self) -> npt.NDArray[np.int32]:
        """Each row's passage number."""
        return self._rows()[0]

    @property
    def occurrences(self) -> npt.NDArray[np.int32]:
        """Each row's occurrences of each clause."""
        return self._rows()[1]

    def _rows(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        if self._passages is None or self._occurrences is None:
            self._read()
        assert self._passages is not None and self._occurrences is not None
        return self._passages, self._occurrences

    def _read(self) -> None:
        """Read the rows of matches made `later`, and hold them to the statements."""
        groups, read = self.groups, self._later
        assert groups is not None and read is not None
        rows = read(None)
        got = rows.by_statement()
        if len(got.keys) != len(groups.keys):
            # These matches were narrowed (`only_statements`) after they were made.
            rows = rows.only_statements(np.isin(got.keys, groups.keys))
            got = rows.by_statement()
        if not (
            np.array_equal(got.keys, groups.keys) and np.array_equal(got.starts, groups.starts)
        ):
            raise EngineFailure("the rows read later differ from the statements matched")
        self._occurrences = rows.occurrences
        self._passages = rows.passages

    @property
    def keys(self) -> npt.NDArray[np.int64]:
        """Each row's statement key (made from the statements when only they were
        given: ranking, facets and a page never ask, exports and timelines of
        formulas do)."""
        keys = self._keys
        if keys is None:
            groups = self.groups
            assert groups is not None
            keys = self._keys = np.repeat(groups.keys, np.diff(groups.starts))
        return keys

    @classmethod
    def empty(cls, n_leaves: int) -> Matches:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros((0, n_leaves), np.int32))

    def __len__(self) -> int:
        if self._passages is None:
            assert self.groups is not None
            return int(self.groups.starts[-1])
        return len(self._passages)

    def statement_passages(self, at: Sequence[int]) -> list[npt.NDArray[np.int32]]:
        """The passage numbers of the statements at `at` (indexes in `by_statement`
        order), each in order; of matches made `later`, only theirs are read."""
        groups = self.by_statement()
        starts = groups.starts
        if self._passages is not None or self._later is None:
            passages = self.passages
            return [passages[starts[i] : starts[i + 1]] for i in at]
        if not len(at):
            return []
        keys = groups.keys[np.asarray(at, dtype=np.int64)]
        rows = self._later(np.unique(keys))
        got = rows.by_statement()
        where = {key: j for j, key in enumerate(got.keys.tolist())}
        out = []
        for i, key in zip(at, keys.tolist(), strict=True):
            j = where.get(key)
            if j is None or got.starts[j + 1] - got.starts[j] != starts[i + 1] - starts[i]:
                raise EngineFailure("the rows read later differ from the statements matched")
            out.append(rows.passages[got.starts[j] : got.starts[j + 1]])
        return out

    def by_statement(self) -> Statements:
        """The rows grouped by statement (rows come sorted by key: a statement's rows
        are one run of equal keys)."""
        if self.groups is not None:
            return self.groups
        keys = self.keys
        bounds = np.flatnonzero(keys[1:] != keys[:-1]) + 1
        starts = np.concatenate(([0], bounds, [len(keys)])).astype(np.int64)
        if len(keys) == 0:
            starts = starts[:1]
        occ = self.occurrences.astype(np.int64)
        sums = (
            np.add.reduceat(occ, starts[:-1], axis=0)
            if len(keys)
            else np.zeros((0, occ.shape[1] if occ.ndim == 2 else 1), np.int64)
        )
        return Statements(keys[starts[:-1]], starts, sums)

    def only_statements(self, admitted: npt.NDArray[np.bool_]) -> Matches:
        """The rows of the statements `admitted` marks (one flag per statement, in
        `by_statement` order), grouped as before."""
        groups = self.by_statement()
        lengths = np.diff(groups.starts)
        starts = np.concatenate(([0], np.cumsum(lengths[admitted]))).astype(np.int64)
        kept = Statements(groups.keys[admitted], starts, groups.occurrences[admitted])
        if self._passages is None and self._later is not None:
            return Matches.later(kept, self._later)
        keep = np.repeat(admitted, lengths)
        return Matches(
            None if self._keys is None else self._keys[keep],
            self.passages[keep],
            self.occurrences[keep],
            kept,
        )


@dataclass(frozen=True, slots=True)
class Statements:
    """The statements of a `Matches`, in key order: statement i has key `keys[i]`, its
    rows are `starts[i]:starts[i + 1]` (`starts` has one entry more than there are
    statements), and `occurrences[i, j]` is the sum of clause j's occurrences over them."""

    keys: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    occurrences: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write made durable."""

    written: int
    deleted: int


class Backend(Protocol):
    """What every search engine behind Tifa provides."""

    name: str

    def write(self, statements: Sequence[Statement], delete: Iterable[str] = ()) -> WriteResult:
        """Replace (by id) `statements`, delete ids in `delete`, and make it durable
        atomically before returning: after a crash either all of it is there or none."""
        ...

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of those ids that are stored (for idempotent upserts)."""
        ...

    def statement(self, statement_id: str) -> Statement | None:
        """The full stored statement, or None."""
        ...

    def statements(self) -> Sequence[StatementMeta]:
        """Metadata of every stored statement (cached by the backend between writes)."""
        ...

    def match(self, query: Node) -> Matches:
        """All passages matching `query`, with exact per-clause occurrence counts."""
        ...

    def passage_texts(self, wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
        """Original texts of the passages (statement key, passage number) asked for."""
        ...

    def generation(self) -> int:
        """A number that changes whenever what is searchable changes (for caches)."""
        ...

    def known_generation(self) -> int | None:
        """`generation()` when it can be told without waiting on the network (an event
        loop may ask); None when only `generation()` can tell."""
        ...

    def ready(self) -> bool:
        """True when the index is open and readable."""
        ...

    def close(self) -> None: ...


def meta_from_json(m: dict[str, Any], shared: dict[Any, Any] | None = None) -> StatementMeta:
    """A statement's metadata from its stored JSON. With `shared` (one dict for a whole
    corpus), equal values that statements repeat (source, licence, language, kind,
    dates, speakers, series) are one object: at 10M passages (259k statements) the
    catalog's metadata took about 480 MB of memory without it."""
    pool: dict[Any, Any] = {} if shared is None else shared

    def one(value: _T) -> _T:
        found: _T = pool.setdefault(value, value)
        return found

    return StatementMeta(
        key=int(m["key"]),
        id=m["id"],
        title=m.get("title", ""),
        date=one(dt.date.fromisoformat(m["date"])),
        published=one(dt.date.fromisoformat(m["published"])),
        source=one(m.get("source", "")),
        url=m.get("url"),
        license=one(m.get("license", "")),
        language=one(m.get("language", "")),
        kind=one(m.get("kind", "other")),
        speakers=one(tuple(m.get("speakers", ()))),
        series=one(tuple(m.get("series", ()))),
        addressees=one(tuple(m.get("addressees", ()))),
        passages=int(m["n_passages"]),
        tokens=int(m["n_tokens"]),
        hash=m["hash"],
    )
