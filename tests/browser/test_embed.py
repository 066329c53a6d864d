"""Embedding: a dashboard on another origin frames /embed/search when that origin is in
TIFA_EMBED_ORIGINS and receives the postMessage protocol; any other origin is refused by
the browser itself (CSP frame-ancestors), and full pages frame nowhere but themselves."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import Host

pytestmark = pytest.mark.browser


def tifa_frame(page: Any, base: str) -> Any:
    return next(f for f in page.frames if f.url.startswith(base))


def test_allowed_origin_embeds_and_talks(page: Any, tifa: str, host: Host) -> None:
    page.goto(host.page(tifa + '/embed/search?q="strategic partnership"'))
    page.wait_for_function(
        "window.__msgs.some(m => m.data && m.data.type === 'tifa:height')", timeout=15000
    )
    frame = tifa_frame(page, tifa)
    frame.wait_for_selector(".hit")
    assert frame.locator(".masthead").count() == 0  # no page chrome
    msgs = page.evaluate("window.__msgs")
    heights = [m for m in msgs if m["data"]["type"] == "tifa:height"]
    assert all(m["origin"] == tifa for m in msgs)
    assert heights[-1]["data"]["height"] > 300
    # The host sized its iframe from the message.
    assert int(page.locator("#tifa").get_attribute("height")) == heights[-1]["data"]["height"]

    # Selecting a hit tells the host which statement and passage.
    line = frame.locator(".kwic-line").first
    hit_id = line.get_attribute("data-hit-id")
    passage = int(line.get_attribute("data-passage"))
    line.click()
    page.wait_for_function("window.__msgs.some(m => m.data.type === 'tifa:hit')")
    hit = next(m for m in page.evaluate("window.__msgs") if m["data"]["type"] == "tifa:hit")
    assert hit["data"] == {"type": "tifa:hit", "id": hit_id, "passage": passage}
    assert frame.locator(".hit.selected").count() == 1

    # The host sets the query and filters.
    page.evaluate(
        """base => document.getElementById('tifa').contentWindow.postMessage(
            {type: 'tifa:search', q: 'russia', filters: {year: '2019', kind: 'call'}}, base)""",
        tifa,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = tifa_frame(page, tifa)
        if "q=russia" in frame.url:
            break
        page.wait_for_timeout(100)  # lets Playwright see the frame navigate
    assert "/embed/search?" in frame.url and "year=2019" in frame.url and "kind=call" in frame.url
    frame.wait_for_selector(".totals")


def refused(console_log: list[str], directive: str) -> bool:
    return any(
        m.startswith("Framing ") and "frame-ancestors" in m and directive in m for m in console_log
    )


def test_disallowed_origin_is_refused(
    page: Any, tifa: str, host: Host, other_host: Host, console_log: list[str]
) -> None:
    page.goto(other_host.page(tifa + "/embed/search?q=china"))
    page.wait_for_timeout(1500)
    assert not any(f.url.startswith(tifa) and f.locator(".hit").count() for f in page.frames)
    assert page.evaluate("window.__msgs") == []
    assert refused(console_log, f"frame-ancestors 'self' {host.origin}")


def test_full_pages_are_not_framed_by_others(
    page: Any, tifa: str, host: Host, console_log: list[str]
) -> None:
    page.goto(host.page(tifa + "/?q=china"))
    page.wait_for_timeout(1500)
    assert not any(f.url.startswith(tifa) and f.locator(".hit").count() for f in page.frames)
    assert page.evaluate("window.__msgs") == []
    assert refused(console_log, "frame-ancestors 'self'\"")
