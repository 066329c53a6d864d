"""The native matcher in tests: required under CI (./run builds it there), skipped
elsewhere when this interpreter has no build of it."""

from __future__ import annotations

import os

import pytest

from indexer.backends import native


def require_native() -> None:
    """Skip (or, under CI, fail) when the native extension is not installed."""
    if native.available():
        return
    why = "the native matcher (tifa_native) is not installed: pip install ./native"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI builds the native matcher and tests it: {why}")
    pytest.skip(why)
