"""The service's HTTP hygiene, as plain ASGI middleware: request ids, JSON access logs and
metrics; security headers on every response; CORS from settings; a request body limit;
key-only reads when configured; and a deadline on reads. Also documents, in the OpenAPI
schema, that every error is a problem-details body.

Plain ASGI rather than BaseHTTPMiddleware so that streamed exports stay streamed and the
cost per request stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logging as tifa_logging
from app.config import Settings
from app.errors import PROBLEM, problem
from app.keys import KeyStore
from app.metrics import Metrics
from app.metrics import router as metrics_router
from app.services.writes import Writer
from indexer.errors import InvalidInput, TifaError, Timeout, TooLarge
from indexer.search import Search

log = logging.getLogger("tifa")
access_log = logging.getLogger("tifa.access")

REQUEST_ID = "X-Request-ID"
# A caller's request id is echoed only when it is short and plain, so that it cannot
# inject anything into logs or headers.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

DEFAULT_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Swagger UI and ReDoc load their scripts and styles from a CDN and start from inline
# script; without this they would be blank under the default policy.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; img-src 'self' data: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
# Reached without a key even when reads need one: probes, the API description, assets.
OPEN_PATHS = ("/healthz", "/readyz", "/openapi.json", "/docs", "/redoc", "/static/")
# Answered at once, never queued behind searches: probes, metrics, the API description,
# the query help and static assets.
UNQUEUED_PATHS = frozenset(
    ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/api/v1/help/query")
)
UNQUEUED_PREFIXES = ("/static/", "/docs/")

_background: set[asyncio.Task[None]] = set()


def _app_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def route_label(scope: Scope) -> str:
    """The route template a request matched (bounded label values for metrics)."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    path = _app_path(scope)
    if path.startswith("/static/"):
        return "/static"
    # Plain Starlette routes (the OpenAPI document, /docs) have fixed paths.
    return path if "endpoint" in scope else "unmatched"


async def _send_problem(scope: Scope, receive: Receive, send: Send, exc: TifaError) -> None:
    await problem(exc.status, exc.title, exc.detail, exc.errors)(scope, receive, send)


