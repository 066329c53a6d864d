"""The embedded backend: a tantivy index on local disk.

One tantivy document per passage (folded tokens, pairs of adjacent common or frequent
words, lemmas where they differ from the tokens, filter fields, statement key, the
passage's own text for snippets) and one per statement (the full record as JSON).
A plain phrase goes to the native matcher when it is installed (`native.py`: its passages
and exact counts as arrays); otherwise exact occurrence counts come
from tantivy's own phrase frequencies, recovered from its BM25 scores (see `_recover_tf`).
Proximity clauses are verified against the passage text with `indexer.matching`. An index
of an older schema is rebuilt from its stored records when opened (`_upgrade`).
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import gc
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import tantivy

from indexer import matching
from indexer.backends import native as native_matcher
from indexer.backends import verify
from indexer.backends.base import (
    Matches,
    StatementMeta,
    Statements,
    WriteResult,
    meta_from_json,
    passage_key,
)
from indexer.backends.fields import (
    FILTER_FIELDS,
    day_number,
    indexed,
    statement_meta,
    statement_values,
)
from indexer.backends.native import LaterRows, NativePhrases, NativeWriter, PassageIn
from indexer.backends.pairs import GROUPS, JOINER, pair_of, pair_terms_for
from indexer.catalog import catalog_of
from indexer.errors import EngineFailure, EngineUnavailable, QueryError, TifaError
from indexer.filtering import filter_value_tokens
from indexer.model import Statement, statement_from_stored
from indexer.query import (
    MAX_PREFIX_EXPANSIONS,
    And,
    DateRange,
    FieldIs,
    Leaf,
    MatchAll,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    leaves,
    statement_level,
    text_clauses,
)
from indexer.text import joined_terms, terms

# 6: pairs of frequent content words ("human_rights") beside those of function words.
# 7: each statement's pair terms on its own document (`STATEMENT_PAIRS`).
SCHEMA_VERSION = 7
# Marks the passages that carry a `lemmas` field (their lemmas differ from their tokens).
LEMMATISED = "lemmatised"
# Two adjacent words of one group as one term ("of the" -> "of_the", "human rights" ->
# "human_rights"; see `pairs.py`).
PAIRS = "pairs"
# The pair terms of all of a statement's passages, on the statement's own document, in
# two fields: each passage's distinct pairs (a pair's frequency is the statement's
# passages holding it) and each further occurrence within a passage (the two frequencies
# add up to its occurrences). Together they are as many tokens as the passages' pairs. A
# common pair is then counted statement by statement ("of the": 10.9k statement
# documents on the UN corpus, not 265k passages); a page's passages are read afterwards
# (`Deferred` in `native/src/lib.rs`). The statement document's `pnt` is its number of
# passages, whose documents come just before it (see `add_statement`).
STATEMENT_PAIRS = ("stmt_pair_passages", "stmt_pair_more")
# Statement records kept in memory (each is the whole text, tens of kB).
RECORD_CACHE = 4096
K1 = np.float32(1.2)
B = np.float32(0.75)


def _fieldnorm_table() -> npt.NDArray[np.int64]:
    """tantivy's one-byte field-length code, decoded (exact up to 23, then 3 mantissa bits)."""

    def decode(code: int) -> int:
        if code < 24:
            return code
        code -= 24
        bits, shift = code & 7, code >> 3
        return 24 + (bits if shift == 0 else (bits | 8) << (shift - 1))

    return np.array([decode(i) for i in range(256)], dtype=np.int64)


