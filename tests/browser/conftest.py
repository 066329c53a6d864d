"""Real servers and a real browser for the page tests: uvicorn on loopback over the slice
index, a host page on another loopback origin, and Debian's Chromium through Playwright.

Chromium is never downloaded: without /usr/bin/chromium the tests skip, loudly, unless
CI=true, where they fail.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.config import Settings
from app.main import create_app

CHROMIUM = Path(os.environ.get("TIFA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST_IP = "127.0.0.2"  # another loopback address: another origin than the service's
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def start_tifa(settings: Settings) -> Server:
    """A uvicorn server in a thread on a free loopback port, serving `create_app(settings)`."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Tifa test server did not start")
        time.sleep(0.05)
    return Server(f"http://127.0.0.1:{port}", server, thread)


def stop(server: Server) -> None:
    server.server.should_exit = True
    server.thread.join(timeout=10)


HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Dashboard</title></head>
<body>
<h1>A dashboard</h1>
<iframe id="tifa" title="Tifa search" src="{src}" width="900" height="300"></iframe>
<script>
window.__msgs = [];
window.addEventListener("message", function (e) {{
  window.__msgs.push({{origin: e.origin, data: e.data}});
  if (e.data && e.data.type === "tifa:height") {{
    document.getElementById("tifa").height = e.data.height;
  }}
}});
</script>
</body></html>"""


@dataclass
class Host:
    origin: str
    httpd: http.server.ThreadingHTTPServer

    def page(self, src: str) -> str:
        from urllib.parse import quote

        return f"{self.origin}/host?src={quote(src, safe='')}"


def start_host() -> Host:
    """A dashboard page on another origin that frames `?src=` and records messages."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            from html import escape
            from urllib.parse import parse_qs, urlsplit

            src = parse_qs(urlsplit(self.path).query).get("src", [""])[0]
            body = HOST_PAGE.format(src=escape(src, quote=True)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port(HOST_IP)
    httpd = http.server.ThreadingHTTPServer((HOST_IP, port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return Host(f"http://{HOST_IP}:{port}", httpd)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        reason = (
            f"BROWSER TESTS NOT RUN: no Chromium at {CHROMIUM} "
            "(apt-get install -y chromium; never downloaded by the tests)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def host() -> Iterator[Host]:
    h = start_host()
    yield h
    h.httpd.shutdown()
    h.httpd.server_close()


@pytest.fixture(scope="session")
def other_host() -> Iterator[Host]:
    """A second dashboard origin, never allowed to embed."""
    h = start_host()
    yield h
    h.httpd.shutdown()
    h.httpd.server_close()


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return Path(__file__).parents[2] / "corpus"


@pytest.fixture(scope="session")
def tifa(slice_data_dir: Path, corpus_dir: Path, host: Host) -> Iterator[str]:
    """The service over the slice index; `host`'s origin may embed it."""
    settings = Settings(data_dir=slice_data_dir, corpus_dir=corpus_dir, embed_origins=[host.origin])
    server = start_tifa(settings)
    yield server.url
    stop(server)


@pytest.fixture
def console_log() -> list[str]:
    """Every console message of the test's page, in order."""
    return []


@pytest.fixture
def page(browser: Any, console_log: list[str]) -> Iterator[Any]:
    """A desktop-sized page; the test fails on a script error or on a CSP violation
    (other than a refusal to be framed, which the embedding tests look for)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(msg: Any) -> None:
        console_log.append(msg.text)
        refused_frame = msg.text.startswith("Framing ")
        if msg.type == "error" and "Content Security Policy" in msg.text and not refused_frame:
            errors.append(msg.text)

    pg.on("console", on_console)
    yield pg
    context.close()
    assert not errors, f"errors on the page (script errors or CSP violations): {errors}"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
