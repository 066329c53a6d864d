"""Writes over HTTP: add or update statements, delete one, reindex. Every route needs an
API key (write scope; reindex admin); a POST with an `Idempotency-Key` can be retried
safely. The work itself is `app.services.writes`; this module owns only the HTTP side.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from app.keys import KeyInfo, KeyStore, Scope
from app.metrics import Metrics
from app.services.writes import ReindexReport, Writer, WriteReport, parse_body
from indexer.errors import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["writes"])

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `tifa keys create`, sent as `Authorization: Bearer <key>`.",
)
IDEMPOTENCY_KEY_MAX = 255


def _keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


def _require(scope: Scope) -> Any:
    def dependency(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> KeyInfo:
        # The raw header, not HTTPBearer's parse: a malformed one must be a 401 too.
        return _keys(request).authenticate(request.headers.get("authorization"), scope)

    return Depends(dependency)


WriteKey = Annotated[KeyInfo, _require("write")]
AdminKey = Annotated[KeyInfo, _require("admin")]


class RecordOut(BaseModel):
    record: int = Field(description="1-based: the position in the array, or the NDJSON line.")
    id: str | None
    status: Literal["created", "updated", "unchanged", "rejected"]
    reason: str | None = None


class WriteTotals(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int


class WriteOut(BaseModel):
    total: WriteTotals
    results: list[RecordOut]

    @classmethod
    def of(cls, report: WriteReport) -> WriteOut:
        return cls(
            total=WriteTotals(
                created=report.count("created"),
                updated=report.count("updated"),
                unchanged=report.count("unchanged"),
                rejected=report.count("rejected"),
            ),
            results=[
                RecordOut(record=r.record, id=r.id, status=r.status, reason=r.reason)
                for r in report.results
            ],
        )


class DeletedOut(BaseModel):
    id: str
    status: Literal["deleted"] = "deleted"


class ReindexOut(BaseModel):
    backend: str
    statements: int
    passages: int
    seconds: float
    index: str | None = Field(None, description="The new index behind the alias (Elasticsearch).")

    @classmethod
    def of(cls, r: ReindexReport) -> ReindexOut:
        return cls(
            backend=r.backend,
            statements=r.statements,
            passages=r.passages,
            seconds=r.seconds,
            index=r.index,
        )


_STATEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A statement in the canonical input format (see README, Input format).",
    "required": ["id", "date", "text"],
    "properties": {
        "id": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "date": {"type": "string", "format": "date"},
        "text": {"type": "string"},
        "published": {"type": "string", "format": "date"},
        "title": {"type": "string"},
        "source": {"type": "string"},
        "url": {"type": "string"},
        "license": {"type": "string"},
        "language": {"type": "string"},
        "kind": {"type": "string"},
        "speakers": {"type": "array", "items": {"type": "string"}},
        "series": {"type": "array", "items": {"type": "string"}},
        "meta": {"type": "object"},
        "passages": {"type": "array", "items": {"type": "object"}},
    },
}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": _STATEMENT_SCHEMA}},
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "One statement object per line."}
            },
        },
    }
}


async def _read_body(request: Request) -> bytes:
    # Read through the stream so the body-limit middleware can stop an oversized upload
    # part way; it raises TooLarge (413) from inside this loop.
    chunks = [chunk async for chunk in request.stream()]
    return b"".join(chunks)


def _idempotency_key(request: Request) -> str | None:
    value = request.headers.get("idempotency-key")
    if value is None:
        return None
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX or not value.isascii() or not value.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{IDEMPOTENCY_KEY_MAX} printable ASCII characters"
        )
    return value


@router.post(
    "/statements",
    response_model=WriteOut,
    summary="Add or update statements",
    description=(
        "A JSON array of statements, or NDJSON (`Content-Type: application/x-ndjson`). Each "
        "record is reported `created`, `updated`, `unchanged` (same content hash) or "
        "`rejected` with its number and the reason; the answer comes after the index has "
        "committed. Send `Idempotency-Key` to make a retry replay the first answer."
    ),
    openapi_extra=_BODY,
)
async def post_statements(request: Request, key: WriteKey) -> Response:
    idem = _idempotency_key(request)
    body = await _read_body(request)
    media_type = request.headers.get("content-type", "")
    keys = _keys(request)
    if idem is not None:
        fingerprint = hashlib.sha256(
            b"POST /statements\0" + media_type.encode() + b"\0" + body
        ).hexdigest()
        ttl = request.app.state.settings.idempotency_ttl_s
        replay = await run_in_threadpool(keys.begin, key.id, idem, fingerprint, ttl)
        if replay is not None:
            return Response(
                replay.body,
                status_code=replay.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
    try:
        writer: Writer = request.app.state.writer
        records = await run_in_threadpool(parse_body, body, media_type)
        report = await run_in_threadpool(writer.upsert, records)
    except BaseException:
        if idem is not None:
            await run_in_threadpool(keys.abandon, key.id, idem)
        raise
    out = WriteOut.of(report)
    metrics: Metrics = request.app.state.metrics
    for status, n in out.total.model_dump().items():
        if n:
            metrics.ingested.labels(status).inc(n)
    payload = out.model_dump_json().encode("utf-8")
    if idem is not None:
        await run_in_threadpool(keys.finish, key.id, idem, 200, payload)
    return Response(payload, media_type="application/json")


@router.delete(
    "/statements/{statement_id}",
    response_model=DeletedOut,
    summary="Delete a statement (committed before the answer)",
)
def delete_statement(statement_id: str, request: Request, _: WriteKey) -> DeletedOut:
    writer: Writer = request.app.state.writer
    writer.delete(statement_id)
    metrics: Metrics = request.app.state.metrics
    metrics.ingested.labels("deleted").inc()
    return DeletedOut(id=statement_id)


@router.post(
    "/reindex",
    response_model=ReindexOut,
    summary="Rebuild the index from the stored statements (admin)",
    description=(
        "Elasticsearch: a new index, filled and swapped in behind the alias atomically. "
        "Embedded: every statement written again into the same index, in committed batches."
    ),
)
def reindex(request: Request, _: AdminKey) -> ReindexOut:
    writer: Writer = request.app.state.writer
    return ReindexOut.of(writer.reindex())
