"""Matches of chosen queries (the formula lexicon) kept on disk per corpus version.

A lexicon formula is known before anyone asks for it, so its exact matches are computed
once per corpus version (at ingest, at start-up, or on first use) and saved here; a
formula timeline then costs a file read instead of a search. Entries are keyed by the
catalog's fingerprint (which statements, in which content), so a stale entry is never
read: any write makes a new fingerprint, and old ones are pruned.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from indexer.backends.base import Matches
from indexer.query import Node

# Bump when the matching model or the file layout changes: old entries are then ignored.
FORMAT = 1
KEEP = 2  # corpus versions kept (the current one and the one before, for readers mid-swap)
MEMORY = 2048  # entries kept in memory once read (a lexicon is a few hundred queries)


class MatchStore:
    """A directory of `<fingerprint>/<query hash>.bin` files (see `_encode`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._memory: OrderedDict[tuple[str, Node], Matches] = OrderedDict()
        self._lock = threading.Lock()

    def _dir(self, fingerprint: str) -> Path:
        return self.root / f"v{FORMAT}-{fingerprint}"

    @staticmethod
    def _name(node: Node) -> str:
        # repr of the frozen query dataclasses is deterministic across processes.
        return hashlib.blake2b(repr(node).encode(), digest_size=16).hexdigest() + ".bin"

    def load(self, fingerprint: str, node: Node) -> Matches | None:
        with self._lock:
            found = self._memory.get((fingerprint, node))
            if found is not None:
                self._memory.move_to_end((fingerprint, node))
                return found
        path = self._dir(fingerprint) / self._name(node)
        try:
            found = _decode(path.read_bytes(), repr(node))
        except (OSError, ValueError, KeyError):
            return None
        if found is None:
            return None
        self._remember(fingerprint, node, found)
        return found

    def _remember(self, fingerprint: str, node: Node, matches: Matches) -> None:
        with self._lock:
            self._memory[(fingerprint, node)] = matches
            while len(self._memory) > MEMORY:
                self._memory.popitem(last=False)

    def save(self, fingerprint: str, node: Node, matches: Matches) -> None:
        """Write atomically (a reader never sees half a file); failures are ignored
        because the store is only a shortcut: the answer can always be recomputed."""
        folder = self._dir(fingerprint)
        try:
            fresh = not folder.exists()
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(_encode(matches, repr(node)))
            os.replace(tmp, folder / self._name(node))
            self._remember(fingerprint, node, matches)
            if fresh:
                self._prune(keep=folder)
        except OSError:
            return

    def _prune(self, keep: Path) -> None:
        dirs = sorted(
            (d for d in self.root.iterdir() if d.is_dir() and d != keep),
            key=lambda d: d.stat().st_mtime,
            reverse=True,
        )
        for old in dirs[KEEP - 1 :]:
            shutil.rmtree(old, ignore_errors=True)


def _encode(matches: Matches, query: str) -> bytes:
    """A JSON header (the query, row and clause counts) then the three arrays raw, in
    little-endian order: one read and three zero-copy views load it back."""
    rows, leaves = matches.occurrences.shape
    header = json.dumps({"query": query, "rows": rows, "leaves": leaves}).encode()
    return b"".join(
        (
            struct.pack("<I", len(header)),
            header,
            matches.keys.astype("<i8").tobytes(),
            matches.passages.astype("<i4").tobytes(),
            matches.occurrences.astype("<i4").tobytes(),
        )
    )


def _decode(raw: bytes, query: str) -> Matches | None:
    (size,) = struct.unpack_from("<I", raw)
    header = json.loads(raw[4 : 4 + size])
    if header["query"] != query:
        return None  # a hash collision, or a file of another query: recompute
    rows, leaves = int(header["rows"]), int(header["leaves"])
    at = 4 + size
    keys = np.frombuffer(raw, "<i8", rows, at)
    at += 8 * rows
    passages = np.frombuffer(raw, "<i4", rows, at)
    at += 4 * rows
    occ = np.frombuffer(raw, "<i4", rows * leaves, at).reshape(rows, leaves)
    if at + 4 * rows * leaves != len(raw):
        raise ValueError("truncated entry")
    return Matches(keys.astype(np.int64), passages.astype(np.int32), occ.astype(np.int32))