_FIELDNORMS = _fieldnorm_table()


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("doc_type", tokenizer_name="raw")
    sb.add_text_field("sid", stored=True, tokenizer_name="raw")
    sb.add_integer_field("key", stored=True, indexed=True, fast=True)
    sb.add_integer_field("pno", stored=True, indexed=True, fast=True)
    sb.add_integer_field("uid", fast=True)
    # pno << 32 | token count: one fast-field read per hit gives both (each read costs
    # about 90 ns a hit in tantivy-py, and a common pair has 265k hits).
    sb.add_unsigned_field("pnt", fast=True)
    sb.add_text_field("tokens", tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("lemmas", tokenizer_name="whitespace", index_option="position")
    sb.add_text_field(PAIRS, tokenizer_name="whitespace", index_option="freq")
    for field in STATEMENT_PAIRS:
        sb.add_text_field(field, tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field(LEMMATISED, tokenizer_name="raw")
    for field in FILTER_FIELDS.values():
        sb.add_text_field(field, tokenizer_name="whitespace", index_option="position")
    sb.add_integer_field("date", indexed=True, fast=True)
    sb.add_integer_field("published", indexed=True, fast=True)
    sb.add_text_field("hash", stored=True, tokenizer_name="raw")
    sb.add_bytes_field("meta", stored=True)
    sb.add_bytes_field("record", stored=True)
    # A passage's original text (UTF-8): snippets read a page's passages, not the whole
    # records of its statements (parsing those was two thirds of a rare name's search).
    sb.add_bytes_field("text", stored=True)
    return sb.build()


class EmbeddedBackend:
    """A tantivy index in `path`; safe for many readers, one writer at a time."""

    name = "embedded"

    def __init__(
        self,
        path: Path,
        *,
        writer_heap_mb: int = 256,
        writer_threads: int = 0,
        native: bool | None = None,
        match_threads: int | None = None,
        most_merged: int | None = None,
        deferred_from: int | None = None,
    ) -> None:
        """`native`: match plain phrases with the native extension (None: when it is
        installed; True: fail without it; False: never); `match_threads`: how many
        threads it matches one query's segments with (None: one per core, at most 4);
        `most_merged`: no merge by the native writer makes a segment of more than this
        many documents (None: 400,000; see `native/src/writer.rs`); `deferred_from`: a
        phrase whose rarest word is in at least this many passages is matched statement
        by statement, its rows read when asked (None: 16,384; 0: always, for tests)."""
        self.path = Path(path)
        self._meta_file = str(self.path / "meta.json")
        self._heap = writer_heap_mb * 1_000_000
        self._threads = writer_threads
        self._most_merged = most_merged
        self._lock = threading.RLock()
        self._writer: NativeWriter | _PackageWriter | None = None
        self._records: dict[tuple[int, int], dict[str, Any] | None] = {}
        self._meta_cache: tuple[int, list[StatementMeta], dict[int, StatementMeta]] | None = None
        self._generation = -1
        self._stamp_seen: tuple[tuple[int, int, int], int] | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            version_file = self.path / _SCHEMA_FILE
            with _upgrade_lock(self.path):
                _finish_upgrade(self.path)
                found = _schema_version(self.path)
                if found in UPGRADABLE:
                    _upgrade(self.path, found)
                elif found not in (None, SCHEMA_VERSION):
                    raise EngineUnavailable(
                        f"the index at {self.path} has schema version {found}, this Tifa "
                        f"needs {SCHEMA_VERSION}: delete it and ingest again"
                    )
                if not (self.path / "meta.json").exists():
                    _create(self.path)
            self.schema = _schema()
            self.index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
            if not version_file.exists():
                version_file.write_text(json.dumps({"schema_version": SCHEMA_VERSION}))
        except TifaError:
            raise
        except (OSError, ValueError) as exc:
            raise EngineUnavailable(f"cannot open the index at {self.path}: {exc}") from exc
        use_native = native_matcher.available() if native is None else native
        self._native = (
            NativePhrases(self.path, match_threads, deferred_from=deferred_from)
            if use_native
            else None
        )
        self._pair_terms = pair_terms_for(use_native)
        self._refresh(force=True)

    @property
    def native(self) -> bool:
        """Whether plain phrases are matched by the native extension."""
        return self._native is not None

    # ---- reading -------------------------------------------------------------------

    def _opstamp(self) -> int:
        meta = self._meta_file
        try:
            # os.stat on a str: a Path built on every call cost more than the stat itself,
            # and a query asks several times.
            stat = os.stat(meta)
            seen = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if self._stamp_seen is not None and self._stamp_seen[0] == seen:
                return self._stamp_seen[1]
            with open(meta, encoding="utf-8") as f:
                stamp = int(json.load(f).get("opstamp", 0))
        except (OSError, ValueError):
            return 0
        self._stamp_seen = (seen, stamp)
        return stamp

    def _refresh(self, force: bool = False) -> None:
        """Reload the searcher when another process (or this one) has committed."""
        # Reading meta.json costs microseconds; doing it on every call means a commit by
        # any process is visible to the next query.
        stamp = self._opstamp()
        if force or stamp != self._generation:
            with self._lock:
                self.index.reload()
                if self._native is not None:
                    self._native.reload()
                self._generation = stamp

    def generation(self) -> int:
        self._refresh()
        return self._generation

    def known_generation(self) -> int | None:
        # A stat of a local file (and, after a commit, reopening the reader).
        return self.generation()

    def ready(self) -> bool:
        try:
            self._refresh()
            self.index.searcher().num_docs  # noqa: B018 - touching it proves readability
            return True
        except Exception:
            return False

    def _searcher(self) -> Any:
        self._refresh()
        return self.index.searcher()

    def _all(self, searcher: Any, query: Any) -> list[tuple[float, Any]]:
        # search(limit=0) panics in tantivy: count first, then fetch exactly that many.
        count = searcher.search(query, limit=1, count=True).count
        if count == 0:
            return []
        return self._fetch(searcher, query, count)

    @staticmethod
    def _fetch(searcher: Any, query: Any, limit: int) -> list[tuple[float, Any]]:
        """Up to `limit` hits (made with the cyclic GC paused, see `_gc_paused`)."""
        with _gc_paused():
            hits: list[tuple[float, Any]] = searcher.search(query, limit=limit, count=False).hits
        return hits

    def _bound(self, searcher: Any, field: str, toks: Sequence[str]) -> int:
        """An upper bound on the passages a plain phrase matches: its rarest word's
        document frequency (lets one search fetch every hit without counting first)."""
        return int(min(searcher.doc_freq(field, t) for t in toks))

    def _statement_doc(self, searcher: Any, statement_id: str) -> Any | None:
        q = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "sid", statement_id)),
                (tantivy.Occur.Must, self._type("statement")),
            ]
        )
        hits = searcher.search(q, limit=1).hits
        return searcher.doc(hits[0][1]) if hits else None

    def statement(self, statement_id: str) -> Statement | None:
        doc = self._statement_doc(self._searcher(), statement_id)
        if doc is None:
            return None
        return statement_from_stored(_loads(doc["record"][0]))

    def _records_for(self, gen: int, keys: Iterable[int]) -> dict[int, dict[str, Any] | None]:
        """Stored records of `keys` (None: not stored), those not cached read in one
        search."""
        out: dict[int, dict[str, Any] | None] = {}
        missing = []
        for key in keys:
            if (gen, key) in self._records:
                out[key] = self._records[(gen, key)]
            else:
                missing.append(key)
        if not missing:
            return out
        searcher = self._searcher()
        q = self._of_statements(missing, "statement")
        found: dict[int, dict[str, Any]] = {}
        for _, addr in searcher.search(q, limit=len(missing)).hits:
            doc = searcher.doc(addr)
            found[doc["key"][0]] = _loads(doc["record"][0])
        if len(self._records) + len(missing) > RECORD_CACHE:
            self._records.clear()
        for key in missing:
            out[key] = self._records[(gen, key)] = found.get(key)
        return out

    def _of_statements(self, keys: Iterable[int], doc_type: str) -> Any:
        """The documents of `doc_type` of the statements with these keys."""
        term = tantivy.Query.term_query
        # An OR of term queries: several times cheaper than a term-set query here.
        any_key = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, term(self.schema, "key", k)) for k in keys]
        )
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, any_key), (tantivy.Occur.Must, self._type(doc_type))]
        )

    def clear_record_cache(self) -> None:
        """Forget the records read so far (benchmarks measure reads from the index)."""
        self._records.clear()

    def passage_texts(self, wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
        """The texts asked for: from records already read, else from the passage
        documents (one search), else (a passage stored without its text) from records."""
        if not wanted:
            return {}
        gen = self.generation()
        at_hand = {k for k, _ in wanted if (gen, k) in self._records}
        out = verify.passage_texts(self._records_for(gen, at_hand).get, wanted) if at_hand else {}
        todo = [(k, n) for k, n in wanted if k not in at_hand]
        if todo:
            texts, older = self._stored_texts(todo)
            out.update(texts)
            if older:
                rest = [(k, n) for k, n in todo if k in older]
                out.update(verify.passage_texts(self._records_for(gen, older).get, rest))
        return out

    def _stored_texts(
        self, wanted: Sequence[tuple[int, int]]
    ) -> tuple[dict[tuple[int, int], str], set[int]]:
        """Texts of the passage documents asked for, and the statements whose passages
        were found without one."""
        if self._native is not None:
            self._refresh()
            texts = self._native.passage_texts(list(wanted))
            found = {p: t for p, t in zip(wanted, texts, strict=True) if t is not None}
            # Not found, or stored without text (an index written before schema 4): the
            # records will tell.
            return found, {k for (k, n), text in zip(wanted, texts, strict=True) if text is None}
        searcher = self._searcher()
        keys = dict.fromkeys(k for k, _ in wanted)
        # Every passage of the statements concerned, then the wanted ones picked by their
        # fast fields: three times cheaper than a query per (statement, passage) pair.
        q = self._of_statements(keys, "passage")
        _, by_key = self._metas()
        metas = [by_key.get(k) for k in keys]
        if all(metas):
            # The catalog knows how many passages each has: fetch without counting first.
            hits = self._fetch(searcher, q, sum(m.passages for m in metas if m) or 1)
        else:
            hits = self._all(searcher, q)
        addrs = [addr for _, addr in hits]
        want = set(wanted)
        out: dict[tuple[int, int], str] = {}
        older: set[int] = set()
        for addr, key, pnt in zip(
            addrs,
            searcher.fast_field_values("key", addrs),
            searcher.fast_field_values("pnt", addrs),
            strict=True,
        ):
            pair = (key, pnt >> 32)
            if pair not in want:
                continue
            text = searcher.doc(addr).get_first("text")
            if text is None:
                older.add(key)
            else:
                out[pair] = bytes(text).decode("utf-8")
        return out, older

    def _record_of(self) -> verify.RecordOf:
        gen = self.generation()
        return lambda key: self._records_for(gen, (key,))[key]

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        searcher = self._searcher()
        q = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "sid", list(ids))),
                (tantivy.Occur.Must, self._type("statement")),
            ]
        )
        out: dict[str, str] = {}
        for _, addr in self._all(searcher, q):
            doc = searcher.doc(addr)
            out[doc["sid"][0]] = doc["hash"][0]
        return out

    def statements(self) -> Sequence[StatementMeta]:
        return self._metas()[0]

    def _metas(self) -> tuple[list[StatementMeta], dict[int, StatementMeta]]:
        gen = self.generation()
        cache = self._meta_cache
        if cache is not None and cache[0] == gen:
            return cache[1], cache[2]
        # One statement at a time, its repeated values shared: holding every statement's
        # parsed JSON at once cost more memory than the metadata itself (at 10M passages,
        # 420 MB of dicts for 259k statements, and the process kept it).
        shared: dict[Any, Any] = {}
        metas = self._read_meta_sidecar(gen, shared)
        if metas is None:
            searcher = self._searcher()
            hits = self._all(searcher, self._type("statement"))
            metas = []

            def stored() -> Iterator[bytes]:
                for _, addr in hits:
                    raw = bytes(searcher.doc(addr)["meta"][0])
                    metas.append(meta_from_json(_loads(raw), shared))
                    yield raw

            if not self._write_meta_sidecar(gen, len(hits), stored()):
                for _ in stored():  # not written (a read-only index): read all the same
                    pass
        metas.sort(key=lambda m: (m.date, m.id))
        by_key = {m.key: m for m in metas}
        self._meta_cache = (gen, metas, by_key)
        return metas, by_key

    # Reading every statement document costs seconds on a large index; the metadata of
    # the last generation read is kept beside the index, so the next process (a worker,
    # a CLI command) reads one file instead: a header line, then one statement a line.
    _SIDECAR = "tifa-statements.jsonl"
    _OLD_SIDECAR = "tifa-statements.json"  # one JSON document (earlier versions): removed

    def _read_meta_sidecar(self, gen: int, shared: dict[Any, Any]) -> list[StatementMeta] | None:
        try:
            with (self.path / self._SIDECAR).open("rb") as lines:
                header = _loads(lines.readline())
                if not isinstance(header, dict) or header.get("opstamp") != gen:
                    return None
                metas = [meta_from_json(_loads(line), shared) for line in lines]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return metas if len(metas) == header.get("statements") else None

    def _write_meta_sidecar(self, gen: int, count: int, metas: Iterator[bytes]) -> bool:
        """Write the `count` statements' stored metadata as they come; False (nothing
        consumed) when the sidecar cannot be created."""
        target = self.path / self._SIDECAR
        tmp = target.with_name(f"{self._SIDECAR}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            out = tmp.open("wb")
        except OSError:
            return False  # a read-only index just reads slower
        try:
            with out:
                out.write(json.dumps({"opstamp": gen, "statements": count}).encode())
                out.write(b"\n")
                for m in metas:
                    # Stored as json.dumps wrote it: one line (a newline in a value is
                    # escaped), no need to parse and write it again.
                    out.write(m)
                    out.write(b"\n")
            os.replace(tmp, target)
            (self.path / self._OLD_SIDECAR).unlink(missing_ok=True)
        except OSError:
            tmp.unlink(missing_ok=True)
            for _ in metas:  # the rest still read
                pass
        return True

    # ---- matching ------------------------------------------------------------------

    def _type(self, doc_type: str) -> Any:
        return tantivy.Query.const_score_query(
            tantivy.Query.term_query(self.schema, "doc_type", doc_type), 0.0
        )

    def _phrase_query(self, field: str, toks: Sequence[str]) -> Any:
        if len(toks) == 1:
            # A one-token phrase query panics in tantivy; a term query is the same thing.
            return tantivy.Query.term_query(self.schema, field, toks[0], index_option="position")
        return tantivy.Query.phrase_query(self.schema, field, list(toks))

    def _expand(self, searcher: Any, field: str, prefix: str) -> list[str]:
        found = searcher.terms_with_prefix(field, prefix, limit=MAX_PREFIX_EXPANSIONS + 1)
        if len(found) > MAX_PREFIX_EXPANSIONS:
            raise QueryError(
                f"'{prefix}*' matches more than {MAX_PREFIX_EXPANSIONS} different words; "
                "make the prefix longer",
                position=0,
                expected="a longer prefix",
            )
        return sorted(term for term, _ in found)

    def _variants(
        self, searcher: Any, field: str, toks: list[str], prefix: bool
    ) -> list[list[str]]:
        """The plain token lists a phrase stands for in `field` (a prefix expanded)."""
        if not prefix:
            return [toks]
        return [[*toks[:-1], e] for e in self._expand(searcher, field, toks[-1])]

    def _branches(self, searcher: Any, leaf: Phrase) -> list[tuple[str, list[list[str]], bool]]:
        """Where a phrase is looked for: (field, its token lists there, whether passages
        with a lemmas field are left out).

        Only passages whose lemmas differ from their tokens (Russian text) carry a lemmas
        field; everywhere else the lemmas are the tokens, so a lemma phrase is looked for
        in `lemmas` there and in `tokens` in every other passage.
        """
        if not leaf.lemma:
            return [
                (
                    "tokens",
                    self._variants(searcher, "tokens", list(leaf.tokens), leaf.prefix),
                    False,
                )
            ]
        toks = matching.lemmas(leaf.tokens)
        return [
            ("lemmas", self._variants(searcher, "lemmas", toks, leaf.prefix), False),
            ("tokens", self._variants(searcher, "tokens", toks, leaf.prefix), True),
        ]

    def _restricted(self, query: Any, unlemmatised: bool) -> Any:
        if not unlemmatised:
            return query
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, query),
                (tantivy.Occur.MustNot, tantivy.Query.term_query(self.schema, LEMMATISED, "y")),
            ]
        )

    def _leaf_query(self, searcher: Any, leaf: Leaf) -> Any:
        if isinstance(leaf, Near):
            return tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, self._leaf_query(searcher, leaf.left)),
                    (tantivy.Occur.Must, self._leaf_query(searcher, leaf.right)),
                ]
            )
        branches = []
        for field, variants, unlemmatised in self._branches(searcher, leaf):
            if not variants:
                continue
            if leaf.slop:
                # Candidates: all the words present; `matching` decides order and distance.
                query = tantivy.Query.boolean_query(
                    [
                        (tantivy.Occur.Must, self._any_of(field, sorted({v[k] for v in variants})))
                        for k in range(len(leaf.tokens))
                    ]
                )
            elif len(variants) == 1:
                query = self._phrase_query(field, variants[0])
            else:
                query = tantivy.Query.boolean_query(
                    [(tantivy.Occur.Should, self._phrase_query(field, v)) for v in variants]
                )
            branches.append(self._restricted(query, unlemmatised))
        if not branches:
            return tantivy.Query.empty_query()
        if len(branches) == 1:
            return branches[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, b) for b in branches])

    def _any_of(self, field: str, words: Sequence[str]) -> Any:
        if len(words) == 1:
            return tantivy.Query.term_query(self.schema, field, words[0])
        return tantivy.Query.term_set_query(self.schema, field, list(words))

    def _compile(self, searcher: Any, node: Node) -> Any:
        """A tantivy query matching exactly the passages `node` matches (scores unused)."""
        occur = tantivy.Occur
        if isinstance(node, (Phrase, Near)):
            return self._leaf_query(searcher, node)
        if isinstance(node, MatchAll):
            return tantivy.Query.all_query()
        if isinstance(node, FieldIs):
            toks = terms(node.value)
            if not toks:
                return tantivy.Query.empty_query()
            return self._phrase_query(FILTER_FIELDS[node.field], toks)
        if isinstance(node, DateRange):
            field = "published" if node.field == "published" else "date"
            return tantivy.Query.range_query(
                self.schema,
                field,
                tantivy.FieldType.Integer,
                day_number(node.lo) if node.lo else None,
                day_number(node.hi) if node.hi else None,
            )
        if isinstance(node, Not):
            return tantivy.Query.boolean_query(
                [
                    (occur.Must, tantivy.Query.all_query()),
                    (occur.MustNot, self._compile(searcher, node.child)),
                ]
            )
        if isinstance(node, And):
            clauses = []
            for child in node.children:
                if isinstance(child, Not):
                    clauses.append((occur.MustNot, self._compile(searcher, child.child)))
                else:
                    clauses.append((occur.Must, self._compile(searcher, child)))
            if all(o == occur.MustNot for o, _ in clauses):
                clauses.append((occur.Must, tantivy.Query.all_query()))
            return tantivy.Query.boolean_query(clauses)
        if isinstance(node, Or):
            return tantivy.Query.boolean_query(
                [(occur.Should, self._compile(searcher, c)) for c in node.children]
            )
        raise TypeError(f"unknown query node {node!r}")

    def match(self, query: Node) -> Matches:
        try:
            with _gc_paused():
                return self._match(query)
        except TifaError:
            raise
        except (ValueError, OSError, RuntimeError) as exc:
            raise EngineFailure(f"the embedded index failed: {exc}") from exc

    def _match(self, query: Node) -> Matches:
        searcher = self._searcher()
        clause_list = leaves(query)
        passage = self._type("passage")
        single = _required_single_leaf(query)
        if single is not None and matching.exact_in_engine(single[0]) and not single[0].prefix:
            found = self._match_natively(single[0], single[1])
            if found is not None:
                return found
            # One plain phrase plus filters: one scored search (per field it is looked
            # for in) gives rows and counts.
            leaf, rest = single
            filters = [(tantivy.Occur.Must, passage)]
            if rest is not None:
                filters.append(
                    (
                        tantivy.Occur.Must,
                        tantivy.Query.const_score_query(self._compile(searcher, rest), 0.0),
                    )
                )
            parts = []
            for field, variants, unlemmatised in self._branches(searcher, leaf):
                (toks,) = variants  # no prefix: exactly one
                bound = self._bound(searcher, field, toks)
                if not bound:
                    continue
                phrase = self._phrase_query(field, toks)
                scored = tantivy.Query.boolean_query(
                    [(tantivy.Occur.Must, self._restricted(phrase, unlemmatised)), *filters]
                )
                hits = self._fetch(searcher, scored, bound)
                if not hits:
                    continue
                scores, addrs = _unzip(hits)
                pnt = np.array(searcher.fast_field_values("pnt", addrs), dtype=np.int64)
                parts.append(
                    (
                        np.array(searcher.fast_field_values("key", addrs), dtype=np.int64),
                        (pnt >> 32).astype(np.int32),
                        self._recover_tf(searcher, phrase, scores, addrs, pnt & 0xFFFF_FFFF),
                    )
                )
            if not parts:
                return Matches.empty(1)
            keys, pnos, tf = (np.concatenate(col) for col in zip(*parts, strict=True))
            order = np.lexsort((pnos, keys))
            return Matches(keys[order], pnos[order], tf[order].reshape(-1, 1))
        whole = tantivy.Query.boolean_query(
            [
                (
                    tantivy.Occur.Must,
                    tantivy.Query.const_score_query(self._compile(searcher, query), 0.0),
                ),
                (tantivy.Occur.Must, passage),
            ]
        )
        hits = self._all(searcher, whole)
        if not hits:
            return Matches.empty(len(clause_list))
        _, addrs = _unzip(hits)
        keys = np.array(searcher.fast_field_values("key", addrs), dtype=np.int64)
        pnos = np.array(searcher.fast_field_values("pno", addrs), dtype=np.int32)
        uids = np.array(searcher.fast_field_values("uid", addrs), dtype=np.int64)
        # Order rows by (statement, passage) so every engine returns the same order.
        order = np.lexsort((pnos, keys))
        keys, pnos, uids = keys[order], pnos[order], uids[order]
        by_uid = np.argsort(uids)
        occ = np.zeros((len(keys), len(clause_list)), dtype=np.int32)
        verified = False
        for j, clause in enumerate(clause_list):
            if matching.exact_in_engine(clause):
                self._count_exact(searcher, clause, whole, uids, by_uid, occ[:, j])
            else:
                self._count_by_scan(clause, keys, pnos, occ[:, j])
                verified = True
        if verified:
            # The engine over-approximated some clause: settle each row with the clause
            # counts now known (filters are re-evaluated the same way engines apply them).
            keep = self._settle(query, clause_list, keys, pnos, occ)
            keys, pnos, occ = keys[keep], pnos[keep], occ[keep]
        return Matches(keys, pnos, occ)

    def _match_natively(self, leaf: Phrase, rest: Node | None) -> Matches | None:
        """A plain phrase with statement-level filters (or none) through the native
        matcher: the phrase's passages, then the filters applied per statement from the
        catalog. None when there is no native matcher, a filter is per passage, or a
        matched statement is newer than the catalog."""
        if self._native is None or (rest is not None and not statement_level(rest)):
            return None
        searcher = self._searcher()
        skip = None
        if rest is not None:
            # The statements the filters turn away are skipped while matching, before
            # any position is read. Statements unknown to the catalog are not skipped:
            # they are caught below.
            skip = catalog_of(self.statements()).turned_away(rest)
        parts = []
        branches = self._branches(searcher, leaf)
        for field, variants, unlemmatised in branches:
            (toks,) = variants  # no prefix: exactly one
            exclude = (LEMMATISED, "y") if unlemmatised else None
            pair = pair_of(toks) if field == "tokens" else None
            gates = None
            if pair is not None:
                # Two words of one group: one term whose frequencies are the counts.
                field, toks = PAIRS, [pair]
            elif field == "tokens" and len(toks) > 2:
                # A longer phrase's pair terms: passages without one are passed over
                # before their positions are read.
                made = sorted(set(self._pair_terms(" ".join(toks)).split()))
                gates = (PAIRS, made) if made else None
            # One field to look in: a common phrase's rows may be left to be read when
            # asked (the statements count, rank and facet a search; see `Matches.later`).
            found = self._native.match(field, toks, exclude, skip, gates, len(branches) == 1)
            if len(found.keys):
                parts.append(found)
        if not parts:
            return Matches.empty(1)
        if len(parts) == 1:
            found = parts[0]
            # The matcher grouped its rows by statement: nothing to regroup.
            groups = Statements(found.keys, found.starts, found.occurrences.reshape(-1, 1))
            if found.later is not None:
                matches = Matches.later(groups, _RowsOf(found.later))
            else:
                matches = Matches(None, found.passages, found.counts.reshape(-1, 1), groups)
        else:
            keys = np.concatenate([np.repeat(f.keys, np.diff(f.starts)) for f in parts])
            pnos = np.concatenate([f.passages for f in parts])
            occ = np.concatenate([f.counts for f in parts])
            order = np.lexsort((pnos, keys))
            matches = Matches(keys[order], pnos[order], occ[order].reshape(-1, 1))
        if rest is not None and len(matches):
            catalog = catalog_of(self.statements())
            groups = matches.by_statement()
            # Each statement looked up once, not each passage.
            rows, known = catalog.rows_of(groups.keys)
            if not bool(known.all()):
                return None
            admitted = catalog.admitted(rest)[rows]
            # The matcher skipped what the filters turn away: as a rule every statement
            # left is admitted, and copying the rows to keep them all is work for nothing.
            if not bool(admitted.all()):
                matches = matches.only_statements(admitted)
        return matches

    def _settle(
        self,
        query: Node,
        clause_list: list[Leaf],
        keys: npt.NDArray[np.int64],
        pnos: npt.NDArray[np.int32],
        occ: npt.NDArray[np.int32],
    ) -> npt.NDArray[np.bool_]:
        _, by_key = self._metas()
        return verify.settle(self._record_of(), by_key, query, clause_list, keys, pnos, occ)

    def _count_exact(
        self,
        searcher: Any,
        leaf: Leaf,
        whole: Any,
        uids: npt.NDArray[np.int64],
        by_uid: npt.NDArray[np.intp],
        out: npt.NDArray[np.int32],
    ) -> None:
        """Phrase frequencies of a plain phrase in every matching passage, from tantivy."""
        assert isinstance(leaf, Phrase)
        sorted_uids = uids[by_uid]
        for field, variants, unlemmatised in self._branches(searcher, leaf):
            for variant in variants:
                phrase = self._phrase_query(field, variant)
                scored = tantivy.Query.boolean_query(
                    [
                        (tantivy.Occur.Must, self._restricted(phrase, unlemmatised)),
                        (tantivy.Occur.Must, whole),
                    ]
                )
                hits = self._all(searcher, scored)
                if not hits:
                    continue
                scores, addrs = _unzip(hits)
                tf = self._recover_tf(searcher, phrase, scores, addrs)
                hit_uids = np.array(searcher.fast_field_values("uid", addrs), dtype=np.int64)
                rows = by_uid[np.searchsorted(sorted_uids, hit_uids)]
                np.add.at(out, rows, tf)

    def _recover_tf(
        self,
        searcher: Any,
        query: Any,
        scores: npt.NDArray[np.float32],
        addrs: list[Any],
        ntok: npt.NDArray[np.int64] | None = None,
    ) -> npt.NDArray[np.int32]:
        """Invert BM25: score = w·tf/(tf + k1·(1 − b + b·dl/avgdl)) gives tf exactly.

        `query` is the phrase alone: the hits' scores are its scores (every other clause
        scores 0), and explaining a filter too (a date range) would cost milliseconds.
        w and avgdl are read from tantivy's explanation of one hit, dl from our token
        count through tantivy's field-length code. A hit whose recovered tf is not an
        integer within 0.05 is counted by explanation instead (never guessed).
        """
        params = _bm25_params(json.loads(query.explain(searcher, addrs[0]).to_json()))
        if params is None:
            return np.array(
                [self._tf_by_explain(searcher, query, a) for a in addrs], dtype=np.int32
            )
        weight, avgdl = params
        if ntok is None:
            ntok = np.array(searcher.fast_field_values("pnt", addrs), dtype=np.int64) & 0xFFFF_FFFF
        dl = _FIELDNORMS[np.searchsorted(_FIELDNORMS, ntok, side="right") - 1].astype(np.float32)
        norm = K1 * (np.float32(1) - B + B * dl / avgdl)
        s = scores / weight
        with np.errstate(divide="ignore", invalid="ignore"):
            tf = norm.astype(np.float64) * s / (1.0 - s)
        rounded = np.rint(tf)
        bad = ~(np.abs(tf - rounded) <= 0.05) | (rounded < 1)
        out = np.where(bad, 0, rounded).astype(np.int32)
        for i in np.flatnonzero(bad):
            out[i] = self._tf_by_explain(searcher, query, addrs[i])
        return out

    def _tf_by_explain(self, searcher: Any, query: Any, addr: Any) -> int:
        found = _find_value(json.loads(query.explain(searcher, addr).to_json()), "freq,")
        if found is None:
            raise EngineFailure("tantivy's explanation carries no phrase frequency")
        return round(found)

    def _count_by_scan(
        self,
        leaf: Leaf,
        keys: npt.NDArray[np.int64],
        pnos: npt.NDArray[np.int32],
        out: npt.NDArray[np.int32],
    ) -> None:
        verify.count_by_scan(self._record_of(), leaf, keys, pnos, out)

    # ---- writing -------------------------------------------------------------------

    def _open_writer(self) -> NativeWriter | _PackageWriter:
        """The index's one writer: the extension's when matching natively (the same
        documents, built in Rust), else the tantivy package's."""
        if self._writer is None:
            if self._native is not None:
                self._writer = NativeWriter(
                    self.path, self._heap, self._threads, GROUPS, JOINER, self._most_merged
                )
                return self._writer
            try:
                inner = self.index.writer(heap_size=self._heap, num_threads=self._threads)
            except ValueError as exc:
                raise EngineUnavailable(
                    f"another process is writing to the index at {self.path} ({exc}); "
                    "one writer at a time"
                ) from exc
            self._writer = _PackageWriter(inner)
        return self._writer

    def write(self, statements: Sequence[Statement], delete: Iterable[str] = ()) -> WriteResult:
        with self._lock:
            writer = self._open_writer()
            deleted = 0
            try:
                for sid in delete:
                    writer.delete_statement(sid)
                    deleted += 1
                for st in statements:
                    writer.delete_statement(st.id)
                    if isinstance(writer, NativeWriter):
                        self._add_natively(writer, st)
                    else:
                        passages, statement = self._documents(st)
                        writer.add(passages, statement)
                writer.commit()
            except (EngineFailure, ValueError) as exc:
                writer.rollback()
                if isinstance(exc, EngineFailure):
                    raise
                raise EngineFailure(f"writing to the embedded index failed: {exc}") from exc
        self._refresh(force=True)
        return WriteResult(written=len(statements), deleted=deleted)

    def _add_natively(self, writer: NativeWriter, st: Statement) -> None:
        """One statement's documents through the native writer, which tokenises passages
        on its paths itself (ASCII, accented Latin, Cyrillic, Chinese); Python tokenises
        the others, and Russian statements (for their lemmas)."""
        record = st.record_json()  # first: the content hash comes from the same pieces
        shared = statement_values(st)
        russian = st.language == "ru"
        items: list[PassageIn] = []
        for p in st.passages:
            tokens = lemmas = None
            if russian:
                toks = terms(p.text)
                tokens = " ".join(toks)
                lemmatised = " ".join(matching.lemmas(toks))
                lemmas = lemmatised if lemmatised != tokens else None
            # Anything else goes untokenised: a passage off the extension's paths (a
            # combining mark, ß, Greek, ™ or №) makes it refuse the statement, which is
            # then sent again with those passages tokenised here (below). That is 144 of
            # the UN corpus's 10,952 statements (296 while "€" was off the paths too).
            # When the extension took only ASCII-
            # path text it was half of them (an accented name), and their refused calls
            # cost 0.5 s of CPU, so Python checked every passage first.
            addressee = filter_value_tokens([p.addressee]) if p.addressee else None
            uid = passage_key(st.id, p.number, shared.key)
            items.append((p.number, uid, p.text, tokens, lemmas, addressee))
        filters = [(name, value) for name, value in shared.filters.items() if value]
        args = (st.id, shared.key, filters, shared.date, shared.published)
        made, n_tokens, off_path = writer.add_passages(*args, items)
        if not made:
            # A passage off the extension's paths: tokenise what it refused, and send
            # the statement again.
            for i in off_path:
                number, uid, text, _, _, addressee = items[i]
                items[i] = (number, uid, text, joined_terms(text)[0], None, addressee)
            made, n_tokens, off_path = writer.add_passages(*args, items)
            if not made:
                raise EngineFailure(f"statement {st.id!r}: passages {off_path} lack tokens")
        meta = statement_meta(st, dataclasses.replace(shared, n_tokens=n_tokens))
        writer.add_statement(
            st.id,
            shared.key,
            shared.content_hash,
            json.dumps(meta, ensure_ascii=False).encode("utf-8"),
            record,
        )

    def _documents(self, st: Statement) -> tuple[list[str], Any]:
        """The documents of `st`: each passage's as a JSON object (which tantivy parses
        against the schema, much cheaper than building a Document field by field from
        Python), empty text fields left out; and the statement's, with meta and record."""
        record = st.record_json()  # first: the content hash comes from the same pieces
        ix = indexed(st)
        shared: dict[str, Any] = {"doc_type": "passage", "sid": st.id, "key": ix.key}
        shared.update((name, value) for name, value in ix.filters.items() if value)
        shared.update(date=ix.date, published=ix.published)
        head = json.dumps(shared, ensure_ascii=False)[:-1]
        passages = []
        passage_pairs: list[str] = []  # each passage's distinct pairs
        more_pairs: list[str] = []  # and their further occurrences in it
        b64 = base64.b64encode
        for p, source in zip(ix.passages, st.passages, strict=True):
            # Folded tokens are letters, marks and digits: nothing in them needs escaping;
            # tantivy reads a bytes field from JSON as base64.
            text = b64(source.text.encode("utf-8")).decode("ascii")
            doc = f'{head}, "pno": {p.number}, "uid": {p.uid}, "pnt": {p.number << 32 | p.ntok}'
            doc += f', "text": "{text}"'
            if p.tokens:
                doc += f', "tokens": "{p.tokens}"'
                pairs = self._pair_terms(p.tokens) if p.ntok > 1 else ""
                if pairs:
                    doc += f', "{PAIRS}": "{pairs}"'
                    seen: set[str] = set()
                    for pair in pairs.split():
                        (more_pairs if pair in seen else passage_pairs).append(pair)
                        seen.add(pair)
            if p.lemmas is not p.tokens and p.lemmas != p.tokens:
                # Only where lemmas differ from the tokens (Russian text): elsewhere lemma
                # queries read `tokens`, and indexing the same words twice cost a third
                # of ingest. pymorphy's forms get escaped.
                lemmas = json.dumps(p.lemmas, ensure_ascii=False)
                doc += f', "lemmas": {lemmas}, "{LEMMATISED}": "y"'
            if p.addressee:
                doc += f', "addressee": "{p.addressee}"'
            passages.append(doc + "}")
        d = tantivy.Document()
        d.add_text("doc_type", "statement")
        d.add_text("sid", st.id)
        d.add_integer("key", ix.key)
        # Every document has a `pnt`, so tantivy stores the column whole and reads it
        # without a presence index: six times faster for the native matcher's batches.
        # A statement's is its number of passages (see `STATEMENT_PAIRS`).
        d.add_unsigned("pnt", len(ix.passages))
        if passage_pairs:
            d.add_text(STATEMENT_PAIRS[0], " ".join(passage_pairs))
        if more_pairs:
            d.add_text(STATEMENT_PAIRS[1], " ".join(more_pairs))
        d.add_text("hash", ix.content_hash)
        d.add_bytes("meta", json.dumps(statement_meta(st, ix), ensure_ascii=False).encode("utf-8"))
        d.add_bytes("record", record)
        return passages, d

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


