"""Writes through the service: parsing a request body into statements (with the readers'
validation), upserting them with a per-record result, deleting, and reindexing.

Nothing here knows HTTP: the route hands in bytes and a media type and gets plain values
back; every refusal is a TifaError. A result is returned only after the backend has
committed, so whatever a caller was told is durable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from indexer.backends.base import Backend
from indexer.errors import EngineFailure, InvalidInput, NotFound, TifaError
from indexer.model import Rejection, Statement
from indexer.sources.jsonl import decode_line
from indexer.sources.records import build

Status = Literal["created", "updated", "unchanged", "rejected"]
SOURCE = "request"
JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
REINDEX_BATCH = 200


class UnsupportedMediaType(TifaError):
    status = 415
    title = "Unsupported media type"


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What became of one record of a request (`record` is 1-based: the array position,
    or the line for NDJSON)."""

    record: int
    id: str | None
    status: Status
    reason: str | None = None


@dataclass
class WriteReport:
    results: list[RecordResult] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)


@dataclass(frozen=True, slots=True)
class ReindexReport:
    backend: str
    statements: int
    passages: int
    seconds: float
    index: str | None = None


def parse_body(body: bytes, media_type: str) -> list[tuple[int, Statement | Rejection]]:
    """Records of a request body: a JSON array of statement objects, or NDJSON.

    Returns (record number, Statement or Rejection) in order. Raises InvalidInput when the
    body as a whole is not readable (a record that is, gets a Rejection instead), and
    UnsupportedMediaType for other media types.
    """
    kind = media_type.split(";", 1)[0].strip().lower()
    if kind in NDJSON_TYPES:
        return list(_ndjson(body))
    if kind in JSON_TYPES or kind == "":
        return _array(body)
    raise UnsupportedMediaType(
        f"send application/json (an array of statements) or application/x-ndjson, not {kind!r}"
    )


def _array(body: bytes) -> list[tuple[int, Statement | Rejection]]:
    try:
        value = decode_line(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    except RecursionError:
        raise InvalidInput("the body is nested too deeply") from None
    except ValueError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, list):
        raise InvalidInput("the body must be a JSON array of statement objects (or NDJSON)")
    return [(i, build(SOURCE, i, raw)) for i, raw in enumerate(value, start=1)]


def _ndjson(body: bytes) -> Iterator[tuple[int, Statement | Rejection]]:
    for number, raw_line in enumerate(body.split(b"\n"), start=1):
        if not raw_line.strip():
            continue
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, Rejection(SOURCE, number, f"not UTF-8: {exc.reason}")
            continue
        try:
            value: Any = decode_line(line)
        except RecursionError:
            yield number, Rejection(SOURCE, number, "malformed JSON: nested too deeply")
            continue
        except ValueError as exc:
            yield number, Rejection(SOURCE, number, f"malformed JSON: {exc}")
            continue
        yield number, build(SOURCE, number, value)


class Writer:
    """Serialises this process's writes to one backend (the engine allows one writer per
    index, and classifying created/updated must not race with another request)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._lock = threading.Lock()

    def upsert(self, records: list[tuple[int, Statement | Rejection]]) -> WriteReport:
        """Write every valid statement in one commit; report each record's fate.

        A later record with the same id as an earlier one wins; the earlier is reported
        rejected. Statements whose content hash is already stored are not rewritten.
        Raises EngineUnavailable/EngineFailure if the commit fails (nothing acknowledged).
        """
        last: dict[str, int] = {}
        for number, item in records:
            if isinstance(item, Statement):
                last[item.id] = number
        with self._lock:
            stored = self.backend.hashes(list(last)) if last else {}
            statuses: dict[int, RecordResult] = {}
            to_write: dict[str, Statement] = {}
            for number, item in records:
                if isinstance(item, Rejection):
                    statuses[number] = RecordResult(number, item.id, "rejected", item.reason)
                elif last[item.id] != number:
                    reason = f"superseded by record {last[item.id]} with the same id"
                    statuses[number] = RecordResult(number, item.id, "rejected", reason)
                elif item.id not in stored:
                    statuses[number] = RecordResult(number, item.id, "created")
                    to_write[item.id] = item
                elif stored[item.id] != item.content_hash():
                    statuses[number] = RecordResult(number, item.id, "updated")
                    to_write[item.id] = item
                else:
                    statuses[number] = RecordResult(number, item.id, "unchanged")
            try:
                failed = self._write(list(to_write.values()))
            finally:
                self._release()
            for sid, reason in failed.items():
                number = last[sid]
                statuses[number] = RecordResult(number, sid, "rejected", f"engine: {reason}")
        return WriteReport([statuses[n] for n, _ in records])

    def _write(self, statements: list[Statement]) -> dict[str, str]:
        """Commit; return {id: reason} for documents the engine refused one by one (the
        rest are then written again without them)."""
        if not statements:
            return {}
        try:
            self.backend.write(statements)
            return {}
        except EngineFailure as exc:
            failed = {str(e.get("id")): str(e.get("reason")) for e in exc.errors if e.get("id")}
            if not failed:
                raise
        kept = [st for st in statements if st.id not in failed]
        if kept:
            self.backend.write(kept)
        return failed

    def delete(self, statement_id: str) -> None:
        """Delete one statement (committed before returning); NotFound if absent."""
        with self._lock:
            if not self.backend.hashes([statement_id]):
                raise NotFound(f"no statement with id {statement_id!r}")
            try:
                self.backend.write([], delete=[statement_id])
            finally:
                self._release()

    def reindex(self) -> ReindexReport:
        """Rebuild the index from the stored statements.

        Elasticsearch: a new index behind the alias, swapped atomically. Embedded: every
        statement written again into the same index, in committed batches (a crash part
        way leaves each statement either old or rewritten, both complete).
        """
        started = time.monotonic()
        with self._lock:
            try:
                return self._reindex(started)
            finally:
                self._release()

    def _reindex(self, started: float) -> ReindexReport:
        metas = list(self.backend.statements())
        swap = getattr(self.backend, "reindex", None)
        if callable(swap):
            new_index = str(swap())
            return ReindexReport(
                self.backend.name,
                len(metas),
                sum(m.passages for m in metas),
                round(time.monotonic() - started, 3),
                new_index,
            )
        done = passages = 0
        batch: list[Statement] = []
        for meta in metas:
            st = self.backend.statement(meta.id)
            if st is None:  # deleted by another process meanwhile
                continue
            # Writing the stored statement again re-derives everything indexed from it
            # (tokens, lemmas, filter fields) with this version's text rules.
            batch.append(st)
            if len(batch) >= REINDEX_BATCH:
                self.backend.write(batch)
                done += len(batch)
                passages += sum(len(s.passages) for s in batch)
                batch = []
        if batch:
            self.backend.write(batch)
            done += len(batch)
            passages += sum(len(s.passages) for s in batch)
        return ReindexReport(
            self.backend.name, done, passages, round(time.monotonic() - started, 3)
        )

    def _release(self) -> None:
        """Let other processes write again (`tifa ingest` beside a running service).

        The embedded engine keeps its index writer, and with it the index's write lock,
        until closed; closing it after each request costs a wait for merges but keeps the
        CLI usable while the service runs. Elasticsearch has no such lock (and closing
        would close its client).
        """
        if self.backend.name == "embedded":
            self.backend.close()
