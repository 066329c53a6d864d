"""The optional native phrase matcher and index writer (`native/`, a Rust extension over
the same tantivy the Python package embeds), as the embedded backend sees them.

For a plain phrase it returns every matching passage with its exact occurrence count as
three packed arrays, without one Python object per hit: that per-hit cost, not tantivy's
matching, was most of a cold search (see BENCHMARKS.md). Without the extension (no Rust
toolchain when Tifa was set up) the embedded backend answers the same through the
tantivy package; the contract tests run both ways.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt

from indexer.errors import EngineFailure, EngineUnavailable

_T = TypeVar("_T")


class _Deferred(Protocol):
    def rows(self, only_keys: bytes | None = None) -> _Packed: ...


# Rows' passage numbers and counts, statements' keys, row starts and occurrences.
_Packed = tuple[bytes, bytes, bytes, bytes, bytes]


class _PhraseIndex(Protocol):
    threads: int

    def reload(self) -> None: ...

    def passage_texts(self, keys: list[int], pnos: list[int]) -> list[bytes | None]: ...

    def match_phrase(
        self,
        field: str,
        tokens: list[str],
        exclude_field: str | None = None,
        exclude_term: str | None = None,
        skip_keys: bytes | None = None,
        gate_field: str | None = None,
        gates: list[str] | None = None,
        defer: bool = False,
    ) -> tuple[_Packed, _Deferred | None]: ...


class _PairMaker(Protocol):
    def terms(self, tokens: str) -> str: ...


class _DocWriter(Protocol):
    def delete_statement(self, sid: str) -> None: ...

    def add_passages(
        self,
        sid: str,
        key: int,
        filters: list[tuple[str, str]],
        date: int,
        published: int,
        passages: list[PassageIn],
    ) -> tuple[bool, int, list[int]]: ...

    def add_statement(self, sid: str, key: int, hash: str, meta: bytes, record: bytes) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...


# A passage as the native writer takes it: number, passage key, text, folded tokens (None:
# the writer tokenises text on the ASCII path), lemmas where they differ from the tokens,
# folded addressee tokens.
PassageIn = tuple[int, int, str, str | None, str | None, str | None]


# (left edge, start, end, right edge) of each snippet, in characters (see `ascii_snippets`).
SnippetSpans = list[tuple[int, int, int, int]]


class _AsciiSnippets(Protocol):
    def find(self, text: str, context: int, limit: int | None = None) -> SnippetSpans | None: ...


class _Module(Protocol):
    def PhraseIndex(  # noqa: N802
        self,
        path: str,
        threads: int | None = None,
        parallel_from: int | None = None,
        deferred_from: int | None = None,
    ) -> _PhraseIndex: ...

    def PairMaker(self, groups: list[list[str]], joiner: str) -> _PairMaker: ...  # noqa: N802

    def AsciiSnippets(self, phrases: list[list[str]]) -> _AsciiSnippets: ...  # noqa: N802

    def sort_rows(self, rows: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]: ...

    def ascii_terms(self, text: str) -> tuple[str, int] | None: ...

    def passage_terms(self, text: str) -> tuple[str, int] | None: ...

    def sorted_positions(self, sorted: object, needles: object) -> bytes: ...

    def DocWriter(  # noqa: N802 - the class
        self,
        path: str,
        heap_bytes: int,
        threads: int,
        groups: list[list[str]],
        joiner: str,
        most_merged: int | None = None,
    ) -> _DocWriter: ...


def _module() -> _Module | None:
    try:
        return cast(_Module, importlib.import_module("tifa_native"))
    except ImportError:
        return None


def available() -> bool:
    """Whether the extension is installed in this interpreter."""
    return _module() is not None


def pair_maker(groups: Sequence[Collection[str]], joiner: str) -> Callable[[str], str] | None:
    """The extension's maker of pair terms (`pairs.pair_terms`, a few times faster), or
    None without the extension."""
    module = _module()
    if module is None:
        return None
    return module.PairMaker([sorted(words) for words in groups], joiner).terms


def ascii_snippets(
    phrases: Sequence[Sequence[str]],
) -> Callable[[str, int, int | None], SnippetSpans | None] | None:
    """The extension's snippet finder for plain `phrases` (folded tokens), or None without
    the extension: `find(text, context, limit)` gives (left edge, start, end, right edge)
    of the first `limit` occurrences in character offsets, as `indexer.search.kwic` cuts
    them, or None when `text` holds characters the extension cannot fold one for one
    (Greek, marks, ß...: kwic then takes Python's path). Accented Latin, Cyrillic and
    Chinese text it takes."""
    module = _module()
    return None if module is None else module.AsciiSnippets([list(p) for p in phrases]).find


class Found(NamedTuple):
    """What the native matcher finds: each matching passage's number and occurrences,
    sorted by (statement key, passage number), and their statements: keys (ascending),
    where each one's rows start (one entry more than statements) and its occurrences.

    `later`, when set, reads the rows, which were not made (`passages` and `counts`
    are empty; see `NativePhrases.match`)."""

    passages: npt.NDArray[np.int32]
    counts: npt.NDArray[np.int32]
    keys: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    occurrences: npt.NDArray[np.int64]
    later: LaterRows | None = None


def _found(packed: _Packed, later: LaterRows | None = None) -> Found:
    pnos, occ, keys, starts, sums = packed
    return Found(
        np.frombuffer(pnos, dtype="<i4").astype(np.int32, copy=False),
        np.frombuffer(occ, dtype="<i4").astype(np.int32, copy=False),
        np.frombuffer(keys, dtype="<i8").astype(np.int64, copy=False),
        np.frombuffer(starts, dtype="<i8").astype(np.int64, copy=False),
        np.frombuffer(sums, dtype="<i8").astype(np.int64, copy=False),
        later,
    )


class LaterRows:
    """The rows of a phrase matched statement by statement, read on demand from the view
    of the index it was matched in (what was written since does not change them)."""

    def __init__(self, deferred: _Deferred) -> None:
        self._deferred = deferred

    def rows(self, keys: npt.NDArray[np.int64] | None = None) -> Found:
        """The rows of the statements `keys` names (ascending), or of all of them."""
        only = None if keys is None else np.ascontiguousarray(keys, dtype="<i8").tobytes()
        try:
            return _found(self._deferred.rows(only))
        except ValueError as exc:
            raise EngineFailure(f"the native matcher failed to read rows: {exc}") from exc


class NativePhrases:
    """Plain-phrase matches read by the extension from the index at `path`; one query's
    segments are matched by `threads` threads (default: one per core, at most 4) when
    its rarest word is in at least `parallel_from` passages (default: the extension's
    4,096; below that a thread costs more than it saves; 0: always, for tests). A
    phrase whose rarest word is in at least `deferred_from` passages (default: the
    extension's 16,384; 0: always, for tests) may be matched statement by statement,
    its rows read later (`match(defer=True)`)."""

    def __init__(
        self,
        path: Path,
        threads: int | None = None,
        parallel_from: int | None = None,
        deferred_from: int | None = None,
    ) -> None:
        module = _module()
        if module is None:
            raise EngineUnavailable(
                "the native matcher (tifa_native) is not installed: build it with "
                "`pip install ./native` (needs a Rust toolchain), or set TIFA_NATIVE=off"
            )
        try:
            self._index = module.PhraseIndex(str(path), threads, parallel_from, deferred_from)
        except (OSError, ValueError) as exc:
            raise EngineUnavailable(f"the native matcher cannot open {path}: {exc}") from exc

    @property
    def threads(self) -> int:
        """How many threads match one query's segments."""
        return self._index.threads

    def reload(self) -> None:
        """See the latest commit (called whenever the backend reloads its own reader)."""
        try:
            self._index.reload()
        except ValueError as exc:
            raise EngineFailure(f"the native matcher failed to reload: {exc}") from exc

    def match(
        self,
        field: str,
        tokens: list[str],
        exclude: tuple[str, str] | None,
        skip_keys: bytes | None = None,
        gates: tuple[str, Sequence[str]] | None = None,
        defer: bool = False,
    ) -> Found:
        """Every passage in which `tokens` occur consecutively in `field`, with its
        statements (`Found`); passages carrying term `exclude[1]` in field `exclude[0]`
        are left out, and so are the passages of the statements whose keys `skip_keys`
        holds (ascending little-endian int64s, as `Catalog.turned_away` packs them).
        `gates`: (field, terms) every matching passage must hold (the pair terms of the
        phrase's adjacent words), checked before any position is read.

        With `defer`, a phrase whose rarest word is in at least `deferred_from` passages
        (see the class) is matched statement by statement: `Found.later` then reads its
        rows when they are asked for."""
        try:
            packed, deferred = self._index.match_phrase(
                field,
                tokens,
                exclude_field=exclude[0] if exclude else None,
                exclude_term=exclude[1] if exclude else None,
                skip_keys=skip_keys,
                gate_field=gates[0] if gates else None,
                gates=list(gates[1]) if gates else None,
                defer=defer,
            )
        except ValueError as exc:
            raise EngineFailure(f"the native matcher failed: {exc}") from exc
        return _found(packed, None if deferred is None else LaterRows(deferred))

    def passage_texts(self, wanted: list[tuple[int, int]]) -> list[str | None]:
        """The stored text of each (statement key, passage number), in order; None where
        the index holds no such passage or holds it without its text."""
        try:
            found = self._index.passage_texts([k for k, _ in wanted], [n for _, n in wanted])
        except ValueError as exc:
            raise EngineFailure(f"the native matcher failed to read passages: {exc}") from exc
        return [None if raw is None else raw.decode("utf-8") for raw in found]


class NativeWriter:
    """The embedded index's one writer, in the extension: passage documents built,
    tokenised on the ASCII path, and indexed without a JSON round trip or the GIL (see
    `native/src/writer.rs`). Errors become EngineUnavailable (the index is locked by
    another writer, or cannot be opened) and EngineFailure (a write failed)."""

    def __init__(
        self,
        path: Path,
        heap_bytes: int,
        threads: int,
        groups: Sequence[Collection[str]],
        joiner: str,
        most_merged: int | None = None,
    ) -> None:
        """Pairs of adjacent words of one of `groups` are indexed as terms (see
        `pairs.py`); `most_merged`: no merge makes a segment of more than this many documents (None:
        the extension's default, 400,000)."""
        module = _module()
        if module is None:
            raise EngineUnavailable("the native writer (tifa_native) is not installed")
        try:
            self._writer = module.DocWriter(
                str(path),
                heap_bytes,
                threads,
                [sorted(words) for words in groups],
                joiner,
                most_merged,
            )
        except ValueError as exc:
            raise EngineUnavailable(
                f"another process is writing to the index at {path} ({exc}); one writer at a time"
            ) from exc
        except OSError as exc:
            raise EngineUnavailable(f"cannot open the index at {path}: {exc}") from exc

    def delete_statement(self, sid: str) -> None:
        self._call(self._writer.delete_statement, sid)

    def add_passages(
        self,
        sid: str,
        key: int,
        filters: list[tuple[str, str]],
        date: int,
        published: int,
        passages: list[PassageIn],
    ) -> tuple[bool, int, list[int]]:
        """(made, total tokens, passages the caller must tokenise: then nothing was made).
        The passages are indexed with the statement's own document by `add_statement`."""
        return self._call(self._writer.add_passages, sid, key, filters, date, published, passages)

    def add_statement(self, sid: str, key: int, hash: str, meta: bytes, record: bytes) -> None:
        self._call(self._writer.add_statement, sid, key, hash, meta, record)

    def commit(self) -> None:
        self._call(self._writer.commit)

    def rollback(self) -> None:
        self._call(self._writer.rollback)

    def close(self) -> None:
        self._call(self._writer.close)

    @staticmethod
    def _call(method: Callable[..., _T], *args: object) -> _T:
        try:
            return method(*args)
        except ValueError as exc:
            raise EngineFailure(f"writing to the embedded index failed: {exc}") from exc


def ascii_terms(text: str) -> tuple[str, int] | None:
    """The extension's ASCII-path tokens of `text` (joined, and their number), or None
    off that path or without the extension; for tests."""
    module = _module()
    return None if module is None else module.ascii_terms(text)


def passage_terms(text: str) -> tuple[str, int] | None:
    """The native writer's tokens of `text` (joined, and their number) wherever it
    tokenises a passage itself (the ASCII path, accented Latin, Cyrillic and Chinese
    text), or None elsewhere or without the extension; for tests."""
    module = _module()
    return None if module is None else module.passage_terms(text)


def sorted_positions(
    sorted_keys: npt.NDArray[np.int64], needles: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64] | None:
    """Where each of `needles` is in `sorted_keys` (ascending), -1 where absent, found by
    the extension (fastest for ascending needles); None without the extension."""
    module = _module()
    if module is None:
        return None
    found = module.sorted_positions(
        np.ascontiguousarray(sorted_keys, dtype=np.int64),
        np.ascontiguousarray(needles, dtype=np.int64),
    )
    return np.frombuffer(found, dtype="<i8").astype(np.int64, copy=False)
