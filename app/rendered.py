"""Rendered JSON answers of the read API, kept per index generation, and the rule for
where a request's work runs.

A repeated search or timeline is answered from here on the event loop: the search layer
has its result cached already, and what is left (validating the response model, dumping
JSON, handing the request to a worker thread and back) costs ten times the lookup. Work
not at hand goes to the thread pool, where the deadline middleware can give up on it; so
does a lookup whose generation only the network can tell (Elasticsearch past its TTL).

Keys hold the backend's generation, so a commit (by any process) makes every older answer
unreachable; one cache per application, because two applications over different indexes
can share generation numbers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from indexer.search import Search

DEFAULT_BYTES = 32 * 2**20


class Rendered:
    """Response bodies by key, least recently used dropped first, bounded in bytes."""

    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self.max_bytes = max_bytes
        self._size = 0
        self._lock = threading.Lock()
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes // 8:
            return  # one huge answer must not push out everything else
        with self._lock:
            old = self._bodies.pop(key, None)
            self._size += len(body) - (len(old) if old is not None else 0)
            self._bodies[key] = body
            while self._size > self.max_bytes:
                _, dropped = self._bodies.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._bodies)

    def at_hand(self, search: Search, key: Hashable) -> bytes | None:
        """The body for `key` under the current index generation, if kept and if that
        generation is known without waiting on the network (see `known_generation`)."""
        generation = search.backend.known_generation()
        return None if generation is None else self.get((key, generation))

    async def answer(self, search: Search, key: Hashable, compute: Callable[[], bytes]) -> bytes:
        """The body for `key` under the current index generation: from the cache, else
        computed in the thread pool and kept."""
        body = self.at_hand(search, key)
        if body is not None:
            return body

        def work() -> bytes:
            # The generation is read before computing: an answer is filed under the
            # generation it saw or an earlier one (then it is only fresher than asked for).
            full = (key, search.backend.generation())
            found = self.get(full)
            if found is None:
                found = compute()
                self.put(full, found)
            return found

        return await run_in_threadpool(work)

    def tee(self, search: Search, key: Hashable, chunks: Iterator[str]) -> Iterator[str]:
        """`chunks` passed through to a streamed response (iterated in the thread pool),
        and kept under `key` once the stream has ended, if small enough. A stream the
        client left part way is not kept."""
        full = (key, search.backend.generation())  # before the first chunk is computed
        kept: list[str] | None = []
        size = 0
        for chunk in chunks:
            if kept is not None:
                size += len(chunk)
                if size > self.max_bytes // 8:
                    kept = None
                else:
                    kept.append(chunk)
            yield chunk
        if kept is not None:
            self.put(full, "".join(kept).encode())


async def get_rendered(request: Request) -> Rendered:
    rendered: Rendered = request.app.state.rendered
    return rendered


RenderedDep = Annotated[Rendered, Depends(get_rendered)]
