"""The HTML pages through TestClient: security headers (CSP frame-ancestors per setting,
nosniff), no inline script or style, escaping of document text, links under a root path,
and the pure helpers behind the pages."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.routes.pages import Segment, merge, nice_ticks, security_headers, segments

PAGES = [
    "/",
    '/?q="strategic partnership"',
    "/timeline?q=china&q=russia",
    "/statements/kremlin-62521",
    "/formulas",
    "/formulas/new-era",
    "/series",
    "/series/china-russia-new-year",
    "/series/china-russia-new-year/diff?from=2018&to=2019",
    "/diff?a=kremlin-56543&b=kremlin-62521",
]
EMBEDS = ["/embed/search?q=china", "/embed/timeline?q=china", "/embed/statements/kremlin-62521"]


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def csp(headers: object) -> dict[str, str]:
    value = headers["content-security-policy"]  # type: ignore[index]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in value.split("; ")}


@pytest.fixture(scope="module")
def embedding(settings: Settings) -> Iterator[TestClient]:
    allowed = settings.model_copy(
        update={
            "embed_origins": [
                "https://dash.example.com",
                "http://127.0.0.2:8080/",
                "https://evil.example; script-src *",
                "*",
            ]
        }
    )
    with TestClient(create_app(allowed)) as c:
        yield c


@pytest.mark.parametrize("path", PAGES)
def test_full_pages_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    policy = csp(r.headers)
    assert policy["frame-ancestors"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["object-src"] == "'none'"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    # CSP holds: no inline script, no inline style, no event-handler attribute.
    for tag, attrs in tags(r.text):
        if tag == "script":
            assert attrs.get("src"), "inline script"
        assert "style" not in attrs, f"inline style on <{tag}>"
        assert not [a for a in attrs if a.startswith("on")], f"handler on <{tag}>"


@pytest.mark.parametrize("path", PAGES[:2])
def test_full_pages_never_framed_by_embed_origins(embedding: TestClient, path: str) -> None:
    assert csp(embedding.get(path).headers)["frame-ancestors"] == "'self'"


@pytest.mark.parametrize("path", EMBEDS)
def test_embed_frame_ancestors_default_self(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert csp(r.headers)["frame-ancestors"] == "'self'"
    assert "x-frame-options" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"
    assert 'class="masthead"' not in r.text  # no page chrome


@pytest.mark.parametrize("path", EMBEDS)
def test_embed_frame_ancestors_allowed_origins(embedding: TestClient, path: str) -> None:
    r = embedding.get(path)
    # Malformed entries (header injection, wildcards) are dropped, not passed on.
    assert csp(r.headers)["frame-ancestors"] == (
        "'self' https://dash.example.com http://127.0.0.2:8080"
    )
    body = next(a for t, a in tags(r.text) if t == "body")
    assert body["data-origins"] == "https://dash.example.com http://127.0.0.2:8080"
    assert body["data-embed"] == "1"


def test_security_headers_function() -> None:
    assert security_headers(embed=False, origins=["https://a.example"])[
        "Content-Security-Policy"
    ].endswith("frame-ancestors 'self'")
    assert security_headers(embed=True, origins=["https://a.example"])[
        "Content-Security-Policy"
    ].endswith("frame-ancestors 'self' https://a.example")


def test_static_assets(client: TestClient) -> None:
    html = client.get("/").text
    found = {a.get("src") or a.get("href") for t, a in tags(html) if t in ("script", "link")}
    js = next(u for u in found if u and "tifa.js" in u)
    css = next(u for u in found if u and "tifa.css" in u)
    for url, kind in ((js, "javascript"), (css, "text/css")):
        r = client.get(url)
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert r.headers["x-content-type-options"] == "nosniff"
    # Every asset is local: no absolute URL to elsewhere in any src or href of a page.
    for _, attrs in tags(client.get('/?q="strategic partnership"').text):
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not value.startswith("//")
            if value.startswith("http"):
                assert value.startswith("http://en.kremlin.ru/") or key == "href"


def test_query_error_is_shown_on_the_page(client: TestClient) -> None:
    r = client.get("/", params={"q": '"strategic'})
    assert r.status_code == 200
    assert 'role="alert"' in r.text and "^" in r.text


def test_unknown_statement_is_an_html_404(client: TestClient) -> None:
    r = client.get("/statements/no-such-id")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "no statement with id" in r.text


def test_search_page_counts_equal_the_api(client: TestClient) -> None:
    q = '"strategic partnership"'
    api = client.get("/api/v1/search", params={"q": q}).json()
    html = client.get("/", params={"q": q}).text
    for key in ("statements", "passages", "occurrences"):
        assert f'data-total="{key}">{api["total"][key]:,}</b>' in html
    for hit in api["results"]:
        assert f'data-id="{hit["id"]}"' in html


def test_every_page_links_its_json(client: TestClient) -> None:
    expected = {
        '/?q="strategic partnership"': "/api/v1/search?",
        "/timeline?q=china&q=russia": "/api/v1/timeline?",
        "/statements/kremlin-62521": "/api/v1/statements/kremlin-62521",
        "/formulas/new-era": "/api/v1/formulas/new-era",
        "/series/china-russia-new-year": "/api/v1/series/china-russia-new-year",
        "/diff?a=kremlin-56543&b=kremlin-62521": "/api/v1/diff?",
    }
    for page, api in expected.items():
        hrefs = [a.get("href") or "" for t, a in tags(client.get(page).text) if t == "a"]
        assert any(h.startswith(api) for h in hrefs), page


# ---- escaping ---------------------------------------------------------------------------

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[TestClient]:
    from app.cli import main

    data_dir = tmp_path_factory.mktemp("hostile")
    record = {
        "id": "evil-1",
        "date": "2020-01-02",
        "title": f"T {SCRIPT} {IMG}",
        "text": f"The quokkaship accord {SCRIPT}.\n\nMore {IMG} quokkaship.",
        "source": f"S {IMG}",
        "url": "javascript:window.__xss=1",
        "license": f"L {SCRIPT}",
        "speakers": [f"Mr {IMG}"],
    }
    path = data_dir / "evil.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    before = os.environ.get("TIFA_DATA_DIR")
    os.environ["TIFA_DATA_DIR"] = str(data_dir)
    try:
        assert main(["ingest", str(path), "--quiet"]) == 0
    finally:
        if before is None:
            os.environ.pop("TIFA_DATA_DIR", None)
        else:
            os.environ["TIFA_DATA_DIR"] = before
    with TestClient(create_app(settings.model_copy(update={"data_dir": data_dir}))) as c:
        yield c


@pytest.mark.parametrize(
    "path",
    [
        "/?q=quokkaship",
        "/embed/search?q=quokkaship",
        "/statements/evil-1?q=quokkaship",
        "/embed/statements/evil-1",
        "/diff?a=evil-1&b=evil-1",
    ],
)
def test_document_text_is_escaped(hostile: TestClient, path: str) -> None:
    html = hostile.get(path).text
    assert "<script>window" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    scripts = [a for t, a in tags(html) if t == "script"]
    assert all(a.get("src", "").startswith("/static/") for a in scripts)  # type: ignore[union-attr]
    assert not [a for t, a in tags(html) if t == "img"]
    assert not [
        a for t, a in tags(html) if t == "a" and (a.get("href") or "").startswith("javascript:")
    ]


# ---- under a path prefix ----------------------------------------------------------------


@pytest.fixture(scope="module")
def prefixed(settings: Settings) -> Iterator[TestClient]:
    # The prefix is the server's (uvicorn --root-path, as `tifa serve` passes it).
    app = create_app(settings.model_copy(update={"root_path": "/tifa"}))
    with TestClient(app, root_path="/tifa") as c:
        yield c


@pytest.mark.parametrize("path", [*PAGES, *EMBEDS])
def test_links_under_root_path(prefixed: TestClient, path: str) -> None:
    r = prefixed.get("/tifa" + path)
    assert r.status_code == 200, r.text
    local = []
    for tag, attrs in tags(r.text):
        for key in ("href", "src", "action", "data-embed-search"):
            value = attrs.get(key)
            if value and value.startswith("/"):
                local.append(value)
                assert value.startswith("/tifa/"), f"<{tag} {key}={value}> misses the prefix"
    assert local


def test_assets_resolve_under_root_path(prefixed: TestClient) -> None:
    html = prefixed.get("/tifa/").text
    for tag, attrs in tags(html):
        url = attrs.get("src") if tag == "script" else None
        if url:
            assert prefixed.get(url).status_code == 200


# ---- helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spans", "expected"),
    [
        ("abcdef", [], [Segment("abcdef")]),
        ("abcdef", [(1, 3, "mark")], [Segment("a"), Segment("bc", "mark"), Segment("def")]),
        ("abcdef", [(0, 6, "ins")], [Segment("abcdef", "ins")]),
        (
            "abcdef",
            [(4, 6, "del"), (0, 2, "del"), (1, 3, "del")],
            [Segment("ab", "del"), Segment("c", "del"), Segment("d"), Segment("ef", "del")],
        ),
        ("", [], [Segment("")]),
    ],
)
def test_segments(text: str, spans: list[tuple[int, int, str]], expected: list[Segment]) -> None:
    got = segments(text, spans)
    assert got == expected and "".join(s.text for s in got) == text


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (0, [0.0, 1.0]),
        (6, [0, 2, 4, 6]),
        (157, [0, 50, 100, 150, 200]),
        (3.2, [0, 1, 2, 3, 4]),
        (0.37, [0, 0.1, 0.2, 0.3, 0.4]),
    ],
)
def test_nice_ticks(top: float, expected: list[float]) -> None:
    assert nice_ticks(top) == pytest.approx(expected)


def test_merge_drops_paging_and_none() -> None:
    base = {"q": "x", "year": "2019", "cursor": "abc", "start": 20}
    assert merge(base, {"year": None, "kind": "call"}) == {"q": "x", "kind": "call"}


def test_corpus_dir_fixture(settings: Settings) -> None:
    assert (Path(settings.corpus_dir) / "formulas.yaml").exists()
