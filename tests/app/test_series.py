"""Series routes and CLI: the seed commentary's four points as of 2020-12-29, what was
known by 2021-01-02, unknown years, and the Kremlin round-ups 2017 → 2019 checked
against a brute-force reading of the raw texts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from app.cli import main
from app.config import Settings
from tests import bruteforce

DATA = Path(__file__).parents[1] / "data"
PROVISIONAL = " (provisional: the usual date, Dec 31 2020, is after as of 2020-12-29)"


def _anomalies(client: TestClient, year: int, as_of: str) -> dict[str, object]:
    r = client.get(
        "/api/v1/series/china-russia-new-year/anomalies", params={"year": year, "as_of": as_of}
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def _short(items: object) -> list[tuple[object, ...]]:
    assert isinstance(items, list)
    return [
        (
            a.get("kind"),
            a["level"],
            a["description"],
            a["support"],
            a["total"],
            a.get("provisional"),
            [e["date"] for e in a["evidence"]],
        )
        for a in items
    ]


def test_seed_commentary_as_of_2020_12_29(client: TestClient) -> None:
    body = _anomalies(client, 2020, "2020-12-29")
    anomalies = body.pop("anomalies")
    formulas = body.pop("formulas")
    assert body == {
        "series": "china-russia-new-year",
        "year": 2020,
        "as_of": "2020-12-29",
        "recorded": True,
        "previous_years": [2016, 2017, 2018, 2019],
        "unknown_years": [],
        "norms": [
            "heads of state: 4 of 4 previous recorded years: messages on Dec 31",
            "heads of government: 2 of 4 previous recorded years: messages on Dec 31",
        ],
        "confirmations": [],
        "statements": [],
    }
    # 1. a phone call instead of messages; 2. three days early; 3. no premiers' exchange.
    assert _short(anomalies)[:3] == [
        (
            "channel",
            "heads of state",
            "heads-of-state exchange by phone call instead of messages" + PROVISIONAL,
            4,
            4,
            True,
            ["2020-12-28"],
        ),
        (
            "timing",
            "heads of state",
            "heads-of-state phone call on Dec 28: 3 days before the usual Dec 31" + PROVISIONAL,
            4,
            4,
            True,
            ["2020-12-28"],
        ),
        (
            "missing_level",
            "heads of government",
            "no heads-of-government exchange recorded as of 2020-12-29" + PROVISIONAL,
            2,
            4,
            True,
            [],
        ),
    ]
    # 4. the formulas: no 2020 text of the series is in the corpus, so every year is read
    # from the facts' summaries (paraphrases quoting the readouts), and it says so.
    assert isinstance(formulas, dict)
    assert formulas["basis"] == (
        "compared with 2019, from the event summaries in the series facts (paraphrases "
        "quoting the readouts; no texts of 2020 published by 2020-12-29)"
    )
    assert [(a[0], a[2]) for a in _short(anomalies)[3:]] == [
        (
            "formula_dropped",
            "formula 'new-era' absent in 2020; 1 occurrence in 2019, the previous recorded year",
        ),
        (
            "formula_dropped",
            "formula 'strategic-stability' absent in 2020; 1 occurrence in "
            "2019, the previous recorded year",
        ),
        (
            "formula_added",
            "formula 'core-interests' used in 2020 (1 occurrence), absent in "
            "2019, the previous recorded year",
        ),
        (
            "formula_added",
            "formula 'treaty-of-good-neighbourliness' used in 2020 (1 "
            "occurrence), absent in 2019, the previous recorded year",
        ),
    ]
    # The counts, against a brute-force reading of the summaries known by then.
    facts = Path(__file__).parents[2] / "corpus/series/china_russia_new_year_exchanges.jsonl"
    lexicon = yaml.safe_load((Path(__file__).parents[2] / "corpus/formulas.yaml").read_text())
    entries = lexicon["formulas"] if isinstance(lexicon, dict) else lexicon
    variants = {f["id"]: [v for vs in f["variants"].values() for v in vs] for f in entries}
    events = [json.loads(line) for line in facts.read_text(encoding="utf-8").splitlines()]
    for year in ("2019", "2020"):
        texts = [
            e["summary"] for e in events if e["date"][:4] == year and e["date"] <= "2020-12-29"
        ]
        for fid, n in formulas["counts"][year].items():
            assert n == sum(bruteforce.occurrences(t, v) for t in texts for v in variants[fid])


def test_as_of_2021_01_02_the_usual_exchanges_took_place(client: TestClient) -> None:
    body = _anomalies(client, 2020, "2021-01-02")
    assert _short(body["confirmations"]) == [
        (
            None,
            "heads of state",
            "heads-of-state messages on Dec 31, as usual",
            4,
            4,
            None,
            ["2020-12-31"],
        ),
        (
            None,
            "heads of government",
            "heads-of-government messages on Dec 31, as usual",
            2,
            4,
            None,
            ["2020-12-31"],
        ),
    ]
    assert _short(body["anomalies"])[:2] == [
        (
            "addition",
            "heads of state",
            "heads-of-state phone call on Dec 28 in addition to the usual messages on Dec 31",
            0,
            4,
            False,
            ["2020-12-28"],
        ),
        (
            "addition",
            "foreign ministers",
            "foreign-ministers messages on Dec 31: the first foreign-ministers exchange on record",
            0,
            4,
            False,
            ["2020-12-31"],
        ),
    ]
    assert body["formulas"]["basis"].startswith(  # type: ignore[index]
        "compared with 2019, from the event summaries in the series facts"
    )


def test_a_year_without_record_is_unknown(client: TestClient) -> None:
    body = _anomalies(client, 2023, "2026-01-31")
    assert (body["recorded"], body["anomalies"], body["confirmations"]) == (False, [], [])
    view = client.get("/api/v1/series/china-russia-new-year", params={"as_of": "2026-01-31"}).json()
    y2023 = next(y for y in view["years"] if y["year"] == 2023)
    assert y2023 == {
        "year": 2023,
        "status": "unknown",
        "events": [],
        "statements": [],
        "formula_counts": None,
        "roundup_id": None,
        "addressees": None,
    }


def test_series_view_links_kremlin_statements(client: TestClient) -> None:
    view = client.get("/api/v1/series/china-russia-new-year", params={"as_of": "2020-12-29"}).json()
    assert view["as_of"] == "2020-12-29"
    years = {y["year"]: y for y in view["years"]}
    assert [e["date"] for e in years[2020]["events"]] == ["2020-12-28"]  # known by then
    assert years[2020]["events"][0]["channel"] == "phone call"
    linked = [
        (s["id"], s["link"], s["passages"])
        for y in (2017, 2019)
        for s in years[y]["statements"]
        if s["link"] == "facts"
    ]
    # Only the passage addressed to Xi Jinping belongs to the China–Russia exchange.
    assert linked == [("kremlin-56543", "facts", [14]), ("kremlin-62521", "facts", [7])]
    assert years[2016]["status"] == "recorded" and years[2016]["statements"] == []


def test_series_list(client: TestClient) -> None:
    body = client.get("/api/v1/series").json()
    assert body["total"] == 2 and body["next"] is None
    by_id = {s["id"]: s for s in body["results"]}
    assert by_id["china-russia-new-year"]["recorded_years"] == [
        2016,
        2017,
        2018,
        2019,
        2020,
        2021,
        2022,
        2024,
        2025,
    ]
    assert by_id["kremlin-new-year-roundups"]["recorded_years"] == []
    assert by_id["china-russia-new-year"]["usual_month_day"] == "12-31"


# ---- the round-ups, read independently ----------------------------------------------------

# Country names and adjectives as the two round-ups write them (read off the raw texts).
COUNTRY_FORMS = {
    "Abkhazia": "Abkhazia",
    "Argentine": "Argentina",
    "Argentina": "Argentina",
    "Armenia": "Armenia",
    "Armenian": "Armenia",
    "Azerbaijan": "Azerbaijan",
    "Belarus": "Belarus",
    "Brazil": "Brazil",
    "Canada": "Canada",
    "China": "China",
    "Croatia": "Croatia",
    "Cuba": "Cuba",
    "Czech": "Czech Republic",
    "Finland": "Finland",
    "Finnish": "Finland",
    "France": "France",
    "French": "France",
    "Germany": "Germany",
    "German": "Germany",
    "Greece": "Greece",
    "Hungary": "Hungary",
    "Hungarian": "Hungary",
    "India": "India",
    "Indian": "India",
    "Israel": "Israel",
    "Italy": "Italy",
    "Italian": "Italy",
    "Japan": "Japan",
    "Kazakhstan": "Kazakhstan",
    "Korea": "South Korea",
    "Kyrgyzstan": "Kyrgyzstan",
    "Moldova": "Moldova",
    "Monaco": "Monaco",
    "Serbia": "Serbia",
    "Slovenia": "Slovenia",
    "South Ossetia": "South Ossetia",
    "South Africa": "South Africa",
    "South African": "South Africa",
    "Spain": "Spain",
    "Sweden": "Sweden",
    "Syria": "Syria",
    "Syrian": "Syria",
    "Tajikistan": "Tajikistan",
    "Turkey": "Turkey",
    "Turkmenistan": "Turkmenistan",
    "United Kingdom": "United Kingdom",
    "United States": "United States",
    "Uzbekistan": "Uzbekistan",
    "Venezuela": "Venezuela",
    "Vietnam": "Vietnam",
    "Vietnamese": "Vietnam",
    "Pope": "Vatican",  # the Pope greeted as head of the Holy See
}
_FORMS = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, COUNTRY_FORMS), key=len, reverse=True)) + r")\b"
)
_ADDRESSED = re.compile(r"(?:\bto|Addressing)\s+(?:the\s+)?(?=[A-Z])(?P<who>[^,.]*)")


def brute_force_countries(kremlin_id: str) -> set[str]:
    """Countries greeted in a round-up: in each paragraph of the raw text, the first country
    named in the words after the first "to X" / "Addressing X" up to a comma or full stop."""
    with (DATA / "kremlin_slice.jsonl").open(encoding="utf-8") as fh:
        raw = next(r for r in map(json.loads, fh) if str(r["id"]) == kremlin_id)
    found = set()
    for paragraph in raw["text"].split("\n"):
        m = _ADDRESSED.search(paragraph)
        if m and (c := _FORMS.search(m.group("who"))):
            found.add(COUNTRY_FORMS[c.group(1)])
    return found


def test_roundups_2017_to_2019_addressees_against_brute_force(client: TestClient) -> None:
    r = client.get(
        "/api/v1/series/kremlin-new-year-roundups/diff", params={"from": 2017, "to": 2019}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["year_from"]["roundup_id"], body["year_to"]["roundup_id"]) == (
        "kremlin-56543",
        "kremlin-62521",
    )
    a, b = brute_force_countries("56543"), brute_force_countries("62521")
    assert len(a) > 30 and len(b) > 30
    addressees = body["addressees"]
    only_2017 = {x["country"] for x in addressees["only_a"] if x["country"]}
    only_2019 = {x["country"] for x in addressees["only_b"] if x["country"]}
    assert only_2017 == a - b
    assert only_2019 == b - a == {"Croatia", "Greece", "Sweden"}
    both = {m["a"]["country"] for m in addressees["both"] if m["by"] == "country"}
    assert both == a & b
    # Greetings without a country (international organisations, former leaders) are
    # listed by name on each side rather than dropped.
    assert any("Guterres" in x["name"] for x in addressees["only_a"])
    # The main statements are the two round-ups, aligned by addressee.
    st = body["statements"]
    assert (st["a"]["id"], st["b"]["id"]) == ("kremlin-56543", "kremlin-62521")
    assert {p["aligned_by"] for p in st["passages"] if p["status"] == "changed"} == {"addressee"}


def test_roundups_years_between_are_unknown(client: TestClient) -> None:
    view = client.get("/api/v1/series/kremlin-new-year-roundups").json()
    assert [(y["year"], y["status"], y["roundup_id"]) for y in view["years"]] == [
        (2017, "texts only", "kremlin-56543"),
        (2018, "unknown", None),
        (2019, "texts only", "kremlin-62521"),
    ]


def test_series_diff_2019_to_2020_as_of_the_commentary(client: TestClient) -> None:
    body = client.get(
        "/api/v1/series/china-russia-new-year/diff",
        params={"from": 2019, "to": 2020, "as_of": "2020-12-29"},
    ).json()
    (heads,) = body["levels"]
    assert heads["level"] == "heads of state" and heads["status"] == "both"
    assert heads["usual"] == "messages on Dec 31"
    assert (heads["shift_from"], heads["shift_to"]) == (0, -3)
    assert [c["field"] for c in heads["changes"]] == ["date", "channel"]
    assert heads["changes"][1]["description"] == "channel: messages → phone call"
    assert body["formulas"] is None
    assert body["formula_basis"] == "unknown: no texts of 2020 published by 2020-12-29"
    assert body["statements"] is None and body["addressees"] is None
    later = client.get(
        "/api/v1/series/china-russia-new-year/diff",
        params={"from": 2019, "to": 2020, "as_of": "2021-01-02"},
    ).json()
    levels = {lv["level"]: lv["status"] for lv in later["levels"]}
    assert levels == {
        "heads of state": "both",
        "heads of government": "to only",
        "foreign ministers": "to only",
    }


@pytest.mark.parametrize(
    ("url", "params", "status"),
    [
        ("/api/v1/series/no-such-series", {}, 404),
        ("/api/v1/series/no-such-series/anomalies", {"year": 2020}, 404),
        ("/api/v1/series/china-russia-new-year/anomalies", {}, 422),
        ("/api/v1/series/china-russia-new-year/anomalies", {"year": 20200}, 422),
        ("/api/v1/series/china-russia-new-year/diff", {"from": 2019, "to": 2019}, 422),
        ("/api/v1/series/china-russia-new-year/diff", {"from": 2019}, 422),
        ("/api/v1/series/china-russia-new-year", {"as_of": "2020-13-01"}, 422),
    ],
)
def test_series_errors(
    client: TestClient, url: str, params: dict[str, object], status: int
) -> None:
    r = client.get(url, params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == status


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIFA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TIFA_CORPUS_DIR", str(settings.corpus_dir))


def test_cli_anomalies(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["anomalies", "china-russia-new-year", "--year", "2020", "--as-of", "2020-12-29"]) == 0
    )
    out = capsys.readouterr().out
    assert "! channel: heads-of-state exchange by phone call instead of messages" in out
    assert "! timing: heads-of-state phone call on Dec 28: 3 days before the usual Dec 31" in out
    assert "! missing_level: no heads-of-government exchange recorded" in out
    assert "formulas: compared with 2019, from the event summaries" in out
    assert main(["anomalies", "china-russia-new-year", "--year", "2020", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recorded"] is True


def test_cli_series_and_errors(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["series"]) == 0
    assert "kremlin-new-year-roundups" in capsys.readouterr().out
    assert main(["series", "kremlin-new-year-roundups"]) == 0
    out = capsys.readouterr().out
    assert "2018  unknown" in out and "round-up greets 41 addressees" in out
    assert main(["series", "nope"]) == 2
    assert "no series with id 'nope'" in capsys.readouterr().err
    assert main(["anomalies", "china-russia-new-year", "--year", "2020", "--as-of", "soon"]) == 2
