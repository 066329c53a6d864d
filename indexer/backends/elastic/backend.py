"""The Elasticsearch backend: executes the bodies `build` makes, through the official
client, and translates the engine's errors at this boundary (nothing above it imports
`elasticsearch`).

The index is reached through an alias (`tifa` → `tifa-v1-<stamp>`), so `reindex()` can
build a new index and swap the alias with no downtime. Exact phrase frequencies come
with the matching passages in one request: each counted phrase is a named intervals
clause, whose score is `n / (n + 1)` for `n` occurrences (no idf, no length factor), so
the count is read back from the score; the rare score too close to 1 to tell `n` from
`n + 1` is counted from the passage text instead.

Round trips are kept few: one search per page of matches (a point in time only when the
matches take more than one page), one for the passage texts of a page of results, and
the index generation is kept fresh by a watcher thread while the backend is in use
(this instance's own writes update it at once).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from elastic_transport import JsonSerializer
from elasticsearch import ApiError, Elasticsearch, TransportError

from indexer import matching
from indexer.backends import verify
from indexer.backends.base import Matches, StatementMeta, WriteResult, meta_from_json
from indexer.backends.elastic import build
from indexer.backends.fields import documents
from indexer.errors import EngineFailure, EngineUnavailable, QueryError, TifaError
from indexer.model import Statement, statement_from_stored
from indexer.query import MAX_PREFIX_EXPANSIONS, Leaf, Near, Node, Phrase, leaves, text_clauses

SCHEMA_VERSION = 1
PAGE = 10_000
SORT = [{"key": "asc"}, {"pno": "asc"}]
GENERATION_ID = "__generation__"
GENERATION_TTL = 1.0  # seconds a generation read from the engine is trusted
WATCH_IDLE = 60.0  # seconds without a query after which the generation is no longer watched
RECORD_BATCH = 200  # statement records fetched per request
PASSAGE_BATCH = 1000  # passage texts fetched per request, at most
RECORD_CACHE = 4096  # statement records kept (per generation)
BULK_DOCS = 2000  # documents per bulk request, at most
BULK_BYTES = 8 * 1024 * 1024  # bytes per bulk request, at most (roughly)
BULK_IN_FLIGHT = 2  # bulk requests in flight at once (the next one is serialised meanwhile)
BULK_RETRIES = 5  # retries of documents the node refused as too busy (429)
VOCABULARY_MEMORY = 2_000_000  # vocabulary entries remembered as stored

# Bulk bodies are serialised here, once per document, as the client would.
_ENCODE = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=JsonSerializer().default
).encode


@contextmanager
def _engine(action: str) -> Iterator[None]:
    """Translate the client's exceptions into Tifa's (503 unreachable, 502 failed)."""
    try:
        yield
    except TifaError:
        raise
    except ApiError as exc:
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        reason = error.get("reason") if isinstance(error, dict) else None
        detail = f"{exc.message}: {reason}" if reason else exc.message
        raise EngineFailure(f"Elasticsearch refused to {action} ({detail})") from exc
    except TransportError as exc:
        raise EngineUnavailable(f"Elasticsearch cannot be reached to {action}: {exc}") from exc


def _frequencies(scores: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
    """Occurrence counts from intervals scores (Lucene's saturation `1 - 1/(n + 1)` in
    float32); 0 where a score is not exactly one count's, or where neighbouring counts
    score alike (very large counts), which callers count from the text instead."""
    s = scores.astype(np.float32)
    wide = s.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        guess = np.rint(wide / (1.0 - wide))
    valid = (s > 0) & (s < 1) & np.isfinite(guess) & (guess >= 1) & (guess < 2**24)
    n = np.where(valid, guess, 1.0)
    one = np.float32(1)

    def saturation(k: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        k32 = k.astype(np.float32)
        out: npt.NDArray[np.float32] = one - one / (k32 + one)
        return out

    exact = valid & (saturation(n) == s) & (saturation(n - 1) != s) & (saturation(n + 1) != s)
    return np.where(exact, n, 0).astype(np.int64)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# One bulk operation, serialised: (action line, source line or None, statement id).
_Op = tuple[bytes, bytes | None, str]
# A statement with its passage documents and its statement document.
_Docs = tuple[Statement, list[dict[str, Any]], dict[str, Any]]


class ElasticBackend:
    """Statements in an Elasticsearch index behind an alias."""

    name = "elasticsearch"

    def __init__(
        self,
        url: str,  # one node's URL, or several separated by commas
        *,
        index: str = "tifa",
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        ca_certs: str | None = None,
        shards: int = 1,
        replicas: int = 0,
        refresh: bool = True,
        request_timeout: float = 30.0,
        generation_ttl: float = GENERATION_TTL,
        client: Elasticsearch | None = None,
    ) -> None:
        self.alias = index
        self.vocabulary = f"{index}-vocabulary"
        self.shards, self.replicas = shards, replicas
        self.refresh = refresh
        self.generation_ttl = generation_ttl
        tls: dict[str, Any] = {"ca_certs": ca_certs} if ca_certs else {}
        self.client = client or Elasticsearch(
            [u.strip() for u in url.split(",") if u.strip()],
            api_key=api_key,
            basic_auth=basic_auth,
            **tls,
            request_timeout=request_timeout,
            retry_on_timeout=True,
            max_retries=3,
            retry_on_status=(429, 502, 503, 504),
        )
        self._meta_cache: tuple[int, list[StatementMeta]] | None = None
        self._records: dict[tuple[int, int], dict[str, Any] | None] = {}
        # (generation, when it was read); `_epoch` moves on every write, so a read that
        # raced a write is not kept.
        self._generation: tuple[int, float] | None = None
        self._epoch = 0
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._last_asked = 0.0
        self._closed = threading.Event()
        # Vocabulary entries (group, word) known to be stored: not sent again.
        self._words: set[tuple[str, str]] = set()
        self._keeps_text = True  # passage documents carry their text
        with _engine("open the index"):
            if not self.client.indices.exists_alias(name=self.alias):
                self._create(self.alias)
            else:
                self._upgrade()
            if not self.client.indices.exists(index=self.vocabulary):
                self.client.indices.create(
                    index=self.vocabulary, **build.vocabulary_body(shards, replicas)
                )

    def _create(self, alias: str) -> str:
        name = f"{alias}-v{SCHEMA_VERSION}-{time.time_ns()}"
        self.client.indices.create(
            index=name,
            **build.index_body(self.shards, self.replicas),
            aliases={alias: {"is_write_index": True}},
        )
        return name

    def _upgrade(self) -> None:
        """Add the passage text field to an index made before it was kept (its mapping
        is strict); passages written before it are read from their statement's record.
        Where the mapping cannot be changed, passages are written without their text."""
        try:
            mappings = self.client.indices.get_mapping(index=self.alias)
            for name, body in mappings.items():
                if "text" not in body["mappings"].get("properties", {}):
                    self.client.indices.put_mapping(
                        index=name, properties={"text": build.passage_text_field()}
                    )
        except ApiError:
            self._keeps_text = False

    # ---- reading -------------------------------------------------------------------

    def generation(self) -> int:
        """The index generation: read from the engine at most once per `generation_ttl`
        seconds; this instance's own writes set it as they return (read-after-write),
        other processes' writes are seen within the TTL.

        While the backend is in use a watcher thread re-reads it every half TTL, so a
        query does not wait for that read (one round trip, as long as a whole cold query
        on a small index); it stops after `WATCH_IDLE` seconds without a call.
        """
        known = self.known_generation()
        return self._read_generation() if known is None else known

    def known_generation(self) -> int | None:
        """The generation as last read, while it is within its TTL; else None."""
        self._last_asked = now = time.monotonic()
        self._watch()
        cached = self._generation
        if cached is not None and now - cached[1] < self.generation_ttl:
            return cached[0]
        return None

    def _read_generation(self) -> int:
        epoch = self._epoch
        now = time.monotonic()
        with _engine("read the index generation"):
            resp = self.client.options(ignore_status=404).get(
                index=self.alias, id=GENERATION_ID, source=False
            )
        gen = int(resp.get("_version", 0)) if resp.get("found") else 0
        with self._lock:
            if self._epoch == epoch:
                self._generation = (gen, now)
        return gen

    def _watch(self) -> None:
        watcher = self._watcher
        if (watcher is not None and watcher.is_alive()) or self._closed.is_set():
            return
        with self._lock:
            if self._watcher is not watcher:
                return  # another thread started one meanwhile
            self._watcher = threading.Thread(
                target=self._watch_loop, name="tifa-es-generation", daemon=True
            )
            self._watcher.start()

    def _watch_loop(self) -> None:
        while not self._closed.wait(self.generation_ttl / 2):
            if time.monotonic() - self._last_asked > WATCH_IDLE:
                return
            # On failure the next query reads it itself, and reports what went wrong.
            with suppress(TifaError):
                self._read_generation()

    def _set_generation(self, gen: int | None) -> None:
        with self._lock:
            self._epoch += 1
            self._generation = None if gen is None else (gen, time.monotonic())

    def ready(self) -> bool:
        try:
            with _engine("check readiness"):
                self.client.count(index=self.alias)
            return True
        except TifaError:
            return False

    def _search(self, pit: str | None = None, **body: Any) -> Any:
        with _engine("search"):
            if pit is not None:
                # A point in time: every page and every clause sees one snapshot.
                return self.client.search(pit={"id": pit, "keep_alive": "2m"}, **body)
            return self.client.search(index=self.alias, **body)

    def _page(
        self,
        query: dict[str, Any],
        *,
        source: Sequence[str] | bool = False,
        ids: bool = False,
        named: bool = False,
        pit: str | None = None,
        after: list[Any] | None = None,
        size: int = PAGE,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of hits of `query` in (key, passage) order, with only what is asked
        for: the sort values always, ids, source fields, named clauses' scores."""
        keep = ["hits.hits.sort"]
        extra: dict[str, Any] = {}
        if ids:
            keep.append("hits.hits._id")
        if source:
            keep.append("hits.hits._source")
        if not ids and not source:
            extra["stored_fields"] = "_none_"
        if named:
            keep.append("hits.hits.matched_queries")
            extra["include_named_queries_score"] = True
        if pit is not None:
            keep.append("pit_id")
        if after:
            extra["search_after"] = after
        resp = self._search(
            pit,
            query=query,
            size=size,
            sort=SORT,
            source=source,
            track_total_hits=False,
            filter_path=keep,
            **extra,
        )
        hits: list[dict[str, Any]] = resp.get("hits", {}).get("hits", [])
        return hits, resp.get("pit_id", pit)

    def _scan(
        self,
        query: dict[str, Any],
        *,
        source: Sequence[str] | bool = False,
        ids: bool = False,
        named: bool = False,
        pit: str | None = None,
        size: int = PAGE,
    ) -> Iterator[dict[str, Any]]:
        """Every hit of `query`, in (key, passage) order, by search_after pages."""
        after: list[Any] | None = None
        while True:
            hits, pit = self._page(
                query, source=source, ids=ids, named=named, pit=pit, after=after, size=size
            )
            yield from hits
            if len(hits) < size:
                return
            after = hits[-1]["sort"]

    def _all_hits(self, query: dict[str, Any], *, named: bool) -> list[dict[str, Any]]:
        """Every hit of `query` as of one moment: one request when they fit one page;
        else all of them again from one point in time (pages of a moving index could
        disagree)."""
        hits, _ = self._page(query, named=named)
        if len(hits) < PAGE:
            return hits
        with _engine("open a point in time"):
            pit = self.client.open_point_in_time(index=self.alias, keep_alive="2m")["id"]
        try:
            return list(self._scan(query, named=named, pit=pit))
        finally:
            with _engine("close a point in time"):
                self.client.close_point_in_time(id=pit)

    def statement(self, statement_id: str) -> Statement | None:
        resp = self._search(
            query=build.statement_by("sid", statement_id),
            size=1,
            source=["record"],
            filter_path=["hits.hits._source"],
        )
        hits = resp.get("hits", {}).get("hits", [])
        return statement_from_stored(hits[0]["_source"]["record"]) if hits else None

    def _records_for(self, gen: int, keys: Iterable[int]) -> dict[int, dict[str, Any] | None]:
        """The records (their passages) of statements by key, as of generation `gen`:
        from the cache, the rest in one request per RECORD_BATCH keys."""
        out: dict[int, dict[str, Any] | None] = {}
        missing: list[int] = []
        for key in dict.fromkeys(keys):
            try:
                out[key] = self._records[(gen, key)]
            except KeyError:
                missing.append(key)
        for chunk in _chunks(missing, RECORD_BATCH):
            resp = self._search(
                query=build.records_by_keys(chunk),
                size=len(chunk),
                source=["key", "record.passages"],
                filter_path=["hits.hits._source"],
            )
            found = {
                int(h["_source"]["key"]): h["_source"]["record"]
                for h in resp.get("hits", {}).get("hits", [])
            }
            if len(self._records) + len(chunk) > RECORD_CACHE:
                self._records.clear()
            for key in chunk:
                out[key] = self._records[(gen, key)] = found.get(key)
        return out

    def _record_of(self, keys: npt.NDArray[np.int64]) -> verify.RecordOf:
        """A record reader for rows in `keys` order: each miss fetches the records of
        the next RECORD_BATCH statements at once."""
        gen = self.generation()
        order = list(dict.fromkeys(keys.tolist()))
        at = {k: i for i, k in enumerate(order)}

        def record_of(key: int) -> dict[str, Any] | None:
            i = at.get(key)
            window = [key] if i is None else order[i : i + RECORD_BATCH]
            if (gen, key) in self._records:
                window = [key]
            return self._records_for(gen, window)[key]

        return record_of

    def clear_record_cache(self) -> None:
        """Forget the records read so far (benchmarks measure reads from the index)."""
        self._records.clear()

    def passage_texts(self, wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
        """The texts asked for: from records at hand, else from the passage documents
        (one request), else (passages written before texts were kept) from records."""
        if not wanted:
            return {}
        gen = self.generation()
        by_key: dict[int, list[int]] = {}
        for key, pno in wanted:
            by_key.setdefault(key, []).append(pno)
        at_hand = {k for k in by_key if (gen, k) in self._records}
        out = verify.passage_texts(self._records_for(gen, at_hand).get, wanted) if at_hand else {}
        older: set[int] = set()
        for todo in self._passage_batches({k: ns for k, ns in by_key.items() if k not in at_hand}):
            resp = self._search(
                query=build.passages_by_keys(todo),
                size=sum(len(ns) for ns in todo.values()),
                source=["key", "pno", "text"],
                filter_path=["hits.hits._source"],
            )
            for h in resp.get("hits", {}).get("hits", []):
                src = h["_source"]
                if "text" in src:
                    out[(int(src["key"]), int(src["pno"]))] = src["text"]
                else:
                    older.add(int(src["key"]))
        if older:
            rest = [(k, n) for k, n in wanted if k in older]
            out.update(verify.passage_texts(self._records_for(gen, older).get, rest))
        return out

    @staticmethod
    def _passage_batches(by_key: dict[int, list[int]]) -> Iterator[dict[int, list[int]]]:
        """`by_key` in parts of about PASSAGE_BATCH passages (whole statements each)."""
        part: dict[int, list[int]] = {}
        size = 0
        for key, pnos in by_key.items():
            for start in range(0, len(pnos), PASSAGE_BATCH):
                if part and size + len(pnos[start : start + PASSAGE_BATCH]) > PASSAGE_BATCH:
                    yield part
                    part, size = {}, 0
                part[key] = pnos[start : start + PASSAGE_BATCH]
                size += len(part[key])
        if part:
            yield part

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        resp = self._search(
            query=build.statements_by_ids(ids),
            size=len(ids),
            source=["sid", "hash"],
            filter_path=["hits.hits._source"],
        )
        return {
            h["_source"]["sid"]: h["_source"]["hash"] for h in resp.get("hits", {}).get("hits", [])
        }

    def statements(self) -> Sequence[StatementMeta]:
        gen = self.generation()
        cached = self._meta_cache
        if cached is not None and cached[0] == gen:
            return cached[1]
        query = {"term": {"doc_type": "statement"}}
        metas = [meta_from_json(h["_source"]["meta"]) for h in self._scan(query, source=["meta"])]
        metas.sort(key=lambda m: (m.date, m.id))
        self._meta_cache = (gen, metas)
        return metas

    # ---- matching ------------------------------------------------------------------

    def _expansions(self, node_leaves: Iterable[Leaf]) -> dict[tuple[str, str], list[str]]:
        out: dict[tuple[str, str], list[str]] = {}
        todo: list[Phrase] = []
        for leaf in node_leaves:
            if isinstance(leaf, Near):
                todo.extend([leaf.left, leaf.right])
            else:
                todo.append(leaf)
        for phrase in todo:
            if not phrase.prefix:
                continue
            field, prefix = build.leaf_field(phrase), build.leaf_tokens(phrase)[-1]
            if (field, prefix) in out:
                continue
            with _engine("expand a prefix"):
                resp = self.client.search(
                    index=self.vocabulary,
                    **build.prefix_lookup(field, prefix, MAX_PREFIX_EXPANSIONS + 1),
                )
            words = [h["fields"]["term"][0] for h in resp.get("hits", {}).get("hits", [])]
            if len(words) > MAX_PREFIX_EXPANSIONS:
                raise QueryError(
                    f"'{prefix}*' matches more than {MAX_PREFIX_EXPANSIONS} different words; "
                    "make the prefix longer",
                    position=0,
                    expected="a longer prefix",
                )
            out[(field, prefix)] = words
        return out

    def match(self, query: Node) -> Matches:
        clause_list = leaves(query)
        expansions = self._expansions(text_clauses(query))
        whole = build.passages_only(build.compile_query(query, expansions))
        # Plain phrases are counted by the engine, in the same request (named clauses).
        counted: list[tuple[str, str, list[str]]] = []
        for j, leaf in enumerate(clause_list):
            if matching.exact_in_engine(leaf):
                assert isinstance(leaf, Phrase)
                field = build.leaf_field(leaf)
                for v, variant in enumerate(build.phrase_variants(leaf, expansions)):
                    counted.append((build.clause_name(j, v), field, variant))
        hits = self._all_hits(build.counting(whole, counted), named=bool(counted))
        if not hits:
            return Matches.empty(len(clause_list))
        n = len(hits)
        keys = np.fromiter((h["sort"][0] for h in hits), dtype=np.int64, count=n)
        pnos = np.fromiter((h["sort"][1] for h in hits), dtype=np.int32, count=n)
        occ = np.zeros((n, len(clause_list)), dtype=np.int32)
        record_of: verify.RecordOf | None = None
        if counted:
            col_of = {name: build.clause_of(name) for name, _, _ in counted}
            rows: list[int] = []
            cols: list[int] = []
            scores: list[float] = []
            for i, h in enumerate(hits):
                named = h.get("matched_queries")
                if named:
                    for name, score in named.items():
                        rows.append(i)
                        cols.append(col_of[name])
                        scores.append(score)
            at = (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))
            freq = _frequencies(np.array(scores, dtype=np.float32))
            np.add.at(occ, at, freq)
            unsure = freq == 0
            if unsure.any():
                # Counts too large to read from a score: count those from the text.
                record_of = self._record_of(keys)
                for j in sorted(set(at[1][unsure].tolist())):
                    idx = np.unique(at[0][unsure & (at[1] == j)])
                    out = np.zeros(len(idx), dtype=np.int32)
                    verify.count_by_scan(record_of, clause_list[j], keys[idx], pnos[idx], out)
                    occ[idx, j] = out
        verified = False
        for j, leaf in enumerate(clause_list):
            if not matching.exact_in_engine(leaf):
                verified = True
                record_of = record_of or self._record_of(keys)
                verify.count_by_scan(record_of, leaf, keys, pnos, occ[:, j])
        if verified:
            assert record_of is not None
            by_key = {m.key: m for m in self.statements()}
            keep = verify.settle(record_of, by_key, query, clause_list, keys, pnos, occ)
            keys, pnos, occ = keys[keep], pnos[keep], occ[keep]
        return Matches(keys, pnos, occ)

    # ---- writing -------------------------------------------------------------------

    @staticmethod
    def _op(action: str, index: str, doc_id: str, source: dict[str, Any] | None, sid: str) -> _Op:
        head = _ENCODE({action: {"_index": index, "_id": doc_id}})
        body = None if source is None else _ENCODE(source).encode("utf-8", "surrogatepass")
        return head.encode("utf-8", "surrogatepass"), body, sid

    def _document_ops(
        self,
        statements: Iterable[Statement],
        index: str,
        docs: list[_Docs],
        words: set[tuple[str, str]] | None = None,
    ) -> Iterator[_Op]:
        """Each statement's passage documents, built as they are sent (into `docs`), then
        the vocabulary entries it brings that are not yet known (into `words`; none when
        `words` is None). An entry is tagged with the statement that brought it, so a
        refused entry holds that statement's own document back."""
        for st in statements:
            passages, statement = documents(st)
            docs.append((st, passages, statement))
            for p, passage in zip(passages, st.passages, strict=True):
                # The text rides along (kept, not indexed): snippets read a few passages
                # rather than whole statements.
                if self._keeps_text or index != self.alias:
                    p["text"] = passage.text
                yield self._op("index", index, f"{st.id}#{p['pno']}", p, st.id)
            if words is None:
                continue
            for entry in self._entries(passages):
                if entry not in words and entry not in self._words:
                    words.add(entry)
                    group, word = entry
                    digest = hashlib.blake2b(f"{group}:{word}".encode(), digest_size=16)
                    source = {"field": group, "term": word}
                    yield self._op("create", self.vocabulary, digest.hexdigest(), source, st.id)

    def _statement_ops(
        self, docs: Sequence[_Docs], index: str, skip: Iterable[str] = ()
    ) -> Iterator[_Op]:
        skipped = set(skip)
        for st, _, statement in docs:
            if st.id not in skipped:
                yield self._op("index", index, f"{st.id}#statement", statement, st.id)

    @staticmethod
    def _entries(passages: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
        """Vocabulary entries (group, word) of one statement's passages: a word of both
        its token and lemma fields is one BOTH entry (every word of a text whose lemmas
        are its tokens)."""
        both: set[str] = set()
        toks: set[str] = set()
        lems: set[str] = set()
        for p in passages:
            t, lem = p["tokens"], p["lemmas"]
            if t == lem:
                both.update(t.split())
            else:
                toks.update(t.split())
                lems.update(lem.split())
        both |= toks & lems
        entries = [(build.BOTH, w) for w in both]
        entries += [("tokens", w) for w in toks - both]
        entries += [("lemmas", w) for w in lems - both]
        return entries

    def _bulk(self, ops: Iterable[_Op]) -> list[dict[str, str]]:
        """Send `ops` in bulk requests, each serialised while the one before is in
        flight; returns the documents refused ({id: statement id, reason})."""
        failures: list[dict[str, str]] = []
        with _engine("index documents"), ThreadPoolExecutor(max_workers=BULK_IN_FLIGHT) as pool:
            pending: deque[Future[list[dict[str, str]]]] = deque()
            for chunk in self._chunked(ops):
                if len(pending) > BULK_IN_FLIGHT:
                    failures.extend(pending.popleft().result())
                pending.append(pool.submit(self._send, chunk))
            while pending:
                failures.extend(pending.popleft().result())
        return failures

    @staticmethod
    def _chunked(ops: Iterable[_Op]) -> Iterator[list[_Op]]:
        chunk: list[_Op] = []
        size = 0
        for op in ops:
            chunk.append(op)
            size += len(op[0]) + (len(op[1]) if op[1] is not None else 0)
            if len(chunk) >= BULK_DOCS or size >= BULK_BYTES:
                yield chunk
                chunk, size = [], 0
        if chunk:
            yield chunk

    def _send(self, ops: list[_Op]) -> list[dict[str, str]]:
        """One bulk request; documents the node was too busy for (429) are sent again,
        with a growing pause. Creating what exists (409) and deleting what is gone (404)
        are not failures."""
        failures: list[dict[str, str]] = []
        for attempt in range(BULK_RETRIES + 1):
            lines: list[bytes] = []
            for head, body, _ in ops:
                lines.append(head)
                if body is not None:
                    lines.append(body)
            try:
                resp = self.client.bulk(operations=cast(Any, b"\n".join(lines) + b"\n"))
            except ApiError as exc:
                if exc.status_code != 429 or attempt == BULK_RETRIES:
                    raise
                time.sleep(min(2**attempt, 30))
                continue
            if not resp.get("errors"):
                return failures
            retry: list[_Op] = []
            for op, item in zip(ops, resp["items"], strict=True):
                kind, result = next(iter(item.items()))
                status = int(result.get("status", 500))
                if status < 300 or (status, kind) in ((409, "create"), (404, "delete")):
                    continue
                if status == 429 and attempt < BULK_RETRIES:
                    retry.append(op)
                    continue
                failures.append({"id": op[2], "reason": str(result.get("error", result))[:500]})
            if not retry:
                return failures
            ops = retry
            time.sleep(min(2**attempt, 30))
        return failures

    def write(self, statements: Sequence[Statement], delete: Iterable[str] = ()) -> WriteResult:
        doomed = list(delete)
        self._set_generation(None)
        with _engine("write"):
            if doomed:
                self._delete_matching({"terms": {"sid": doomed}})
            if statements:
                self._write_statements(statements)
            # New and stale change in one refresh (the index refreshes only when told:
            # readers never see half a statement); the generation moves after it, so a
            # reader that sees the new generation sees the new documents.
            self.client.indices.refresh(index=f"{self.alias},{self.vocabulary}")
            resp = self.client.index(
                index=self.alias, id=GENERATION_ID, document={"doc_type": "generation"}
            )
        self._set_generation(int(resp["_version"]))
        return WriteResult(written=len(statements), deleted=len(doomed))

    def _write_statements(self, statements: Sequence[Statement]) -> None:
        # Passages beyond a replaced statement's new length become stale; find them
        # before writing.
        stale_ids: list[str] = []
        for chunk in _chunks(statements, 500):
            stale_ids.extend(h["_id"] for h in self._scan(build.stale_passages(chunk), ids=True))
        docs: list[_Docs] = []
        words: set[tuple[str, str]] = set()
        failures = self._bulk(self._document_ops(statements, self.alias, docs, words))
        # The statement documents last, and only of statements whose passages all
        # landed: until a statement's document lands, its old hash stays, so an
        # interrupted write is redone by the next ingest.
        failures += self._bulk(self._statement_ops(docs, self.alias, {f["id"] for f in failures}))
        if failures:
            raise EngineFailure(f"Elasticsearch refused {len(failures)} documents", errors=failures)
        if len(self._words) + len(words) > VOCABULARY_MEMORY:
            self._words.clear()
        self._words.update(words)
        if stale_ids:
            failures = self._bulk(self._op("delete", self.alias, i, None, "") for i in stale_ids)
            if failures:
                raise EngineFailure(f"Elasticsearch refused to delete {len(failures)} documents")

    def _delete_matching(self, query: dict[str, Any]) -> None:
        """Delete every document `query` matches, by id (the delete-by-query API lives in
        a module a bare node may lack; bulk deletes work everywhere)."""
        ids = [h["_id"] for h in self._scan(query, ids=True)]
        if ids:
            failures = self._bulk(self._op("delete", self.alias, i, None, "") for i in ids)
            if failures:
                raise EngineFailure(f"Elasticsearch refused to delete {len(failures)} documents")

    def reindex(self) -> str:
        """Copy every statement into a new index and swap the alias to it atomically."""
        self._set_generation(None)
        with _engine("reindex"):
            old = list(self.client.indices.get_alias(name=self.alias))
            gen = self.generation()
            new = f"{self.alias}-v{SCHEMA_VERSION}-{time.time_ns()}"
            self.client.indices.create(index=new, **build.index_body(self.shards, self.replicas))
            batch: list[Statement] = []
            query = {"term": {"doc_type": "statement"}}
            for h in self._scan(query, source=["record"], size=RECORD_BATCH):
                batch.append(statement_from_stored(h["_source"]["record"]))
                if len(batch) >= RECORD_BATCH:
                    self._copy(batch, new)
                    batch = []
            if batch:
                self._copy(batch, new)
            self.client.indices.refresh(index=new)
            # The generation goes on from the old index's (a cache keyed by an old
            # number must not match again).
            self.client.index(
                index=new,
                id=GENERATION_ID,
                document={"doc_type": "generation"},
                version=gen + 1,
                version_type="external",
            )
            actions: list[dict[str, Any]] = [
                {"remove": {"index": o, "alias": self.alias}} for o in old
            ]
            actions.append({"add": {"index": new, "alias": self.alias, "is_write_index": True}})
            self.client.indices.update_aliases(actions=actions)
            for o in old:
                self.client.indices.delete(index=o)
        self._meta_cache = None
        self._records.clear()
        self._keeps_text = True
        self._set_generation(None)
        return new

    def _copy(self, statements: Sequence[Statement], index: str) -> None:
        docs: list[_Docs] = []
        failures = self._bulk(self._document_ops(statements, index, docs))
        failures += self._bulk(self._statement_ops(docs, index))
        if failures:
            raise EngineFailure(f"Elasticsearch refused {len(failures)} documents", errors=failures)

    def drop(self) -> None:
        """Delete the indexes behind the alias and the vocabulary (tests, teardown)."""
        with _engine("drop the index"):
            for name in list(self.client.indices.get_alias(name=self.alias)):
                self.client.indices.delete(index=name)
            self.client.indices.delete(index=self.vocabulary, ignore_unavailable=True)
        self._words.clear()
        self._meta_cache = None
        self._records.clear()
        self._set_generation(None)

    def close(self) -> None:
        self._closed.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=5)
        self.client.close()
