"""Builds the FastAPI application: `create_app(settings)`; nothing is created at import."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app import errors
from app.config import Settings
from app.engine import open_search
from app.middleware import install_operations, no_delay
from app.rendered import Rendered
from app.routes import diff, discover, formulas, health, pages, search, series, statements, timeline
from indexer.search import Search

log = logging.getLogger("tifa")


class Tifa(FastAPI):
    """The service's FastAPI application."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Here, not in a middleware: only the server's own `send` leads to the connection.
        if scope["type"] == "http":
            no_delay(send)
        await super().__call__(scope, receive, send)


def _warm(search_layer: Search) -> None:
    try:
        search_layer.warm_persisted()
    except Exception:  # the store is a shortcut: requests compute what warming did not
        log.warning("warming the formula lexicon failed", exc_info=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A Tifa service over the index named in `settings` (default: from the environment)."""
    settings = settings or Settings()
    search_layer = open_search(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The lexicon's matches are usually on disk already (stored at ingest); any
        # missing ones are computed in the background rather than on a first request.
        threading.Thread(target=_warm, args=(search_layer,), name="tifa-warm", daemon=True).start()
        yield
        search_layer.backend.close()

    app = Tifa(
        title="Tifa",
        version="0.1.0",
        summary="Search official statements and diff them year over year.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.search = search_layer
    app.state.rendered = Rendered()
    errors.install(app)
    for module in (health, search, statements, timeline, formulas, series, diff, discover):
        app.include_router(module.router)
    app.include_router(pages.router)
    app.mount("/static", pages.static_files(), name="static")
    # Writes and keys, metrics, and the HTTP hygiene layers (ids, logs, limits, headers).
    install_operations(app, settings, search_layer)
    return app
