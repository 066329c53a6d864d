"""Formula routes: the lexicon with exact totals, one formula's attestations, timelines
checked against a brute-force count of the slices, CSV export, errors, OpenAPI."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from app.analysis.lexicon import load_formulas
from app.config import Settings
from indexer.model import Statement
from tests import bruteforce


def _variants(settings: Settings, formula_id: str) -> list[str]:
    (formula,) = [
        f for f in load_formulas(settings.corpus_dir / "formulas.yaml") if f.id == formula_id
    ]
    return [v for lang in formula.languages for v in formula.variants[lang]]


def _per_year(rows: list[tuple[str, int, str]], variants: list[str]) -> dict[str, tuple[int, int]]:
    """Brute force: per year, statements with any variant and occurrences of all variants."""
    statements: dict[int, set[str]] = {}
    occurrences: dict[int, int] = {}
    for v in variants:
        per_year = bruteforce.count(rows, v)["per_year"]
        assert isinstance(per_year, dict)
        for year in per_year:
            occurrences[year] = occurrences.get(year, 0) + per_year[year][1]
    for sid, year, text in rows:
        if any(bruteforce.occurrences(text, v) for v in variants):
            statements.setdefault(year, set()).add(sid)
    return {str(y): (len(statements[y]), occurrences[y]) for y in sorted(statements)}


@pytest.mark.parametrize(
    ("formula_id", "phrase"),
    [("new-era", "新时代"), ("community-with-shared-future", "人类命运共同体")],
)
def test_formula_timeline_over_govzh_matches_brute_force(
    client: TestClient,
    settings: Settings,
    slices: list[Statement],
    formula_id: str,
    phrase: str,
) -> None:
    zh = [(s.id, s.date.year, p.text) for s in slices if s.language == "zh" for p in s.passages]
    body = client.get(f"/api/v1/formulas/{formula_id}/timeline", params={"lang": "zh"}).json()
    assert body["formula"] == formula_id
    # All variants counted as one, in the Chinese corpus.
    got = {
        r["period"]: (r["statements"], r["occurrences"]) for r in body["rows"] if r["statements"]
    }
    assert got == _per_year(zh, _variants(settings, formula_id))
    # The Chinese variant alone, per year, against the Chinese corpus.
    brute = bruteforce.count(zh, phrase)["per_year"]
    assert isinstance(brute, dict)
    zh_rows = body["by_language"]["zh"]
    assert {
        r["period"]: (r["statements"], r["occurrences"]) for r in zh_rows if r["statements"]
    } == {str(y): c for y, c in brute.items()}
    assert brute, "the slice holds the formula"
    corpus_years = {s.date.year for s in slices if s.language == "zh"}
    for r in zh_rows:
        assert r["has_corpus"] is (int(r["period"]) in corpus_years)
        if not r["has_corpus"]:
            assert (r["per_10k_tokens"], r["share_of_statements"]) == (None, None)


def test_formula_list_totals_agree_with_search(client: TestClient) -> None:
    body = client.get("/api/v1/formulas").json()
    assert body["total"] == len(body["results"]) == 52
    assert body["next"] is None
    by_id = {f["id"]: f for f in body["results"]}
    for fid in ("new-era", "brics", "shanghai-cooperation-organisation", "no-limits"):
        f = by_id[fid]
        total = client.get("/api/v1/search", params={"q": f["query"], "limit": 1}).json()["total"]
        assert (f["statements"], f["occurrences"]) == (total["statements"], total["occurrences"])


def test_one_formula_whole_body(client: TestClient, slices: list[Statement]) -> None:
    body = client.get("/api/v1/formulas/community-with-shared-future").json()
    rows = [(s, p.text) for s in slices for p in s.passages]
    variants = [
        "community with a shared future for mankind",
        "community of shared future for mankind",
        "community with a shared future for humanity",
        "community of common destiny",
        "人类命运共同体",
        "сообщество единой судьбы человечества",
        "сообщества единой судьбы человечества",
    ]
    hits = [(s, sum(bruteforce.occurrences(t, v) for v in variants)) for s, t in rows]
    hits = [(s, n) for s, n in hits if n]
    statements = sorted({s.id: s for s, _ in hits}.values(), key=lambda s: (s.date, s.id))
    first, last = statements[0], statements[-1]
    last_year = max(s.date.year for s in slices)
    assert body["totals"] == {
        "statements": len(statements),
        "passages": len(hits),
        "occurrences": sum(n for _, n in hits),
    }
    assert body["first"] == {
        "statement_id": first.id,
        "date": first.date.isoformat(),
        "title": first.title,
        "source": first.source,
    }
    assert body["last"]["statement_id"] == last.id
    assert body["corpus_last_year"] == last_year
    assert body["absent_since"] == (last.date.isoformat() if last.date.year < last_year else None)
    assert [lt["language"] for lt in body["by_language"]] == ["en", "zh", "ru"]
    assert sum(lt["occurrences"] for lt in body["by_language"]) == body["totals"]["occurrences"]
    assert body["variants"]["zh"] == ["人类命运共同体"]
    assert body["query"].split(" OR ")[-3] == '"人类命运共同体"'


def test_as_of_restricts_attestations(client: TestClient) -> None:
    later = client.get("/api/v1/formulas/new-era").json()
    earlier = client.get("/api/v1/formulas/new-era", params={"as_of": "2017-12-31"}).json()
    assert earlier["last"]["date"] <= "2017-12-31" < later["last"]["date"]
    assert earlier["totals"]["occurrences"] < later["totals"]["occurrences"]


def test_timeline_csv(client: TestClient) -> None:
    r = client.get("/api/v1/formulas/new-era/timeline", params={"format": "csv", "lang": "zh"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    body = client.get("/api/v1/formulas/new-era/timeline", params={"lang": "zh"}).json()
    assert len(rows) == len(body["rows"]) * 4  # all + en, zh, ru
    zh2018 = next(x for x in rows if x["language"] == "zh" and x["period"] == "2018")
    want = next(x for x in body["by_language"]["zh"] if x["period"] == "2018")
    assert int(zh2018["occurrences"]) == want["occurrences"]


@pytest.mark.parametrize(
    ("url", "params", "status"),
    [
        ("/api/v1/formulas/no-such-formula", {}, 404),
        ("/api/v1/formulas/no-such-formula/timeline", {}, 404),
        ("/api/v1/formulas/new-era/timeline", {"smoothing": 2}, 422),
        ("/api/v1/formulas/new-era/timeline", {"interval": "week"}, 422),
        ("/api/v1/formulas/new-era", {"as_of": "yesterday"}, 422),
    ],
)
def test_errors_are_problem_details(
    client: TestClient, url: str, params: dict[str, object], status: int
) -> None:
    r = client.get(url, params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["type"] == "about:blank"
    assert set(body) >= {"type", "title", "status", "detail"}


NEW_ROUTES = [
    "/api/v1/formulas",
    "/api/v1/formulas/{formula_id}",
    "/api/v1/formulas/{formula_id}/timeline",
    "/api/v1/series",
    "/api/v1/series/{series_id}",
    "/api/v1/series/{series_id}/anomalies",
    "/api/v1/series/{series_id}/diff",
    "/api/v1/diff",
    "/api/v1/discover",
]


def test_openapi_lists_the_new_routes_with_descriptions(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in NEW_ROUTES:
        op = spec["paths"][path]["get"]
        assert op["summary"] and op["description"], path
    schemas = spec["components"]["schemas"]
    assert schemas["FormulaOut"]["properties"]["absent_since"]["description"]
    assert schemas["AnomaliesOut"]["properties"]["recorded"]["description"]
    assert schemas["SeriesYearOut"]["properties"]["status"]["description"]
