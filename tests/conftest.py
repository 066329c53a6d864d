"""Shared fixtures: real indexes on disk built through the real readers and indexer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.model import Statement, statement_from_record

DATA = Path(__file__).parent / "data"


def make_statement(sid: str, text: str, date: str = "2020-01-01", **fields: object) -> Statement:
    """A statement from a canonical record (through the same validation as ingest)."""
    record: dict[str, object] = {"id": sid, "text": text, "date": date, **fields}
    return statement_from_record(record)


@pytest.fixture
def tmp_index_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "index"


def years(start: int, end: int) -> list[dt.date]:
    return [dt.date(y, 1, 1) for y in range(start, end + 1)]
