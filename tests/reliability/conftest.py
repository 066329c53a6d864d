"""Fixtures for the reliability tests: the soak marker and a real uvicorn server."""

from __future__ import annotations

import os

import pytest


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
