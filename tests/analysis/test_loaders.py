"""Loaders: the shipped lexicon and series definitions load; broken files fail with an
error naming the formula, series or line."""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from pathlib import Path

import pytest

from app.analysis.lexicon import LANGUAGES, load_formulas
from app.analysis.series import Report
from app.analysis.series_def import load_facts, load_series

ROOT = Path(__file__).resolve().parents[2]
FORMULAS = ROOT / "corpus" / "formulas.yaml"
SERIES = ROOT / "corpus" / "series"
FACTS = Path(__file__).parent / "data" / "china_russia_new_year_exchanges.jsonl"


def test_shipped_lexicon_loads() -> None:
    formulas = load_formulas(FORMULAS)
    assert len(formulas) >= 30
    by_id = {f.id: f for f in formulas}
    shared = by_id["community-with-shared-future"]
    assert "community of common destiny" in shared.variants["en"]
    assert shared.variants["zh"] == ("人类命运共同体",)
    assert shared.languages == ("en", "zh", "ru")
    partnership = by_id["comprehensive-strategic-partnership-of-coordination"]
    assert "comprehensive partnership and strategic interaction" in partnership.variants["en"]
    assert all(f.notes and f.tags for f in formulas)
    assert all(set(f.variants) <= set(LANGUAGES) for f in formulas)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


