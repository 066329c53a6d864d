"""CSV input with a header row, streamed row by row (gzip or not).

Cells are strings: empty cells count as missing, `speakers` and `series` are split on
`;`, and `meta.NAME` columns go into `meta`. Lines are numbered from 1 with the header
as line 1; a record spanning several lines is named by its first line.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from indexer.model import Rejection, Statement
from indexer.sources.lines import MAX_LINE_BYTES, open_binary
from indexer.sources.records import Preset, apply_mapping, build

_LIST_FIELDS = ("speakers", "series")
_READ_ERRORS = (OSError, EOFError)
_MAX_FIELD = MAX_LINE_BYTES


def _raise_field_limit() -> None:
    # The csv module refuses fields over 128 KiB by default; a speech is longer than that.
    if csv.field_size_limit() < _MAX_FIELD:
        csv.field_size_limit(min(_MAX_FIELD, sys.maxsize))


def _has_bad_bytes(cells: list[str]) -> bool:
    # surrogateescape turns each undecodable byte into a lone surrogate, which cannot be
    # encoded back: so a row that does not re-encode held bytes that were not UTF-8.
    try:
        "".join(cells).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def row_to_record(header: list[str], row: list[str]) -> dict[str, Any]:
    """One CSV row as a raw record: empty cells dropped, meta.* columns gathered into meta."""
    record: dict[str, Any] = {}
    meta: dict[str, str] = {}
    for name, cell in zip(header, row, strict=False):
        value = cell.strip()
        if not name or not value:
            continue
        if name.startswith("meta.") and len(name) > 5:
            meta[name[5:]] = value
        else:
            record[name] = value
    if meta:
        record["meta"] = meta
    return record


def split_lists(record: dict[str, Any]) -> dict[str, Any]:
    """`speakers` and `series` cells split on ';' into lists."""
    for name in _LIST_FIELDS:
        value = record.get(name)
        if isinstance(value, str):
            record[name] = [part.strip() for part in value.split(";") if part.strip()]
    return record


def read_csv(
    path: Path,
    *,
    mapping: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    preset: Preset | None = None,
) -> Iterator[Statement | Rejection]:
    """Statements (or Rejections, by the line number where the record starts) from a CSV file."""
    _raise_field_limit()
    file = str(path)
    with open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
        reader = csv.reader(text)
        header: list[str] | None = None
        last_line = 0
        while True:
            start = last_line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last_line = max(reader.line_num, start)
                yield Rejection(file, start, f"malformed CSV: {exc}")
                continue
            except _READ_ERRORS as exc:
                yield Rejection(file, start, f"the file cannot be read past this point: {exc}")
                return
            last_line = reader.line_num
            if header is None:
                if _has_bad_bytes(row):
                    yield Rejection(
                        file, start, "header row is not valid UTF-8; cannot read the file"
                    )
                    return
                header = [name.strip() for name in row]
                continue
            if not any(cell.strip() for cell in row):
                continue
            if _has_bad_bytes(row):
                yield Rejection(file, start, "record is not valid UTF-8")
                continue
            if len(row) > len(header):
                yield Rejection(
                    file, start, f"record has {len(row)} cells but the header has {len(header)}"
                )
                continue
            # Map before splitting lists, so a mapped column ("speakers" <- "who") is split too.
            record = split_lists(apply_mapping(row_to_record(header, row), mapping or {}))
            yield build(file, start, record, defaults=defaults, preset=preset)
