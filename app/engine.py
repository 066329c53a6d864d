"""Builds the configured backend and search layer from settings (the one place that
knows which engine is in use)."""

from __future__ import annotations

import contextlib

from app.config import Settings
from indexer.backends.base import Backend
from indexer.errors import TifaError
from indexer.matchstore import MatchStore
from indexer.search import Search


def open_backend(settings: Settings) -> Backend:
    """Open the engine named in settings; raises EngineUnavailable if it cannot."""
    if settings.backend == "elasticsearch":
        from indexer.backends.elastic.backend import ElasticBackend

        backend: Backend = ElasticBackend(
            settings.es_url,
            index=settings.es_index,
            api_key=settings.es_api_key,
            basic_auth=(settings.es_username, settings.es_password or "")
            if settings.es_username
            else None,
            ca_certs=str(settings.es_ca_certs) if settings.es_ca_certs else None,
            shards=settings.es_shards,
            replicas=settings.es_replicas,
        )
        return backend
    from indexer.backends.embedded import EmbeddedBackend

    native = {"auto": None, "on": True, "off": False}[settings.native]
    threads = settings.match_threads or None
    return EmbeddedBackend(settings.index_dir, native=native, match_threads=threads)


def open_search(settings: Settings) -> Search:
    """The search layer, with the formula lexicon's matches kept in `data_dir/derived`
    (computed once per corpus version, shared by every worker and command)."""
    search = Search(
        open_backend(settings),
        cache_size=settings.cache_size,
        store=MatchStore(settings.data_dir / "derived"),
    )
    from app.services.formulas import lexicon_nodes, load_lexicon

    # Without a lexicon here, formulas are answered without the store.
    with contextlib.suppress(TifaError):
        search.persist(lexicon_nodes(load_lexicon(settings.corpus_dir)))
    return search
