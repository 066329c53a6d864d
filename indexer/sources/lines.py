"""Streaming the bytes of an input file: transparent gzip, one line at a time, bounded memory.

Every problem with the bytes themselves (bad UTF-8, an over-long line, a truncated gzip
member) comes out as an `Unreadable` value in the stream instead of an exception, so one
bad line never stops the file.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from indexer.model import TEXT_MAX_CHARS

# UTF-8 needs at most 4 bytes a character; the slack covers the JSON around `text`.
MAX_LINE_BYTES = TEXT_MAX_CHARS * 4 + 1_000_000
_DRAIN_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A line (or the rest of a file) that could not be turned into text, and why."""

    reason: str
    fatal: bool = False


def open_binary(path: Path) -> BinaryIO:
    """Open `path` for reading bytes, decompressing it when its name ends in `.gz`."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _read_errors() -> tuple[type[BaseException], ...]:
    # A corrupt or truncated gzip stream surfaces as any of these, depending on where it breaks.
    return (OSError, EOFError, zlib.error)


def iter_lines(
    path: Path, *, max_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, str | Unreadable]]:
    """Yield (1-based line number, decoded line without its newline) for each line of `path`.

    A line that is not UTF-8 or is longer than `max_bytes` yields an `Unreadable` instead;
    a file that cannot be read further yields one fatal `Unreadable` and ends. Raises
    OSError only when the file cannot be opened at all.
    """
    with open_binary(path) as fh:
        number = 0
        while True:
            number += 1
            try:
                raw = fh.readline(max_bytes + 1)
            except _read_errors() as exc:
                yield number, Unreadable(f"the file cannot be read past this point: {exc}", True)
                return
            if not raw:
                return
            if len(raw) > max_bytes and not raw.endswith(b"\n"):
                # Skip the rest of the line in chunks so memory stays flat.
                try:
                    while (chunk := fh.readline(_DRAIN_CHUNK)) and not chunk.endswith(b"\n"):
                        pass
                except _read_errors() as exc:
                    yield (
                        number,
                        Unreadable(f"the file cannot be read past this point: {exc}", True),
                    )
                    return
                yield number, Unreadable(f"line is longer than {max_bytes} bytes")
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield (
                    number,
                    Unreadable(f"line is not valid UTF-8 ({exc.reason} at byte {exc.start + 1})"),
                )
                continue
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield number, line.rstrip("\r\n")
