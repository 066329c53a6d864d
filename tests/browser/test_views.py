"""The views in a real browser: a search typed in, hits, exact counts equal to the API's,
paging, the timeline chart and a click through to a year, a diff with marked changes,
and screenshots of every view at desktop and phone widths."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.browser

QUERY = '"strategic partnership"'


def api(base: str, path: str, **params: Any) -> Any:
    r = httpx.get(base + path, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_search_typed_counts_paging(page: Any, tifa: str) -> None:
    page.goto(tifa + "/")
    page.get_by_label("Query", exact=True).fill(QUERY)
    page.keyboard.press("Enter")
    page.wait_for_selector(".hit")
    first = api(tifa, "/api/v1/search", q=QUERY)
    for key in ("statements", "passages", "occurrences"):
        shown = page.locator(f".totals [data-total={key}]").inner_text()
        assert int(shown.replace(",", "")) == first["total"][key]
    ids = page.locator(".hit").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids == [h["id"] for h in first["results"]]
    marks = page.locator(".hits mark.km").all_inner_texts()
    assert marks and all(" ".join(m.lower().split()) == "strategic partnership" for m in marks)
    # The whole phrase is one mark, with its context either side.
    line = page.locator(".kwic-line").first
    assert line.locator(".kl").inner_text().strip() and line.locator(".kr").inner_text()

    page.locator("[data-testid=next]").click()
    page.wait_for_url("**cursor=**")
    second = api(tifa, "/api/v1/search", q=QUERY, cursor=first["next"])
    ids2 = page.locator(".hit").evaluate_all("els => els.map(e => e.dataset.id)")
    assert ids2 == [h["id"] for h in second["results"]] and not set(ids) & set(ids2)
    assert page.locator(".range").inner_text().startswith("Showing 21–")
    # Every state is in the URL: reloading shows the same page.
    page.reload()
    assert page.locator(".hit").evaluate_all("els => els.map(e => e.dataset.id)") == ids2


def test_filters_and_facets(page: Any, tifa: str) -> None:
    page.goto(tifa + "/?q=" + QUERY)
    page.get_by_label("Kind").select_option("call")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**kind=call**")
    want = api(tifa, "/api/v1/search", q=QUERY, kind="call")["total"]["statements"]
    assert int(page.locator(".totals [data-total=statements]").inner_text()) == want
    page.get_by_role("link", name="Remove filter Kind: call").click()
    page.wait_for_url(lambda url: "kind=" not in url)
    page.locator(".yearbars a").first.click()
    assert "year=" in page.url


def test_timeline_chart_counts_and_click_to_year(page: Any, tifa: str) -> None:
    queries = [QUERY, "russia"]
    page.goto(tifa + "/timeline?q=" + queries[0] + "&q=" + queries[1])
    page.wait_for_selector("svg.chart-svg")
    body = httpx.get(tifa + "/api/v1/timeline", params={"q": queries}, timeout=30).json()
    legend = page.locator(".legend li")
    assert legend.count() == 2
    for i, series in enumerate(body["series"]):
        item = legend.nth(i)
        assert item.locator(".lq").inner_text() == series["query"]
        occ = item.locator("[data-total=occurrences]").inner_text().replace(",", "")
        assert int(occ) == series["total_occurrences"]
    assert page.locator("polyline.line").count() >= 2
    # Hover a year with hits: its values show.
    row = next(r for r in body["series"][1]["rows"] if r["occurrences"])
    col = page.locator(f'a.col[data-tip="tip-{row["period"]}"]')
    col.hover()
    tip = page.locator(f"#tip-{row['period']}")
    assert tip.is_visible() and f"{row['occurrences']:,}" in tip.inner_text()
    # Per 10k tokens toggle keeps the queries.
    page.get_by_role("link", name="Per 10k tokens", exact=True).click()
    page.wait_for_url("**mode=rate**")
    assert page.locator(".legend li").count() == 2
    # Click the year: the search for that year.
    page.locator(f'a.col[data-tip="tip-{row["period"]}"]').click()
    page.wait_for_url("**year=" + row["period"] + "**")
    q = parse_qs(urlsplit(page.url).query)["q"][0]
    total = api(tifa, "/api/v1/search", q=q, year=row["period"])["total"]["statements"]
    assert int(page.locator(".totals [data-total=statements]").inner_text()) == total


def test_diff_shows_marked_changes(page: Any, tifa: str) -> None:
    a, b = "kremlin-56543", "kremlin-62521"
    page.goto(f"{tifa}/diff?a={a}&b={b}")
    body = api(tifa, "/api/v1/diff", a=a, b=b)
    assert page.locator(".diff-row").count() == len(body["passages"])
    assert page.locator(".diff-row ins").count() > 0 and page.locator(".diff-row del").count() > 0
    dropped = [f["formula_id"] for f in body["formulas"]["dropped"]]
    if dropped:
        shown = page.locator("[data-testid=formulas-dropped] a").all_inner_texts()
        assert shown == dropped
    # A changed passage: removed words of A marked in A, added words of B in B.
    changed = page.locator(".diff-row.changed").first
    assert changed.locator("div").first.locator("del").count() > 0
    assert changed.locator("div").nth(1).locator("ins").count() > 0


def test_statement_view(page: Any, tifa: str) -> None:
    st = api(tifa, "/api/v1/statements/kremlin-62521")
    page.goto(f"{tifa}/statements/kremlin-62521?q=new+year&p=3#p3")
    assert page.locator("h1").inner_text() == st["title"]
    assert page.locator(".passage").count() == len(st["passages"])
    assert page.locator(".passage.focus").get_attribute("id") == "p3"
    assert st["license"] in page.locator(".facts").inner_text()
    assert page.locator("a.ext").get_attribute("href") == st["url"]
    assert page.locator(".ptext mark").count() > 0


VIEWS = {
    "search": "/?q=" + QUERY,
    "timeline": '/timeline?q="strategic partnership"&q=multipolar*&q=sovereignty',
    "statement": "/statements/kremlin-62521?q=new+year&p=2#p2",
    "formula": "/formulas/comprehensive-strategic-partnership-of-coordination",
    "series": "/series/china-russia-new-year",
    "series-diff": "/series/china-russia-new-year/diff?from=2018&to=2019",
    "diff": "/diff?a=kremlin-56543&b=kremlin-62521",
    "embed-search": "/embed/search?q=" + QUERY + "&theme=dark",
}


@pytest.mark.parametrize("width", [1280, 360])
@pytest.mark.parametrize("name", list(VIEWS))
def test_screenshots(browser: Any, tifa: str, screenshots: Path, name: str, width: int) -> None:
    height = 900 if width > 400 else 780
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        response = page.goto(tifa + VIEWS[name])
        assert response is not None and response.status == 200
        # Responsive: nothing wider than the viewport (wide tables and charts scroll
        # inside their own boxes).
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} is {overflow}px wide at {width}px"
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"))
    finally:
        context.close()
