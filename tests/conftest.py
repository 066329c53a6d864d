"""Shared fixtures: real indexes on disk built through the real readers and indexer."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.model import Statement, statement_from_record
from indexer.search import Search

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


SLICES = (
    ("kremlin_slice.jsonl", "kremlin"),
    ("ungdc_slice.jsonl", "ungdc"),
    ("govzh_slice.jsonl", "govzh"),
)


def slice_statements() -> list[Statement]:
    """The statements of the three corpus slices, read through the real presets."""
    from indexer.sources import read

    out = []
    for name, preset in SLICES:
        out.extend(s for s in read(DATA / name, preset=preset) if isinstance(s, Statement))
    return out


@pytest.fixture(scope="session")
def slices() -> list[Statement]:
    return slice_statements()


@pytest.fixture(scope="session")
def slice_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose embedded index holds the three slices, ingested by the CLI."""
    from app.cli import main

    data_dir = tmp_path_factory.mktemp("slice-data")
    env_before = os.environ.get("TIFA_DATA_DIR")
    os.environ["TIFA_DATA_DIR"] = str(data_dir)
    try:
        for name, preset in SLICES:
            # The real slices hold title-only pages and an undatable report: those are
            # rejected (exit 1), the rest taken.
            code = main(["ingest", str(DATA / name), "--preset", preset, "--quiet"])
            assert code == (0 if preset == "ungdc" else 1)
    finally:
        if env_before is None:
            os.environ.pop("TIFA_DATA_DIR", None)
        else:
            os.environ["TIFA_DATA_DIR"] = env_before
    return data_dir


@pytest.fixture(scope="session")
def slice_search(slice_data_dir: Path) -> Iterator[Search]:
    from indexer.backends.embedded import EmbeddedBackend

    backend = EmbeddedBackend(slice_data_dir / "index")
    yield Search(backend)
    backend.close()