GOOD = """\
    - id: new-era
      label: New era
      variants: {en: [new era], zh: [新时代]}
      languages: [en, zh]
      notes: test
      tags: [china]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + GOOD, "formula id 'new-era' is defined twice"),
        ("- id: New Era\n  label: x\n  variants: {en: [a]}\n", "must be a lowercase slug"),
        ("- id: x\n  variants: {en: [a]}\n", "formula 'x': 'label' is required"),
        ("- id: x\n  label: X\n  variants: {}\n", "formula 'x': 'variants' must map"),
        (
            "- id: x\n  label: X\n  variants: {en: []}\n",
            "formula 'x': variants for 'en' must be a non-empty",
        ),
        (
            "- id: x\n  label: X\n  variants: {de: [Zeitenwende]}\n",
            "formula 'x': unknown language 'de'",
        ),
        (
            "- id: x\n  label: X\n  variants: {en: ['...']}\n",
            "formula 'x': en variant '...' holds no words",
        ),
        (
            "- id: x\n  label: X\n  variants: {en: [New Era, new-era]}\n",
            "formula 'x': en variants 'New Era' and 'new-era' are the same",
        ),
        (
            "- id: x\n  label: X\n  variants: {zh: [新时代, 进入新时代]}\n",
            "formula 'x': zh variants '新时代' and '进入新时代' overlap",
        ),
        (
            "- id: x\n  label: X\n  variants: {en: [a b]}\n  languages: [en, zh]\n",
            "formula 'x': 'languages'",
        ),
        (
            "- id: x\n  label: X\n  variants: {en: [a b]}\n  source: me\n",
            "formula 'x': unknown keys ['source']",
        ),
        (
            "- id: x\n  label: X\n  variants: {en: [new era]}\n"
            "- id: y\n  label: Y\n  variants: {en: [New-Era]}\n",
            "formula 'y': en variant 'New-Era' already belongs to formula 'x'",
        ),
        ("formulas: 3\n", "expected a list of formulas"),
        ("- id: x\n  label: [unclosed\n", "not valid YAML"),
    ],
)
def test_broken_lexicon(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "formulas.yaml", text)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_formulas(path)


def test_good_lexicon_file(tmp_path: Path) -> None:
    (formula,) = load_formulas(_write(tmp_path, "formulas.yaml", GOOD))
    assert (formula.id, formula.variants, formula.languages) == (
        "new-era",
        {"en": ("new era",), "zh": ("新时代",)},
        ("en", "zh"),
    )


def test_shipped_series_load_and_track_known_formulas() -> None:
    known = {f.id for f in load_formulas(FORMULAS)}
    series = {s.id: s for s in load_series(SERIES, known)}
    assert set(series) == {"china-russia-new-year", "kremlin-new-year-roundups"}
    china = series["china-russia-new-year"]
    assert china.facts == "china_russia_new_year_exchanges.jsonl"
    assert china.facts_path() == SERIES / "china_russia_new_year_exchanges.jsonl"
    assert china.filter.query.startswith('"New Year"')
    assert "new-era" in china.formulas
    assert series["kremlin-new-year-roundups"].facts_path() is None


SERIES_GOOD = """\
id: s
title: S
occasion: new-year
facts: s.jsonl
filter: {query: '"New Year" Xi', kinds: [message]}
formulas: [new-era]
"""


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (("title: S\n", ""), "series 's': 'title' is required"),
        (("id: s\n", "id: S S\n"), "'id' must be a lowercase slug"),
        (("facts: s.jsonl", "facts: ../s.jsonl"), "series 's': 'facts' must be a relative .jsonl"),
        (("facts: s.jsonl", "facts: s.csv"), "'facts' must be a relative .jsonl"),
        (("'\"New Year\" Xi'", "'\"New Year Xi'"), "unclosed double quote"),
        (("'\"New Year\" Xi'", "'(Xi'"), "unbalanced parentheses"),
        (("kinds: [message]", "kinds: [letter]"), "unknown kinds ['letter']"),
        (("[new-era]", "[new-era, no-such]"), "formulas not in the lexicon: ['no-such']"),
        (("[new-era]", "[new-era, new-era]"), "lists an id twice"),
        (
            ("occasion: new-year\n", "occasion: new-year\nusual_month_day: 1231\n"),
            "'usual_month_day' must be 'MM-DD'",
        ),
        (("occasion: new-year\n", "occasion: new-year\nowner: me\n"), "unknown keys ['owner']"),
        (("filter: {query: '\"New Year\" Xi', kinds: [message]}\n", ""), "'filter' is required"),
    ],
)
def test_broken_series(tmp_path: Path, replace: tuple[str, str], message: str) -> None:
    assert replace[0] in SERIES_GOOD
    _write(tmp_path, "s.yaml", SERIES_GOOD.replace(*replace))
    with pytest.raises(ValueError, match=re.escape(message)):
        load_series(tmp_path, {"new-era"})


def test_duplicate_series_ids(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", SERIES_GOOD)
    _write(tmp_path, "b.yaml", SERIES_GOOD)
    with pytest.raises(ValueError, match=r"series id 's' already defined in .*a\.yaml"):
        load_series(tmp_path)


def test_missing_series_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_series(tmp_path / "nope")


def test_facts_load() -> None:
    events = load_facts(FACTS)
    assert len(events) == 19
    call = events[9]
    assert (call.date, call.level, call.channel, call.participants) == (
        dt.date(2020, 12, 28),
        "heads of state",
        "phone call",
        ("Xi Jinping", "Vladimir Putin"),
    )
    assert call.reported_by[0] == Report(
        "PRC MFA (embassy mirror)", "http://au.china-embassy.org/eng/zgxw_4/t1843339.htm", "en"
    )
    assert events[10].note is not None and events[10].note.startswith("Published after")
    assert events[0].published_on == dt.date(2016, 12, 31)


RECORD = {
    "date": "2020-12-31",
    "occasion": "new-year",
    "level": "heads of state",
    "channel": "messages",
    "participants": ["Xi Jinping", "Vladimir Putin"],
    "summary": "s",
    "reported_by": [{"outlet": "o", "url": None, "language": "en"}],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"date": "31.12.2020"}, "'date' is not a YYYY-MM-DD date"),
        ({"date": None}, "'date' is required"),
        ({"level": "presidents"}, "'level' must be one of"),
        ({"channel": "letter"}, "'channel' must be one of"),
        ({"participants": []}, "'participants' must name at least one person"),
        (
            {"reported_by": [{"outlet": "o", "url": "ftp://x"}]},
            "reported_by[0]: 'url' must be an http",
        ),
        ({"reported_by": "Xinhua"}, "'reported_by' must be a list"),
        ({"published": "later"}, "'published' is not a YYYY-MM-DD date"),
        ({"channel_note": "x"}, "unknown fields ['channel_note']"),
    ],
)
def test_broken_facts(tmp_path: Path, change: dict[str, object], message: str) -> None:
    good = json.dumps(RECORD)
    bad = json.dumps({**RECORD, **change})
    path = _write(tmp_path, "facts.jsonl", f"{good}\n\n{bad}\n")
    with pytest.raises(ValueError, match=re.escape(f"facts.jsonl:3: {message}")):
        load_facts(path)


def test_facts_not_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "facts.jsonl", "{not json}\n")
    with pytest.raises(ValueError, match=re.escape("facts.jsonl:1: not valid JSON")):
        load_facts(path)


def test_facts_published_and_links(tmp_path: Path) -> None:
    record = {
        **RECORD,
        "published": "2021-01-01",
        "initiated_by": "China",
        "statement_ids": ["k-1"],
    }
    path = _write(tmp_path, "facts.jsonl", json.dumps(record) + "\n")
    (event,) = load_facts(path)
    assert (event.published_on, event.initiated_by, event.statement_ids) == (
        dt.date(2021, 1, 1),
        "China",
        ("k-1",),
    )
