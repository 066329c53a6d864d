"""The HTTP API: shapes, exact totals, paging, export, and one error shape everywhere."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.model import Statement
from tests import bruteforce


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "backend": None, "statements": None}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["backend"] == "embedded"
    assert ready["statements"] > 300


def test_search_strategic_partnership(client: TestClient, slices: list[Statement]) -> None:
    r = client.get("/api/v1/search", params={"q": '"strategic partnership"'})
    assert r.status_code == 200
    body = r.json()
    rows = [(s.id, s.date.year, p.text) for s in slices for p in s.passages]
    expected = bruteforce.count(rows, "strategic partnership")
    assert body["total"] == {
        "statements": expected["statements"],
        "passages": expected["passages"],
        "occurrences": expected["occurrences"],
    }
    assert len(body["results"]) == 20 and body["next"]
    kremlin = [h for h in body["results"] if h["id"].startswith("kremlin-")]
    assert kremlin
    for hit in kremlin:
        assert hit["url"].startswith("http://en.kremlin.ru/")
        assert "CC BY 4.0" in hit["license"]
    for hit in body["results"]:
        assert hit["snippets"]
        for s in hit["snippets"]:
            assert s["match"].lower().replace("\u00a0", " ") == "strategic partnership"
    # Scores never increase down the page.
    scores = [h["score"] for h in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert sum(f["statements"] for f in body["facets"]["year"]) == expected["statements"]


def test_snippet_offsets_point_into_the_passage(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": "China’s", "limit": 5}).json()
    for hit in body["results"]:
        st = client.get(f"/api/v1/statements/{hit['id']}").json()
        for s in hit["snippets"]:
            text = st["passages"][s["passage"]]["text"]
            assert text[s["start"] : s["end"]] == s["match"]
            assert text[: s["start"]].endswith(s["left"])
            assert text[s["end"] :].startswith(s["right"])


@pytest.mark.parametrize("sort", ["relevance", "date", "-date"])
def test_paging_returns_each_statement_once_in_order(client: TestClient, sort: str) -> None:
    params: dict[str, str | int] = {"q": "the", "limit": 37, "sort": sort, "snippets": 0}
    first = client.get("/api/v1/search", params=params).json()
    seen: list[dict[str, object]] = list(first["results"])
    nxt = first["next"]
    while nxt:
        page = client.get("/api/v1/search", params={**params, "cursor": nxt}).json()
        seen.extend(page["results"])
        nxt = page["next"]
    ids = [h["id"] for h in seen]
    assert len(ids) == len(set(ids)) == first["total"]["statements"]
    if sort == "date":
        assert [h["date"] for h in seen] == sorted(h["date"] for h in seen)  # type: ignore[type-var]
    if sort == "-date":
        assert [h["date"] for h in seen] == sorted((h["date"] for h in seen), reverse=True)  # type: ignore[type-var]


def test_chinese_phrase_search(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": "新时代", "sort": "date"}).json()
    assert body["total"]["statements"] > 0
    assert all(h["language"] == "zh" for h in body["results"])
    assert body["results"][0]["snippets"][0]["match"] == "新时代"


def test_filters_as_parameters_and_inline_agree(client: TestClient) -> None:
    a = client.get(
        "/api/v1/search", params={"q": "cooperation", "year": "2000..2005", "kind": "call"}
    ).json()
    b = client.get("/api/v1/search", params={"q": "cooperation year:2000..2005 kind:call"}).json()
    assert a["total"] == b["total"] and a["total"]["statements"] > 0
    assert all("2000" <= h["date"][:4] <= "2005" and h["kind"] == "call" for h in a["results"])


def test_csv_and_jsonl_export(client: TestClient) -> None:
    r = client.get("/api/v1/search", params={"q": '"strategic partnership"', "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    total = client.get("/api/v1/search", params={"q": '"strategic partnership"'}).json()["total"]
    assert len(rows) == total["occurrences"]
    assert all(row["match"].lower() == "strategic partnership" for row in rows)
    r2 = client.get(
        "/api/v1/search", params={"q": '"strategic partnership"'}, headers={"Accept": "text/csv"}
    )
    assert r2.text == r.text
    lines = client.get(
        "/api/v1/search", params={"q": '"strategic partnership"', "format": "json"}
    ).text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [row["id"] for row in rows]


@pytest.mark.parametrize("sort", ["relevance", "-date"])
def test_export_limit_is_a_prefix_of_the_whole_export(client: TestClient, sort: str) -> None:
    """Texts are read in batches sized by the rows still wanted: a limited export is
    exactly the start of the unlimited one, in the same order."""

    def export(limit: int) -> list[list[str]]:
        params = {"q": '"of the"', "format": "csv", "sort": sort, "export_limit": limit}
        return list(csv.reader(io.StringIO(client.get("/api/v1/search", params=params).text)))

    total = client.get("/api/v1/search", params={"q": '"of the"'}).json()["total"]
    whole = export(100_000)
    assert len(whole) == 1 + total["occurrences"] > 1200
    for limit in (1, 17, 200, 1100):
        assert export(limit) == whole[: 1 + limit]


def test_statement_endpoint(client: TestClient) -> None:
    body = client.get("/api/v1/statements/kremlin-62521").json()
    assert body["title"].startswith("New Year greetings")
    assert body["license"] and body["url"]
    assert sum(1 for p in body["passages"] if p["addressee"]) >= 40


def test_snippets_name_their_passage_addressee(client: TestClient) -> None:
    """A round-up's snippets say whom their passage greets (page JSON and CSV alike),
    as the statement's own passages do; other statements' snippets name nobody."""
    passages = client.get("/api/v1/statements/kremlin-62521").json()["passages"]
    to = {p["number"]: p["addressee"] for p in passages}
    q = '"New Year" id:kremlin-62521'
    hit = client.get("/api/v1/search", params={"q": q, "snippets": 10}).json()["results"][0]
    assert len(hit["snippets"]) == 10
    assert [s["addressee"] for s in hit["snippets"]] == [to[s["passage"]] for s in hit["snippets"]]
    assert sum(1 for s in hit["snippets"] if s["addressee"]) >= 5
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/api/v1/search", params={"q": q, "format": "csv"}).text)
        )
    )
    assert len(rows) == hit["occurrences"]
    assert [r["addressee"] for r in rows] == [to[int(r["passage"])] or "" for r in rows]
    other = client.get("/api/v1/search", params={"q": '"general assembly"'}).json()["results"]
    assert all(s["addressee"] is None for h in other for s in h["snippets"])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/search?q=%22unclosed", 400),
        ("/api/v1/search?q=a&limit=0", 422),
        ("/api/v1/search?q=a&sort=sideways", 422),
        ("/api/v1/search?q=a&cursor=%%%", 422),
        ("/api/v1/search?q=a&year=tomorrow", 400),
        ("/api/v1/statements/no-such-id", 404),
        ("/api/v1/nothing-here", 404),
    ],
)
def test_every_error_has_one_shape(client: TestClient, path: str, status: int) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == status


def test_query_syntax_error_names_the_position(client: TestClient) -> None:
    body = client.get("/api/v1/search", params={"q": 'china "new era'}).json()
    assert body["errors"][0]["position"] == len('china "new era')
    assert "quote" in body["detail"]


def test_timeline_matches_brute_force_per_year(client: TestClient, slices: list[Statement]) -> None:
    body = client.get(
        "/api/v1/timeline", params=[("q", '"strategic partnership"'), ("q", "新时代")]
    ).json()
    rows = [(s.id, s.date.year, p.text) for s in slices for p in s.passages]
    for series, phrase in zip(body["series"], ["strategic partnership", "新时代"], strict=True):
        expected = bruteforce.count(rows, phrase)["per_year"]
        got = {
            int(r["period"]): (r["statements"], r["occurrences"])
            for r in series["rows"]
            if r["statements"]
        }
        assert got == expected
    years = {int(r["period"]) for r in body["series"][0]["rows"]}
    corpus_years = {s.date.year for s in slices}
    # Every year between the first and last is listed; those without text say so.
    assert years == set(range(min(years), max(years) + 1))
    for r in body["series"][0]["rows"]:
        assert r["has_corpus"] == (int(r["period"]) in corpus_years)
        if not r["has_corpus"]:
            assert r["per_10k_tokens"] is None


def test_timeline_csv_and_limits(client: TestClient) -> None:
    r = client.get("/api/v1/timeline", params={"q": "china", "format": "csv", "smoothing": 3})
    assert r.status_code == 200 and r.text.startswith("query,period,statements")
    too_many = [("q", f"w{i}") for i in range(11)]
    assert client.get("/api/v1/timeline", params=too_many).status_code == 422
    assert client.get("/api/v1/timeline", params={"q": "a", "smoothing": 2}).status_code == 422


def test_query_help(client: TestClient) -> None:
    body = client.get("/api/v1/help/query").json()
    assert body["limits"]["max_clauses"] == 64
    for example in body["examples"]:
        assert client.get("/api/v1/search", params={"q": example, "limit": 1}).status_code == 200


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=st.text(max_size=80))
def test_any_query_is_answered_or_refused_never_500(client: TestClient, q: str) -> None:
    r = client.get("/api/v1/search", params={"q": q, "limit": 1, "snippets": 1})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["errors"][0]["position"] is not None
