"""HTML pages: one statement per page, parsed with selectolax.

Generic pages give their title (og:title, h1, <title>), date (article:published_time,
date meta tags, <time datetime>), text (paragraphs of <article>/<main>/<body> without
navigation and scripts) and canonical URL. Pages of en.kremlin.ru go through the
`kremlin` preset so they come out exactly like the records of the shared corpus.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import regex
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from indexer.model import Rejection, Statement
from indexer.sources import presets
from indexer.sources.records import Preset, build

MAX_FILE_BYTES = 50_000_000
_DROP = "script, style, nav, footer, header, aside, form, noscript, template, iframe, svg"
_BLOCKS = "p, h2, h3, h4, li, blockquote"
_KREMLIN_URL = regex.compile(r"kremlin\.ru/events/president/(?:news|transcripts)/(?P<id>\d+)")
_DATE_META = (
    'meta[property="article:published_time"]',
    'meta[name="article:published_time"]',
    'meta[itemprop="datePublished"]',
    'meta[name="date"]',
    'meta[name="DC.date"]',
    'meta[name="dcterms.date"]',
)
_ISO_DATE = regex.compile(r"\d{4}-\d{2}-\d{2}")
_SPACE = regex.compile(r"[ \t\r\n\f\u00a0]+")


def _clean(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def _attr(tree: HTMLParser, selector: str, name: str) -> str:
    node = tree.css_first(selector)
    value = node.attributes.get(name) if node is not None else None
    return _clean(value)


def _node_text(node: Node | None) -> str:
    return _clean(node.text(separator="")) if node is not None else ""


def paragraphs(node: Node) -> str:
    """The text of `node` as paragraphs separated by blank lines (block elements, or lines)."""
    blocks = [_clean(b.text(separator="")) for b in node.css(_BLOCKS)]
    # A <li> holding a <p> matches twice; keep each block's text once, in page order.
    kept: list[str] = []
    seen: set[str] = set()
    for block in blocks:
        if block and block not in seen:
            seen.add(block)
            kept.append(block)
    if kept:
        return "\n\n".join(kept)
    lines = [_clean(line) for line in node.text(separator="\n").split("\n")]
    return "\n\n".join(line for line in lines if line)


def page_date(tree: HTMLParser) -> str | None:
    """The page's publication date as YYYY-MM-DD, from meta tags or <time datetime>."""
    candidates = [_attr(tree, sel, "content") for sel in _DATE_META]
    candidates.append(_attr(tree, "time[datetime]", "datetime"))
    for value in candidates:
        if m := _ISO_DATE.search(value):
            return m.group(0)
    return None


def _kremlin_record(tree: HTMLParser, url: str, site_id: str) -> dict[str, Any]:
    """The page in the shape of a kremlin_en.jsonl record, for the `kremlin` preset."""
    body = tree.css_first(".read__content .entry-content") or tree.css_first(
        ".entry-content, .read__content"
    )
    lead = tree.css_first(".read__lead, .entry-summary")
    for node in (body, lead):
        if node is not None:
            for junk in node.css(_DROP + ", .read__tags, .masha-ignore"):
                junk.decompose()
    time = tree.css_first("time[datetime]")
    return {
        "id": site_id,
        "title": _node_text(tree.css_first("h1"))
        or _attr(tree, 'meta[property="og:title"]', "content"),
        "date": page_date(tree),
        "datetime_text": _node_text(time),
        "url": url,
        "lead": _node_text(lead),
        "sections": "",
        "text": paragraphs(body) if body is not None else "",
        "license": "",
        "source": presets.KREMLIN_SOURCE,
    }


def parse_page(path: Path, html: str) -> tuple[dict[str, Any], Preset | None]:
    """The raw record of one page, and the preset it needs (kremlin pages) if any."""
    tree = HTMLParser(html)
    url = _attr(tree, 'link[rel="canonical"]', "href") or _attr(
        tree, 'meta[property="og:url"]', "content"
    )
    if (m := _KREMLIN_URL.search(url)) or tree.css_first(".read__content .entry-content"):
        site_id = m.group("id") if m else path.stem
        return _kremlin_record(tree, url, site_id), presets.kremlin
    title = (
        _attr(tree, 'meta[property="og:title"]', "content")
        or _node_text(tree.css_first("h1"))
        or _node_text(tree.css_first("title"))
    )
    root = tree.css_first("article") or tree.css_first("main") or tree.body
    text = ""
    if root is not None:
        for junk in root.css(_DROP):
            junk.decompose()
        text = paragraphs(root)
    html_node = tree.css_first("html")
    language = html_node.attributes.get("lang") if html_node is not None else None
    record: dict[str, Any] = {"id": path.stem, "title": title, "text": text}
    if date := page_date(tree):
        record["date"] = date
    if url:
        record["url"] = url
    if language:
        record["language"] = language.split("-")[0].lower()
    description = _attr(tree, 'meta[name="description"]', "content")
    if description:
        record["meta"] = {"description": description}
    return record, None


def read_html(
    path: Path,
    *,
    mapping: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    preset: Preset | None = None,
) -> Iterator[Statement | Rejection]:
    """The one Statement (or Rejection, as record 1) in an HTML page.

    Bytes that are not UTF-8 are replaced (U+FFFD) and the statement's meta says so.
    """
    file = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            yield Rejection(file, 1, f"file is larger than {MAX_FILE_BYTES} bytes")
            return
        data = path.read_bytes()
    except OSError as exc:
        yield Rejection(file, 1, f"file cannot be read: {exc}")
        return
    try:
        html = data.decode("utf-8-sig")
        replaced = False
    except UnicodeDecodeError:
        html = data.decode("utf-8-sig", errors="replace")
        replaced = True
    record, page_preset = parse_page(path, html)
    item = build(file, 1, record, mapping=mapping, defaults=defaults, preset=preset or page_preset)
    if replaced and isinstance(item, Statement):
        note = "bytes that were not UTF-8 were replaced by U+FFFD"
        item = dataclasses.replace(item, meta={**item.meta, "decoding": note})
    yield item