class _RowsOf:
    """The rows of a phrase the native matcher matched statement by statement, as
    `Matches` (a `RowReader`)."""

    __slots__ = ("_later",)

    def __init__(self, later: LaterRows) -> None:
        self._later = later

    def __call__(self, keys: npt.NDArray[np.int64] | None) -> Matches:
        found = self._later.rows(keys)
        groups = Statements(found.keys, found.starts, found.occurrences.reshape(-1, 1))
        return Matches(None, found.passages, found.counts.reshape(-1, 1), groups)


class _PackageWriter:
    """The tantivy package's IndexWriter with the native writer's methods, so that one
    `write` drives either."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def delete_statement(self, sid: str) -> None:
        self._inner.delete_documents_by_term("sid", sid)

    def add(self, passages: list[str], statement: Any) -> None:
        for passage in passages:
            self._inner.add_json(passage)
        self._inner.add_document(statement)

    def commit(self) -> None:
        self._inner.commit()

    def rollback(self) -> None:
        self._inner.rollback()

    def close(self) -> None:
        self._inner.wait_merging_threads()


# Schema versions whose indexes are rebuilt in place when opened: every version keeps
# each statement's whole record, so nothing but the index itself is needed.
UPGRADABLE = frozenset({2, 3, 4, 5, 6})
_SCHEMA_FILE = "tifa-schema.json"
log = logging.getLogger("tifa")


def _schema_version(path: Path) -> int | None:
    try:
        found = json.loads((path / _SCHEMA_FILE).read_text()).get("schema_version")
    except FileNotFoundError:
        return None
    return found if isinstance(found, int) else -1


# The doc store's block size for new indexes (tantivy's default is 16 KB). A page of
# hits reads about fifty passages from different statements, and each read decompresses
# a whole block, often mostly the neighbouring statement's record. Measured on 3,000 UN
# speeches (131k passages): a page's texts in 1.15 ms with 16 KB blocks, 0.85 with 4 KB,
# 0.41 with 2 KB, 0.38 with 1 KB; the index 17% larger at 2 KB, ingest no slower.
DOCSTORE_BLOCK = 2048


def _create(path: Path) -> None:
    """A new, empty index at `path` whose doc store is cut into DOCSTORE_BLOCK blocks (an
    index setting kept in meta.json, which every writer of the index then follows; the
    tantivy package sets no block size when it creates one). Called under the upgrade
    lock, before any writer can exist."""
    path.mkdir(exist_ok=True)
    tantivy.Index(_schema(), path=str(path), reuse=True)
    meta_file = path / "meta.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta["index_settings"]["docstore_blocksize"] = DOCSTORE_BLOCK
    staged = path / ".meta.json.tifa-new"
    with open(staged, "w", encoding="utf-8") as f:
        json.dump(meta, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(staged, meta_file)


@contextmanager
def _upgrade_lock(path: Path) -> Iterator[None]:
    """Held while checking (and maybe upgrading) the schema: two processes opening an old
    index at once must not both rebuild it."""
    try:
        lock = open(path.with_name(path.name + ".upgrade.lock"), "a")  # noqa: SIM115
    except OSError:
        yield  # a read-only place: nobody can upgrade it either
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _finish_upgrade(path: Path) -> None:
    """Complete or undo an upgrade a crash interrupted (see `_upgrade` for the steps)."""
    old, new = path.with_name(path.name + ".old"), path.with_name(path.name + ".upgrade")
    if old.exists() and not path.exists():
        os.replace(old, path)  # crashed between the two renames: the old index is whole
    if old.exists():
        shutil.rmtree(old)
    if new.exists():
        shutil.rmtree(new)


def _upgrade(path: Path, version: int) -> None:
    """Rebuild the index at `path` under the current schema from its stored records.

    The new index is built beside the old one, then swapped in by two renames; until the
    first rename the old index is untouched, and `_finish_upgrade` repairs a crash
    between them.
    """
    new_path = path.with_name(path.name + ".upgrade")
    old_index = tantivy.Index.open(str(path))
    searcher: Any = old_index.searcher()
    statements = tantivy.Query.term_query(old_index.schema, "doc_type", "statement")
    total = searcher.search(statements, limit=1, count=True).count
    log.warning(
        "upgrading the index at %s from schema version %d to %d (%d statements)",
        path,
        version,
        SCHEMA_VERSION,
        total,
    )
    fresh = EmbeddedBackend(new_path)
    batch: list[Statement] = []
    for _, addr in searcher.search(statements, limit=max(total, 1)).hits if total else []:
        batch.append(statement_from_stored(_loads(searcher.doc(addr)["record"][0])))
        if len(batch) >= 1000:
            fresh.write(batch)
            batch = []
    if batch:
        fresh.write(batch)
    fresh.close()
    new_path.with_name(new_path.name + ".upgrade.lock").unlink(missing_ok=True)
    del old_index, searcher
    os.replace(path, path.with_name(path.name + ".old"))
    os.replace(new_path, path)
    shutil.rmtree(path.with_name(path.name + ".old"))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC (if on): hundreds of thousands of (score, address) hits are
    made at once, and each collection would walk them all (they hold no cycles); paused
    until they are freed, at the end of the match."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _loads(raw: bytes) -> Any:
    """JSON from stored bytes: orjson parses a statement record about twice as fast as
    json (snippets read up to 20 records per search); json is the fallback for anything
    orjson refuses that json accepts."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def _unzip(hits: list[tuple[float, Any]]) -> tuple[npt.NDArray[np.float32], list[Any]]:
    """Scores (as float32, tantivy's own precision) and addresses of hits."""
    # map/itemgetter run in C: several times faster than zip(*hits) on large hit lists.
    scores = np.fromiter(map(itemgetter(0), hits), np.float32, len(hits))
    return scores, list(map(itemgetter(1), hits))


