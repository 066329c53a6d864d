"""API keys and idempotency records: a small SQLite file (`keys.sqlite` under the data
directory) holding salted key hashes with their scopes, and the responses of POSTs sent
with an `Idempotency-Key`. Knows nothing of HTTP beyond parsing a Bearer header value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from indexer.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
# Each scope includes the ones before it: an admin key may write, a write key may read.
_RANK = {scope: i for i, scope in enumerate(SCOPES)}

PREFIX = "tifa"
_ID_BYTES = 6
_SECRET_BYTES = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    created TEXT NOT NULL,
    revoked TEXT
);
CREATE TABLE IF NOT EXISTS idempotency (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    body BLOB,
    created REAL NOT NULL,
    PRIMARY KEY (principal, key)
);
"""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A stored key, without its secret."""

    id: str
    name: str
    scope: Scope
    created: str
    revoked: str | None

    def allows(self, needed: Scope) -> bool:
        return self.revoked is None and _RANK[self.scope] >= _RANK[needed]


@dataclass(frozen=True, slots=True)
class Replay:
    """A stored response to replay for a retried request."""

    status: int
    body: bytes


def _hash(salt: bytes, secret: str) -> bytes:
    # The secret carries 256 random bits, so one salted SHA-256 cannot be brute-forced and
    # keeps checking a key on every request cheap (a slow KDF only helps low-entropy
    # passwords).
    return hashlib.sha256(salt + secret.encode("ascii")).digest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class KeyStore:
    """The keys file at `path`; safe to use from many threads and processes."""

    def __init__(self, path: Path) -> None:
        # Nothing touches the disk until a key is used: a read-only service with open
        # reads never creates the file.
        self.path = Path(path)
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        # One connection per thread: sqlite3 connections must not be shared across threads
        # and opening one per call would cost more than the check it serves.
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            # WAL lets readers (every authenticated request) run beside a writer;
            # synchronous=FULL makes each commit survive a power cut, not only a crash.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # ---- keys ---------------------------------------------------------------------

    def create(self, scope: str, name: str = "") -> tuple[KeyInfo, str]:
        """Make a key; return it and its secret token (shown once, never stored)."""
        if scope not in SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}; got {scope!r}")
        key_id = secrets.token_hex(_ID_BYTES)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        salt = secrets.token_bytes(16)
        info = KeyInfo(key_id, name, scope, _now(), None)
        with self._tx() as db:
            db.execute(
                "INSERT INTO api_keys (id, name, scope, salt, hash, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key_id, name, scope, salt, _hash(salt, secret), info.created),
            )
        return info, f"{PREFIX}_{key_id}_{secret}"

    def list(self) -> list[KeyInfo]:
        rows = self._db().execute(
            "SELECT id, name, scope, created, revoked FROM api_keys ORDER BY created, id"
        )
        return [KeyInfo(*row) for row in rows]

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke a key (from the next request on); raises NotFound for an unknown id."""
        with self._tx() as db:
            db.execute(
                "UPDATE api_keys SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (_now(), key_id),
            )
            row = db.execute(
                "SELECT id, name, scope, created, revoked FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no API key with id {key_id!r}")
        return KeyInfo(*row)

    def verify(self, token: str) -> KeyInfo | None:
        """The key a token belongs to if it is valid and not revoked, else None."""
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != PREFIX or not key_id or not secret or not secret.isascii():
            return None
        row = (
            self._db()
            .execute(
                "SELECT id, name, scope, created, revoked, salt, hash FROM api_keys WHERE id = ?",
                (key_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        info = KeyInfo(*row[:5])
        if not hmac.compare_digest(_hash(row[5], secret), row[6]) or info.revoked is not None:
            return None
        return info

    def authenticate(self, authorization: str | None, needed: Scope) -> KeyInfo:
        """The key named by an `Authorization` header value, if it grants `needed`.

        Raises Unauthorized (no key, not a Bearer token, unknown or revoked key) or
        Forbidden (a valid key whose scope is too narrow).
        """
        if not authorization:
            raise Unauthorized("this needs an API key: send 'Authorization: Bearer <key>'")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the API key as 'Authorization: Bearer <key>'")
        info = self.verify(token.strip())
        if info is None:
            raise Unauthorized("the API key is not valid (unknown or revoked)")
        if not info.allows(needed):
            raise Forbidden(
                f"this needs a key with the {needed!r} scope; this key has {info.scope!r}"
            )
        return info

    # ---- idempotency ----------------------------------------------------------------

    def begin(
        self, principal: str, key: str, fingerprint: str, ttl_s: float, stale_s: float = 300.0
    ) -> Replay | None:
        """Claim `key` for a request whose method, path and body hash to `fingerprint`.

        Returns None when the caller should run the request (then `finish` or `abandon`),
        or the stored response of the same request sent before. Raises Conflict when the
        key was used for a different request, or the first one is still running. A claim
        left unfinished for `stale_s` (its process died) is taken over: running a write
        again is safe, as unchanged statements are recognised by their content hash.
        """
        now = time.time()
        with self._tx() as db:
            # Expired records go first, so an old key may be reused after the TTL.
            db.execute("DELETE FROM idempotency WHERE created < ?", (now - ttl_s,))
            row = db.execute(
                "SELECT fingerprint, status, body, created FROM idempotency "
                "WHERE principal = ? AND key = ?",
                (principal, key),
            ).fetchone()
            stale = row is not None and row[1] is None and row[3] < now - stale_s
            if row is None or (stale and row[0] == fingerprint):
                db.execute(
                    "INSERT OR REPLACE INTO idempotency (principal, key, fingerprint, created) "
                    "VALUES (?, ?, ?, ?)",
                    (principal, key, fingerprint, now),
                )
                return None
        stored_fingerprint, status, body, _ = row
        if stored_fingerprint != fingerprint:
            raise Conflict(
                "this Idempotency-Key was already used with a different request body; "
                "use a new key for a new request"
            )
        if status is None:
            raise Conflict("a request with this Idempotency-Key is still being processed")
        return Replay(int(status), bytes(body))

    def finish(self, principal: str, key: str, status: int, body: bytes) -> None:
        """Store the response of a request claimed with `begin`."""
        with self._tx() as db:
            db.execute(
                "UPDATE idempotency SET status = ?, body = ? WHERE principal = ? AND key = ?",
                (status, body, principal, key),
            )

    def abandon(self, principal: str, key: str) -> None:
        """Release a claim whose request failed, so that a retry runs it again."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM idempotency WHERE principal = ? AND key = ? AND status IS NULL",
                (principal, key),
            )

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
