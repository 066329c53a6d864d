"""Document text is text: a statement whose title and text carry script and event-handler
markup is shown as written, and nothing in it runs, on any view."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from tests.browser.conftest import start_tifa, stop

pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def xss_tifa(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Iterator[str]:
    from app.cli import main

    data_dir = tmp_path_factory.mktemp("xss-data")
    records = [
        {
            "id": "xss-1",
            "date": "2020-01-02",
            "title": f"Payload {SCRIPT} title {IMG}",
            "text": f"The zanzibarite partnership {SCRIPT} grows.\n\nSecond {IMG} passage "
            "about the zanzibarite partnership.",
            "source": f"Source {IMG}",
            "url": "javascript:window.__xss=1",
            "license": f"CC0 {SCRIPT}",
            "speakers": [f"Mr {IMG}"],
            "kind": "statement",
        },
        {
            "id": "xss-2",
            "date": "2021-01-02",
            "title": "Plain",
            "text": "The zanzibarite partnership grows.\n\nA new passage.",
            "kind": "statement",
        },
    ]
    path = data_dir / "xss.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    before = os.environ.get("TIFA_DATA_DIR")
    os.environ["TIFA_DATA_DIR"] = str(data_dir)
    try:
        assert main(["ingest", str(path), "--quiet"]) == 0
    finally:
        if before is None:
            os.environ.pop("TIFA_DATA_DIR", None)
        else:
            os.environ["TIFA_DATA_DIR"] = before
    server = start_tifa(Settings(data_dir=data_dir, corpus_dir=corpus_dir))
    yield server.url
    stop(server)


@pytest.mark.parametrize(
    "path",
    [
        "/?q=zanzibarite",
        "/embed/search?q=zanzibarite",
        "/statements/xss-1?q=zanzibarite",
        "/embed/statements/xss-1",
        "/diff?a=xss-1&b=xss-2",
        "/timeline?q=zanzibarite",
    ],
)
def test_payload_is_text_and_does_not_run(page: Any, xss_tifa: str, path: str) -> None:
    page.goto(xss_tifa + path)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert page.locator("main script, main img").count() == 0
    text = page.locator("main").inner_text()
    if "timeline" not in path:
        assert SCRIPT in text or IMG in text
    # A javascript: URL is never a link.
    assert page.locator('a[href^="javascript:"]').count() == 0


def test_title_shown_verbatim(page: Any, xss_tifa: str) -> None:
    page.goto(xss_tifa + "/statements/xss-1")
    assert page.locator("h1").inner_text() == f"Payload {SCRIPT} title {IMG}"
    assert page.title() == f"Payload {SCRIPT} title {IMG}"
