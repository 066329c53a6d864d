"""Statement diffs and discovery over the slices: alignment, offsets, formulas with the
passages carrying them (checked by brute force), recurring n-grams and keyness counts."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.analysis.lexicon import load_formulas
from app.cli import main
from app.config import Settings
from app.services import discovery
from indexer.model import Statement
from tests import bruteforce


def _by_id(slices: list[Statement]) -> dict[str, Statement]:
    return {s.id: s for s in slices}


def test_roundup_diff_offsets_formulas_and_addressees(
    client: TestClient, settings: Settings, slices: list[Statement]
) -> None:
    r = client.get("/api/v1/diff", params={"a": "kremlin-56543", "b": "kremlin-62521"})
    assert r.status_code == 200, r.text
    body = r.json()
    a, b = _by_id(slices)["kremlin-56543"], _by_id(slices)["kremlin-62521"]
    c = body["counts"]
    assert c["equal"] + c["changed"] + c["removed"] == len(a.passages) == 41
    assert c["equal"] + c["changed"] + c["added"] == len(b.passages) == 43
    # Both dated Dec 30, both messages from the same source and speaker.
    assert body["metadata"] == []
    # Every word op points into the passage texts.
    for p in body["passages"]:
        for s in p["sentences"]:
            for op in s["ops"]:
                if p["a_number"] is not None:
                    text_a = a.passages[p["a_number"]].text
                    assert text_a[op["a_start"] : op["a_end"]] == op["a_text"]
                if p["b_number"] is not None:
                    text_b = b.passages[p["b_number"]].text
                    assert text_b[op["b_start"] : op["b_end"]] == op["b_text"]
    # Formulas: counts and the passages carrying them, by brute force over each passage.
    lexicon = {f.id: f for f in load_formulas(settings.corpus_dir / "formulas.yaml")}

    def carried(st: Statement, fid: str) -> list[dict[str, int]]:
        f = lexicon[fid]
        variants = [v for lang in f.languages for v in f.variants[lang]]
        rows = [
            {
                "passage": p.number,
                "occurrences": sum(bruteforce.occurrences(p.text, v) for v in variants),
            }
            for p in st.passages
        ]
        return [x for x in rows if x["occurrences"]]

    seen = set()
    for status in ("added", "dropped", "kept"):
        for f in body["formulas"][status]:
            seen.add(f["formula_id"])
            assert f["passages_a"] == carried(a, f["formula_id"])
            assert f["passages_b"] == carried(b, f["formula_id"])
            assert f["count_a"] == sum(x["occurrences"] for x in f["passages_a"])
            assert (status == "added") == (f["count_a"] == 0 < f["count_b"])
            assert (status == "dropped") == (f["count_b"] == 0 < f["count_a"])
    # Nothing of the lexicon is missed.
    assert seen == {fid for fid in lexicon if carried(a, fid) or carried(b, fid)}
    assert {x["country"] for x in body["addressees"]["only_b"] if x["country"]} == {
        "Croatia",
        "Greece",
        "Sweden",
    }


def test_diff_errors(client: TestClient) -> None:
    r = client.get("/api/v1/diff", params={"a": "kremlin-56543", "b": "no-such-statement"})
    assert (r.status_code, r.json()["detail"]) == (404, "no statement with id 'no-such-statement'")
    assert client.get("/api/v1/diff", params={"a": "kremlin-56543"}).status_code == 422


def test_recurring_ngrams_of_the_roundups(client: TestClient, slices: list[Statement]) -> None:
    body = client.get(
        "/api/v1/discover", params={"mode": "ngrams", "series": "kremlin-new-year-roundups"}
    ).json()
    ng = body["ngrams"]
    assert ng["subcorpus"]["statements"] == 2 and ng["subcorpus"]["years"] == [2017, 2019]
    assert body["keyness"] is None
    docs = {2017: _by_id(slices)["kremlin-56543"], 2019: _by_id(slices)["kremlin-62521"]}
    for gram in ng["results"][:5]:
        assert gram["support"] == 2
        expected = {
            str(y): sum(bruteforce.occurrences(p.text, gram["text"]) for p in st.passages)
            for y, st in docs.items()
        }
        assert gram["per_year"] == expected
        assert gram["total"] == sum(expected.values())


def test_keyness_of_two_periods(client: TestClient, slices: list[Statement]) -> None:
    params = {
        "mode": "keyness",
        "lang": "zh",
        "target_years": "2017..2023",
        "reference_years": "1954..2011",
    }
    body = client.get("/api/v1/discover", params=params).json()["keyness"]
    zh = [s for s in slices if s.language == "zh"]
    target = [p.text for s in zh if 2017 <= s.date.year <= 2023 for p in s.passages]
    reference = [p.text for s in zh if s.date.year <= 2011 for p in s.passages]
    assert body["target"]["tokens"] == sum(len(bruteforce.tokens(t)) for t in target)
    assert body["reference"]["tokens"] == sum(len(bruteforce.tokens(t)) for t in reference)
    top = body["results"][0]
    assert top["direction"] == "over" and top["log_likelihood"] >= 3.84
    assert top["freq_target"] == sum(bruteforce.occurrences(t, top["term"]) for t in target)
    assert top["freq_reference"] == sum(bruteforce.occurrences(t, top["term"]) for t in reference)
    lls = [t["log_likelihood"] for t in body["results"]]
    assert lls == sorted(lls, reverse=True)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"mode": "keyness"}, 422),
        ({"mode": "ngrams", "series": "no-such-series"}, 404),
        ({"mode": "ngrams", "min_n": 3, "max_n": 2}, 422),
        ({"mode": "sideways"}, 422),
    ],
)
def test_discover_errors(client: TestClient, params: dict[str, object], status: int) -> None:
    r = client.get("/api/v1/discover", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_discover_refuses_a_subcorpus_too_large_to_read(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery, "MAX_STATEMENTS", 10)
    r = client.get("/api/v1/discover", params={"mode": "ngrams", "q": "the"})
    assert r.status_code == 413
    assert "at most 10 can be read" in r.json()["detail"]


def test_cli_diff(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIFA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TIFA_CORPUS_DIR", str(settings.corpus_dir))
    assert main(["diff", "kremlin-56543", "kremlin-62521"]) == 0
    out = capsys.readouterr().out
    assert "greeted in B only: Prime Minister of Greece Kyriakos Mitsotakis (Greece)" in out
    args = ["diff", "--series", "kremlin-new-year-roundups", "--from", "2017", "--to", "2019"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "greeted in 2019 only: President of Croatia Kolinda Grabar-Kitarovic (Croatia)" in out
    assert main(["diff", "kremlin-56543"]) == 2
    assert main(["formulas", "new-era"]) == 0
    assert "新时代" in capsys.readouterr().out
