"""Fixtures for the security tests: a private copy of the slice index (so writes never
touch the session's shared one), keys of each scope, and an app built over them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.keys import KeyStore
from app.main import create_app

CORPUS = Path(__file__).parents[2] / "corpus"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "soak: long runs (thousands of requests); CI skips")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # CI runs `./run test` with no marker expression, so soak tests skip themselves unless
    # tools/soak.sh asked for them.
    if os.environ.get("TIFA_SOAK") == "1":
        return
    skip = pytest.mark.skip(reason="soak test: run tools/soak.sh (TIFA_SOAK=1)")
    for item in items:
        if "soak" in item.keywords and not any(m.name == "skip" for m in item.own_markers):
            item.add_marker(skip)


@dataclass(frozen=True)
class Keys:
    read: str
    write: str
    admin: str
    revoked: str

    def auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, scope)}"}


@pytest.fixture
def data_dir(tmp_path: Path, slice_data_dir: Path) -> Path:
    """A data directory holding a copy of the slice index, private to one test."""
    shutil.copytree(slice_data_dir / "index", tmp_path / "index")
    return tmp_path


def make_keys(data_dir: Path) -> Keys:
    store = KeyStore(data_dir / "keys.sqlite")
    tokens = {
        scope: store.create(scope, f"test {scope}")[1] for scope in ("read", "write", "admin")
    }
    info, revoked = store.create("admin", "revoked")
    store.revoke(info.id)
    store.close()
    return Keys(tokens["read"], tokens["write"], tokens["admin"], revoked)


@pytest.fixture
def keys(data_dir: Path) -> Keys:
    return make_keys(data_dir)


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(data_dir: Path) -> Iterator[AppFactory]:
    """Build a client over the private data dir with settings overridden by keywords."""
    clients: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        settings = Settings(data_dir=data_dir, corpus_dir=CORPUS, **overrides)  # type: ignore[arg-type]
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()
