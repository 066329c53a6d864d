"""An app over the slice index, talked to in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


@pytest.fixture(scope="session")
def settings(slice_data_dir: Path) -> Settings:
    return Settings(data_dir=slice_data_dir, corpus_dir=Path(__file__).parents[2] / "corpus")


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c