def no_delay(send: Send) -> None:
    """Turn Nagle's algorithm off on the connection that `send` writes to (under uvicorn).

    `uvicorn --workers N` (and the gunicorn worker) listen on a socket made without
    IPPROTO_TCP, and asyncio then leaves TCP_NODELAY off on the connections it accepts
    (uvicorn issue #3149): a response written as headers, then body, waits for the client's
    delayed ACK, about 40 ms on every keep-alive request after the first. `tifa serve` binds
    its socket right; this covers a server started another way. One system call; nothing
    when the server is not uvicorn or the socket is not TCP.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    get_extra_info = getattr(transport, "get_extra_info", None)
    if get_extra_info is None:
        return
    sock = get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class RequestContextMiddleware:
    """Outermost layer: gives each request an id (echoed in X-Request-ID), logs it as one
    JSON line, counts it, adds the security headers, and turns any exception that got
    this far into a bare 500 problem (details go to the log, never to the client)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get(REQUEST_ID, "")
        rid = given if _SAFE_ID.fullmatch(given) else uuid.uuid4().hex
        token = tifa_logging.request_id.set(rid)
        path = _app_path(scope)
        has_auth = "authorization" in headers
        status = 500
        started = time.perf_counter()
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                _add_headers(MutableHeaders(scope=message), rid, path, status, has_auth)
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error")
            status = 500
            if not response_started:
                response = problem(
                    500, "Internal error", "an unexpected error occurred; it has been logged"
                )
                await response(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route = route_label(scope)
            method = scope.get("method", "")
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            tifa_logging.request_id.reset(token)


def _add_headers(h: MutableHeaders, rid: str, path: str, status: int, has_auth: bool) -> None:
    """Security headers, each only where the route did not set its own (the HTML pages
    set their CSP, with frame-ancestors per the embed settings)."""
    h[REQUEST_ID] = rid
    if "content-security-policy" not in h:
        docs = path.startswith(DOCS_PATHS)
        h["Content-Security-Policy"] = DOCS_CSP if docs else DEFAULT_CSP
        if "x-frame-options" not in h:
            h["X-Frame-Options"] = "DENY"
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if status == 401 and "www-authenticate" not in h:
        # RFC 6750: name the scheme; `invalid_token` when a credential was sent.
        h["WWW-Authenticate"] = (
            'Bearer realm="tifa", error="invalid_token"' if has_auth else 'Bearer realm="tifa"'
        )
    if has_auth or status in (401, 403):
        # What a key was shown must not sit in a shared cache.
        h.setdefault("Cache-Control", "no-store")


class BodyLimitMiddleware:
    """Refuses bodies over `limit` bytes with 413: at once when Content-Length says so,
    else as soon as the bytes read pass it (chunked uploads), before all are read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        too_large = TooLarge(f"the request body is larger than {self.limit} bytes")
        if length is not None:
            if not length.isdigit():
                exc: TifaError = InvalidInput("Content-Length must be a number of bytes")
                await _send_problem(scope, receive, send, exc)
                return
            if int(length) > self.limit:
                await _send_problem(scope, receive, send, too_large)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise too_large
            return message

        await self.app(scope, counting_receive, send)


class ReadAccessMiddleware:
    """With TIFA_READ_ACCESS=key, every request but probes, docs and assets needs a
    valid key of any scope (the write routes check their narrower scopes themselves)."""

    def __init__(self, app: ASGIApp, keys: KeyStore) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _app_path(scope)
        if (
            scope["type"] != "http"
            or scope.get("method") == "OPTIONS"
            or path in OPEN_PATHS
            or path.startswith(("/static/", "/docs/"))
        ):
            await self.app(scope, receive, send)
            return
        authorization = Headers(scope=scope).get("authorization")
        try:
            await asyncio.to_thread(self.keys.authenticate, authorization, "read")
        except TifaError as exc:
            await _send_problem(scope, receive, send, exc)
            return
        await self.app(scope, receive, send)


class Busy(TifaError):
    status = 503
    title = "Service busy"


class WorkSlots:
    """At most `size` reads worked on at once in this process; the others wait in arrival
    order (first come, first served) for a slot to free up.

    CPU-bound searches share one interpreter lock: running every waiting request at once in
    threads only slices the CPU finer, so a burst makes them all late together (and past the
    deadline together). Admitted in order, each runs at full speed and the queue drains.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self.waiting: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return len(self.waiting)

    async def acquire(self, timeout_s: float) -> bool:
        """Take a slot; False if none came free within `timeout_s` (the caller is then not
        holding one)."""
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return True
        loop = asyncio.get_running_loop()
        slot: asyncio.Future[None] = loop.create_future()
        self.waiting.append(slot)
        timer = loop.call_later(timeout_s, _expire, slot)
        try:
            await slot
        except TimeoutError:
            self.waiting.remove(slot)
            return False
        except BaseException:
            # Cancelled while waiting; a slot handed over at the same moment goes on.
            if slot.done() and not slot.cancelled() and slot.exception() is None:
                self.release()
            else:
                with contextlib.suppress(ValueError):
                    self.waiting.remove(slot)
            raise
        finally:
            timer.cancel()
        return True

    def release(self) -> None:
        """Hand the slot to the longest waiting request, or free it."""
        while self.waiting:
            slot = self.waiting.popleft()
            if not slot.done():
                slot.set_result(None)
                return
        self.free += 1


def _expire(slot: asyncio.Future[None]) -> None:
    if not slot.done():
        slot.set_exception(TimeoutError())


class ReadSchedulerMiddleware:
    """Reads (GET, HEAD) wait their turn for a work slot, then get `timeout_s` to start
    answering; past it, 504.

    The deadline counts from the moment the request is admitted: a burst that queues behind
    other fast requests waits instead of timing out. Waiting is bounded too: a read not
    admitted within `queue_timeout_s` is answered 503 with Retry-After (the service is
    overloaded, not the query too slow). Probes, metrics, the API description and static
    assets never queue.

    Past the deadline the work goes on in its thread and its result is dropped: a thread
    cannot be stopped safely part way, and letting it finish leaves caches and the engine
    consistent. It keeps its slot until then (the CPU is still busy with it). Writes are not
    cut short (their outcome must be known); a streamed export that has started answering
    runs to its end.
    """

    def __init__(
        self,
        app: ASGIApp,
        timeout_s: float,
        slots: WorkSlots,
        queue_timeout_s: float,
        metrics: Metrics,
    ) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.slots = slots
        self.queue_timeout_s = queue_timeout_s
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path = _app_path(scope)
        queued = not (path in UNQUEUED_PATHS or path.startswith(UNQUEUED_PREFIXES))
        if queued and not await self._admit():
            self.metrics.shed.inc()
            log.warning("request shed: no work slot", extra={"queue_s": self.queue_timeout_s})
            busy = Busy(
                f"the service is busy: no capacity came free within {self.queue_timeout_s:g} s; "
                "try again shortly"
            )
            response = problem(busy.status, busy.title, busy.detail)
            response.headers["Retry-After"] = "1"
            await response(scope, receive, send)
            return
        started = False
        abandoned = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        if queued:
            task.add_done_callback(self._release)
        done, _ = await asyncio.wait({task}, timeout=self.timeout_s)
        if task in done or started:
            await task
            return
        abandoned = True
        _background.add(task)
        task.add_done_callback(_reap)
        self.metrics.timeouts.labels(route_label(scope)).inc()
        log.warning("request passed its deadline", extra={"timeout_s": self.timeout_s})
        exc = Timeout(
            f"the request took longer than {self.timeout_s:g} s; "
            "narrow the query (fewer prefixes, a date range) or try again"
        )
        await _send_problem(scope, receive, send, exc)

    async def _admit(self) -> bool:
        if self.slots.free > 0 and not self.slots.waiting:
            return await self.slots.acquire(self.queue_timeout_s)
        self.metrics.queued.inc()
        try:
            return await self.slots.acquire(self.queue_timeout_s)
        finally:
            self.metrics.queued.dec()

    def _release(self, _: asyncio.Future[None]) -> None:
        self.slots.release()


def _reap(task: asyncio.Task[None]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("abandoned request failed", exc_info=task.exception())


def install_operations(app: FastAPI, settings: Settings, search: Search) -> None:
    """Give `app` what operating it needs: the key store, the writer and the write routes,
    metrics and `/metrics`, and the middleware stack (added innermost first, as Starlette
    puts the last one added outermost)."""
    from app.routes import admin

    tifa_logging.configure(settings.log_level)
    keys = KeyStore(settings.keys_path)
    metrics = Metrics(search, settings.index_dir if settings.backend == "embedded" else None)
    app.state.keys = keys
    app.state.metrics = metrics
    app.state.writer = Writer(search.backend)
    app.include_router(admin.router)
    app.include_router(metrics_router)

    app.state.work_slots = WorkSlots(settings.read_slots)
    app.add_middleware(
        ReadSchedulerMiddleware,
        timeout_s=settings.request_timeout_s,
        slots=app.state.work_slots,
        queue_timeout_s=settings.queue_timeout_s,
        metrics=metrics,
    )
    if settings.read_access == "key":
        app.add_middleware(ReadAccessMiddleware, keys=keys)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", REQUEST_ID],
            expose_headers=[REQUEST_ID],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    document_problems(app)


# ---- OpenAPI: every error is a problem document ----------------------------------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error, as RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI schema say what the service does: every error status answers
    `application/problem+json` (FastAPI would document 422 as its own shape)."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "Invalid input", "content": content}
                responses.setdefault(
                    "default", {"description": "An error (problem details)", "content": content}
                )
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