def _find_value(node: dict[str, Any], prefix: str) -> float | None:
    if str(node.get("description", "")).startswith(prefix):
        return float(node["value"])
    for child in node.get("details", []) or []:
        found = _find_value(child, prefix)
        if found is not None:
            return found
    return None


def _bm25_params(explanation: dict[str, Any]) -> tuple[np.float32, np.float32] | None:
    idf = _find_value(explanation, "idf")
    avgdl = _find_value(explanation, "avgdl")
    if idf is None or avgdl is None:
        return None
    return np.float32(idf) * (np.float32(1) + K1), np.float32(avgdl)


def default_path(data_dir: Path) -> Path:
    """Where the embedded index lives under a data directory."""
    return Path(os.fspath(data_dir)) / "index"


def _required_single_leaf(query: Node) -> tuple[Phrase, Node | None] | None:
    """(leaf, the rest) when `query` is one text clause, alone or ANDed with filters only."""
    if isinstance(query, Phrase):
        return query, None
    if isinstance(query, And):
        texts = [c for c in query.children if isinstance(c, Phrase)]
        if len(texts) == 1 and len(text_clauses(query)) == 1:
            rest = tuple(c for c in query.children if c is not texts[0])
            return texts[0], (rest[0] if len(rest) == 1 else And(rest)) if rest else None
    return None
