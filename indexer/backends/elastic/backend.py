"""The Elasticsearch backend: executes the bodies `build` makes, through the official
client, and translates the engine's errors at this boundary (nothing above it imports
`elasticsearch`).

The index is reached through an alias (`tifa` → `tifa-v1-<stamp>`), so `reindex()` can
build a new index and swap the alias with no downtime. Exact phrase frequencies are
recovered from BM25 scores as in the embedded engine; the token fields have no norms, so
the length factor is one constant read from Elasticsearch's explanation of one hit.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
from elasticsearch import ApiError, Elasticsearch, TransportError, helpers

from indexer import matching
from indexer.backends import verify
from indexer.backends.base import Matches, StatementMeta, WriteResult, meta_from_json
from indexer.backends.elastic import build
from indexer.backends.fields import documents
from indexer.errors import EngineFailure, EngineUnavailable, QueryError, TifaError
from indexer.model import Statement, statement_from_stored
from indexer.query import MAX_PREFIX_EXPANSIONS, Leaf, Near, Node, Phrase, leaves
from indexer.text import terms

SCHEMA_VERSION = 1
PAGE = 10_000
GENERATION_ID = "__generation__"
# How Lucene labels a hit's term frequency (terms) and phrase frequency (phrases).
FREQ = ("freq,", "phraseFreq=")


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


def _find(node: dict[str, Any], prefix: str | tuple[str, ...]) -> dict[str, Any] | None:
    if str(node.get("description", "")).startswith(prefix):
        return node
    for child in node.get("details", []) or []:
        found = _find(child, prefix)
        if found is not None:
            return found
    return None


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
        client: Elasticsearch | None = None,
    ) -> None:
        self.alias = index
        self.vocabulary = f"{index}-vocabulary"
        self.shards, self.replicas = shards, replicas
        self.refresh = refresh
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
        with _engine("open the index"):
            if not self.client.indices.exists_alias(name=self.alias):
                self._create(self.alias)
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

    # ---- reading -------------------------------------------------------------------

    def generation(self) -> int:
        with _engine("read the index generation"):
            resp = self.client.options(ignore_status=404).get(
                index=self.alias, id=GENERATION_ID, source=False
            )
        return int(resp.get("_version", 0)) if resp.get("found") else 0

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

    def _scan(
        self,
        query: dict[str, Any],
        *,
        fields: Sequence[str],
        scores: bool = False,
        source: Sequence[str] | bool = False,
        dfs: bool = False,
        pit: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every hit of `query`, in (key, passage) order, by search_after pages."""
        after: list[Any] | None = None
        while True:
            extra: dict[str, Any] = {"search_after": after} if after else {}
            if dfs:
                extra["search_type"] = "dfs_query_then_fetch"
            resp = self._search(
                pit,
                query=query,
                size=PAGE,
                sort=[{"key": "asc"}, {"pno": "asc"}],
                track_scores=scores,
                source=source,
                docvalue_fields=list(fields),
                track_total_hits=False,
                **extra,
            )
            hits = resp["hits"]["hits"]
            yield from hits
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]

    def statement(self, statement_id: str) -> Statement | None:
        resp = self._search(
            query=build.statement_by("sid", statement_id), size=1, source=["record"]
        )
        hits = resp["hits"]["hits"]
        return statement_from_stored(hits[0]["_source"]["record"]) if hits else None

    def _record(self, key: int) -> dict[str, Any] | None:
        gen = self.generation()
        if (gen, key) not in self._records:
            if len(self._records) > 4096:
                self._records.clear()
            resp = self._search(query=build.statement_by("key", key), size=1, source=["record"])
            hits = resp["hits"]["hits"]
            self._records[(gen, key)] = hits[0]["_source"]["record"] if hits else None
        return self._records[(gen, key)]

    def passage_texts(self, wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
        return verify.passage_texts(self._record, wanted)

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        resp = self._search(
            query=build.statements_by_ids(ids), size=len(ids), source=["sid", "hash"]
        )
        return {h["_source"]["sid"]: h["_source"]["hash"] for h in resp["hits"]["hits"]}

    def statements(self) -> Sequence[StatementMeta]:
        gen = self.generation()
        if self._meta_cache is not None and self._meta_cache[0] == gen:
            return self._meta_cache[1]
        query = {"term": {"doc_type": "statement"}}
        metas = [
            meta_from_json(h["_source"]["meta"])
            for h in self._scan(query, fields=(), source=["meta"])
        ]
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
            words = [h["_source"]["term"] for h in resp["hits"]["hits"]]
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
        from indexer.query import text_clauses

        clause_list = leaves(query)
        expansions = self._expansions(text_clauses(query))
        whole = build.passages_only(build.compile_query(query, expansions))
        with _engine("open a point in time"):
            pit = self.client.open_point_in_time(index=self.alias, keep_alive="2m")["id"]
        try:
            return self._match_in(pit, query, clause_list, expansions, whole)
        finally:
            with _engine("close a point in time"):
                self.client.close_point_in_time(id=pit)

    def _match_in(
        self,
        pit: str,
        query: Node,
        clause_list: list[Leaf],
        expansions: dict[tuple[str, str], list[str]],
        whole: dict[str, Any],
    ) -> Matches:
        rows = [
            (h["fields"]["key"][0], h["fields"]["pno"][0])
            for h in self._scan(whole, fields=("key", "pno"), pit=pit)
        ]
        if not rows:
            return Matches.empty(len(clause_list))
        keys = np.array([r[0] for r in rows], dtype=np.int64)
        pnos = np.array([r[1] for r in rows], dtype=np.int32)
        row_of = {r: i for i, r in enumerate(rows)}
        occ = np.zeros((len(rows), len(clause_list)), dtype=np.int32)
        verified = False
        for j, leaf in enumerate(clause_list):
            if matching.exact_in_engine(leaf):
                assert isinstance(leaf, Phrase)
                for variant in build.phrase_variants(leaf, expansions):
                    self._count_exact(
                        pit, build.leaf_field(leaf), variant, whole, row_of, occ[:, j]
                    )
            else:
                verified = True
                self._count_by_scan(leaf, keys, pnos, occ[:, j])
        if verified:
            keep = self._settle(query, clause_list, keys, pnos, occ)
            keys, pnos, occ = keys[keep], pnos[keep], occ[keep]
        return Matches(keys, pnos, occ)

    def _count_exact(
        self,
        pit: str,
        field: str,
        variant: list[str],
        whole: dict[str, Any],
        row_of: dict[tuple[int, int], int],
        out: npt.NDArray[np.int32],
    ) -> None:
        query = build.scored(build.phrase_query(field, variant), whole)
        hits = list(self._scan(query, fields=("key", "pno"), scores=True, dfs=True, pit=pit))
        if not hits:
            return
        first = self._search(
            pit, query=query, size=1, explain=True, search_type="dfs_query_then_fetch"
        )["hits"]["hits"][0]
        tf_node = _find(first["_explanation"], "tf,")
        freq_node = _find(tf_node, FREQ) if tf_node else None
        params = None
        if tf_node and freq_node and tf_node["value"] > 0:
            t0, f0 = float(tf_node["value"]), float(freq_node["value"])
            params = (float(first["_score"]) / t0, f0 / t0 - f0)  # weight, length factor
        for h in hits:
            tf = self._invert(h["_score"], params)
            if tf is None:
                tf = self._tf_by_explain(h["_id"], query)
            out[row_of[(h["fields"]["key"][0], h["fields"]["pno"][0])]] += tf

    @staticmethod
    def _invert(score: float, params: tuple[float, float] | None) -> int | None:
        if params is None:
            return None
        weight, norm = params
        s = score / weight
        if not 0 < s < 1:
            return None
        tf = norm * s / (1 - s)
        rounded = round(tf)
        return rounded if rounded >= 1 and abs(tf - rounded) <= 0.05 else None

    def _tf_by_explain(self, doc_id: str, query: dict[str, Any]) -> int:
        with _engine("explain a hit"):
            resp = self.client.explain(index=self.alias, id=doc_id, query=query)
        node = _find(resp["explanation"], FREQ)
        if node is None:
            raise EngineFailure("Elasticsearch's explanation carries no phrase frequency")
        return round(float(node["value"]))

    def _count_by_scan(
        self,
        leaf: Leaf,
        keys: npt.NDArray[np.int64],
        pnos: npt.NDArray[np.int32],
        out: npt.NDArray[np.int32],
    ) -> None:
        verify.count_by_scan(self._record, leaf, keys, pnos, out)

    def _settle(
        self,
        query: Node,
        clause_list: list[Leaf],
        keys: npt.NDArray[np.int64],
        pnos: npt.NDArray[np.int32],
        occ: npt.NDArray[np.int32],
    ) -> npt.NDArray[np.bool_]:
        by_key = {m.key: m for m in self.statements()}
        return verify.settle(self._record, by_key, query, clause_list, keys, pnos, occ)

    # ---- writing -------------------------------------------------------------------

    def _actions(self, statements: Sequence[Statement], index: str) -> Iterator[dict[str, Any]]:
        for st in statements:
            passages, statement = documents(st)
            for p in passages:
                yield {"_index": index, "_id": f"{st.id}#{p['pno']}", "_source": p}
            # The statement document last: until it lands, the old hash stays, so an
            # interrupted write is redone by the next ingest.
            yield {"_index": index, "_id": f"{st.id}#statement", "_source": statement}

    def _vocabulary_actions(self, statements: Sequence[Statement]) -> Iterator[dict[str, Any]]:
        seen: set[tuple[str, str]] = set()
        for st in statements:
            for p in st.passages:
                toks = terms(p.text)
                for field, words in (
                    ("tokens", toks),
                    ("lemmas", matching.lemmas(toks) if st.language == "ru" else toks),
                ):
                    for w in words:
                        seen.add((field, w))
        for field, word in seen:
            digest = hashlib.blake2b(f"{field}:{word}".encode(), digest_size=16).hexdigest()
            yield {
                "_op_type": "create",
                "_index": self.vocabulary,
                "_id": digest,
                "_source": {"field": field, "term": word},
            }

    def _bulk(self, actions: Iterable[dict[str, Any]], *, ignore_conflicts: bool = False) -> None:
        failures: list[dict[str, Any]] = []
        with _engine("index documents"):
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                chunk_size=1000,
                max_retries=5,
                initial_backoff=1,
                max_backoff=30,
                raise_on_error=False,
                raise_on_exception=True,
            ):
                if not ok:
                    op = next(iter(item.values()))
                    if ignore_conflicts and op.get("status") == 409:
                        continue
                    failures.append(
                        {
                            "id": str(op.get("_id", "")).split("#")[0],
                            "reason": str(op.get("error", op))[:500],
                        }
                    )
        if failures:
            raise EngineFailure(f"Elasticsearch refused {len(failures)} documents", errors=failures)

    def write(self, statements: Sequence[Statement], delete: Iterable[str] = ()) -> WriteResult:
        doomed = list(delete)
        with _engine("write"):
            if doomed:
                self._delete_matching({"terms": {"sid": doomed}})
            if statements:
                # Passages beyond a replaced statement's new length become stale; find them
                # first, so new and stale change in one refresh (the index refreshes only
                # when told: readers never see half a statement).
                stale_ids: list[str] = []
                for start in range(0, len(statements), 500):
                    chunk = statements[start : start + 500]
                    stale = {
                        "bool": {
                            "should": [
                                {
                                    "bool": {
                                        "filter": [
                                            {"term": {"sid": st.id}},
                                            {"range": {"pno": {"gte": len(st.passages)}}},
                                        ]
                                    }
                                }
                                for st in chunk
                            ],
                            "filter": [{"term": {"doc_type": "passage"}}],
                            "minimum_should_match": 1,
                        }
                    }
                    stale_ids.extend(h["_id"] for h in self._scan(stale, fields=()))
                self._bulk(self._vocabulary_actions(statements), ignore_conflicts=True)
                self._bulk(self._actions(statements, self.alias))
                if stale_ids:
                    self._bulk(
                        {"_op_type": "delete", "_index": self.alias, "_id": i} for i in stale_ids
                    )
            self.client.index(
                index=self.alias,
                id=GENERATION_ID,
                document={"doc_type": "generation"},
                refresh=False,
            )
            self.client.indices.refresh(index=f"{self.alias},{self.vocabulary}")
        return WriteResult(written=len(statements), deleted=len(doomed))

    def _delete_matching(self, query: dict[str, Any]) -> None:
        """Delete every document `query` matches, by id (the delete-by-query API lives in
        a module a bare node may lack; bulk deletes work everywhere)."""
        ids = [h["_id"] for h in self._scan(query, fields=(), source=False)]
        if ids:
            self._bulk({"_op_type": "delete", "_index": self.alias, "_id": i} for i in ids)

    def reindex(self) -> str:
        """Copy every statement into a new index and swap the alias to it atomically."""
        with _engine("reindex"):
            old = list(self.client.indices.get_alias(name=self.alias))
            new = f"{self.alias}-v{SCHEMA_VERSION}-{time.time_ns()}"
            self.client.indices.create(index=new, **build.index_body(self.shards, self.replicas))
            batch: list[Statement] = []
            query = {"term": {"doc_type": "statement"}}
            for h in self._scan(query, fields=(), source=["record"]):
                batch.append(statement_from_stored(h["_source"]["record"]))
                if len(batch) >= 200:
                    self._bulk(self._actions(batch, new))
                    batch = []
            if batch:
                self._bulk(self._actions(batch, new))
            self.client.index(index=new, id=GENERATION_ID, document={"doc_type": "generation"})
            self.client.indices.refresh(index=new)
            actions: list[dict[str, Any]] = [
                {"remove": {"index": o, "alias": self.alias}} for o in old
            ]
            actions.append({"add": {"index": new, "alias": self.alias, "is_write_index": True}})
            self.client.indices.update_aliases(actions=actions)
            for o in old:
                self.client.indices.delete(index=o)
        self._meta_cache = None
        self._records.clear()
        return new

    def drop(self) -> None:
        """Delete the indexes behind the alias and the vocabulary (tests, teardown)."""
        with _engine("drop the index"):
            for name in list(self.client.indices.get_alias(name=self.alias)):
                self.client.indices.delete(index=name)
            self.client.indices.delete(index=self.vocabulary, ignore_unavailable=True)

    def close(self) -> None:
        self.client.close()
