"""Presets for the shared corpora: each turns one raw record of a known corpus into a
canonical record (and, where the corpus knows better than blank lines, its passages).

`kremlin` (en.kremlin.ru pages), `ungdc` (UN General Debate), `govzh` (PRC government work
reports from zh.wikisource) and `canonical` (the plain format). Presets raise RecordError
for a record they cannot take; `records.build` turns that into a Rejection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import regex

from indexer.errors import InvalidInput
from indexer.model import Passage, RecordError, parse_date
from indexer.sources.addressees import find_addressee, is_continuation
from indexer.sources.records import CanonicalRecord, Preset, RawRecord, passages_field
from indexer.text import split_passages

# --- kremlin -------------------------------------------------------------------------

KREMLIN_SOURCE = "President of Russia (en.kremlin.ru)"
KREMLIN_LICENSE = "CC BY 4.0, attribution: President of Russia, en.kremlin.ru"
ROUNDUP_IDS = frozenset({56543, 62521})

# First match wins, so the narrow patterns ("telephone conversation") precede the broad
# ones ("conversation"). Titles before 2008 are whole sentences, later ones are headings.
KIND_RULES: tuple[tuple[str, regex.Pattern[str]], ...] = tuple(
    (kind, regex.compile(pattern, regex.IGNORECASE))
    for kind, pattern in (
        ("call", r"telephone|phone (?:call|conversation)|spoke (?:by|on the) (?:tele)?phone"),
        ("news", r"\bwill (?:meet|visit|hold|take part|have talks)\b"),
        ("message", r"message|greeting|congratulat|condolence"),
        (
            "readout",
            r"^meeting with|^talks with|conversation|\bmet with\b|\bmeeting\b|\btalks\b"
            r"|negotiations",
        ),
        ("statement", r"^statement|joint statement|declaration|\bstatement\b"),
        ("speech", r"address|speech|remarks|\bspoke at\b"),
        ("news", r"interview|news"),
    )
)
# The site's president on a given day (acting president from 31 December 1999).
_PRESIDENTS = (
    (dt.date(1999, 12, 31), dt.date(2008, 5, 6), "Vladimir Putin"),
    (dt.date(2008, 5, 7), dt.date(2012, 5, 6), "Dmitry Medvedev"),
    (dt.date(2012, 5, 7), dt.date.max, "Vladimir Putin"),
)
_ROUNDUP_TITLE = regex.compile(
    r"(?:greetings|congratulations) to (?:foreign )?(?:heads of (?:foreign )?(?:state|government)"
    r"|(?:foreign )?leaders)",
    regex.IGNORECASE,
)


def kremlin_kind(title: str) -> str:
    """The statement kind of a Kremlin page, from its title."""
    for kind, pattern in KIND_RULES:
        if pattern.search(title):
            return kind
    return "other"


def kremlin_president(date: dt.date) -> tuple[str, ...]:
    """Who was the site's president (its speaker) on `date`; empty before 31 December 1999."""
    for first, last, name in _PRESIDENTS:
        if first <= date <= last:
            return (name,)
    return ()


def is_roundup(site_id: int | None, title: str) -> bool:
    """Whether a Kremlin page holds one addressed message per paragraph."""
    return site_id in ROUNDUP_IDS or bool(_ROUNDUP_TITLE.search(title))


def roundup_passages(text: str) -> tuple[tuple[Passage, ...], list[dict[str, Any]]]:
    """One passage per paragraph with its addressee, and the `addressees` list for meta.

    A paragraph that opens with a quotation continues the message named before it.
    """
    passages: list[Passage] = []
    listing: list[dict[str, Any]] = []
    previous: str | None = None
    for para in split_passages(text):
        found = find_addressee(para.text)
        name: str | None
        country: str | None
        if found is not None:
            name, country = found.name, found.country
        elif previous is not None and is_continuation(para.text):
            name, country = previous, listing[-1]["country"]
        else:
            name, country = None, None
        passages.append(Passage(para.number, para.text, name))
        if name is not None:
            listing.append({"passage": para.number, "addressee": name, "country": country})
        previous = name
    return tuple(passages), listing


def _site_id(value: Any) -> int:
    if isinstance(value, bool):
        raise RecordError("'id' must be the site's numeric id")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise RecordError("'id' is required and must be the site's numeric id")


def _text(raw: RawRecord, key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"'{key}' must be a string")
    return value.strip()


def _one_line(value: str) -> str:
    # Kremlin titles bind words with no-break spaces ("in\xa0the\xa0Kremlin").
    return " ".join(value.split())


def kremlin(raw: RawRecord) -> tuple[CanonicalRecord, tuple[Passage, ...] | None]:
    """A record of kremlin_en.jsonl (id, title, date, datetime_text, url, lead, sections,
    text, license, source) in canonical form; round-up pages get addressed passages."""
    site_id = _site_id(raw.get("id"))
    title = _one_line(_text(raw, "title"))
    date = parse_date(raw.get("date"), "date")
    sections = [s.strip() for s in _text(raw, "sections").split(",") if s.strip()]
    meta: dict[str, Any] = {
        "site_id": site_id,
        "datetime_text": _text(raw, "datetime_text"),
        "sections": sections,
        "lead": _text(raw, "lead"),
        "license_original": _text(raw, "license"),
    }
    text = raw.get("text")
    if text is None or (isinstance(text, str) and not text.strip()):
        # Some early news items were published as a lead only; the lead is then the text.
        if not meta["lead"]:
            raise RecordError(
                "'text' is empty and the page has no lead: only a title was published"
            )
        text = meta["lead"]
        meta["text_from"] = "lead"
    record: CanonicalRecord = {
        "id": f"kremlin-{site_id}",
        "title": title,
        "date": date.isoformat(),
        "source": KREMLIN_SOURCE,
        "url": _text(raw, "url") or None,
        "license": KREMLIN_LICENSE,
        "language": "en",
        "kind": kremlin_kind(title),
        "speakers": list(kremlin_president(date)),
        "text": text,
        "meta": meta,
    }
    passages: tuple[Passage, ...] | None = None
    if is_roundup(site_id, title) and isinstance(text, str) and text.strip():
        found, listing = roundup_passages(text)
        # A title like "congratulations to heads of state of African countries" may head a
        # single joint message: only pages with several addressed paragraphs are round-ups.
        if site_id in ROUNDUP_IDS or len(listing) >= 2:
            passages = found
            meta["roundup"] = True
            meta["addressees"] = listing
    return record, passages


# --- ungdc ---------------------------------------------------------------------------

UNGDC_SOURCE = "UN General Debate Corpus (UNGDC)"
UNGDC_LICENSE = (
    "CC0 1.0; cite Baturo, Dasandi & Mikhaylov (2017), Understanding State Preferences "
    "With Text As Data, Research & Politics"
)


def _int_field(raw: RawRecord, key: str) -> int:
    value = raw.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise RecordError(f"'{key}' is required and must be an integer")


def ungdc(raw: RawRecord) -> tuple[CanonicalRecord, tuple[Passage, ...] | None]:
    """A UN General Debate statement (id, country_iso3, session, year, title, text).

    Only the year is known: the date is set to 15 September of it (the debate opens in
    the second half of September) and meta.date_precision says "year".
    """
    year = _int_field(raw, "year")
    if not 1945 <= year <= 2100:
        raise RecordError(f"'year' is out of range: {year}")
    iso3 = _text(raw, "country_iso3").upper()
    # ISO 3166 alpha-3, plus the corpus's two-letter "EU" for the European Union.
    if not regex.fullmatch(r"[A-Z]{2,3}", iso3):
        raise RecordError(f"'country_iso3' must be a 2- or 3-letter code; got {iso3!r}")
    record: CanonicalRecord = {
        "id": raw.get("id"),
        "title": _text(raw, "title"),
        "date": f"{year}-09-15",
        "source": UNGDC_SOURCE,
        "url": None,
        "license": UNGDC_LICENSE,
        "language": "en",
        "kind": "speech",
        "speakers": [],
        "text": raw.get("text"),
        "meta": {
            "date_precision": "year",
            "country_iso3": iso3,
            "session": _int_field(raw, "session"),
            "license_original": _text(raw, "license"),
        },
    }
    return record, None


# --- govzh ---------------------------------------------------------------------------

GOVZH_SOURCE = "zh.wikisource (国务院政府工作报告)"
GOVZH_LICENSE = (
    "Public domain: official document of a state organ (PRC Copyright Law art. 5); "
    "transcribed on zh.wikisource"
)
# Year of the first session of each National People's Congress.
NPC_FIRST_SESSION = {
    1: 1954, 2: 1959, 3: 1964, 4: 1975, 5: 1978, 6: 1983, 7: 1988,
    8: 1993, 9: 1998, 10: 2003, 11: 2008, 12: 2013, 13: 2018, 14: 2023,
}  # fmt: skip
# From the 5th NPC on, sessions are yearly; before that they were not (the 2nd NPC met in
# 1959, 1960, 1962 and 1963), so a session number alone does not give the year.
NPC_YEARLY_FROM = 5
_NPC_SESSION = regex.compile(
    r"第(?P<n>[一二三四五六七八九十]+)届全国人民代表大会第(?P<k>[一二三四五六七八九十]+)次会议"
)
_TITLE_YEAR = regex.compile(r"(?<!\d)(?P<y>1[89]\d\d|20\d\d)\s*年")
_CHINESE_YEAR = regex.compile(r"(?P<y>[〇○零一二三四五六七八九]{4})年")
_HEADER_DATE = regex.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日")
_RESOLUTION = regex.compile(r"关于.*政府工作报告的决议")
# zh.wikisource appends its licence notice ("本作品…Public domain…false false") to the page.
_WIKISOURCE_TRAILER = regex.compile(r"\n\s*本作品[^\n]*\n(?:.|\n)*Public domain\s*(?:\n\S*\s*)*$")
# Wiki links leave single line breaks inside sentences; paragraphs are blank-line separated.
_SOFT_BREAK = regex.compile(r"(?<=[^\n])\n(?=[^\n])")
_DIGITS = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"○": "0", "零": "0"}


def chinese_number(text: str) -> int:
    """A small Chinese numeral (一 … 九十九) as an int; raise ValueError otherwise."""
    if not text or any(c not in "一二三四五六七八九十" for c in text):
        raise ValueError(text)
    if "十" not in text:
        if len(text) != 1:
            raise ValueError(text)
        return "一二三四五六七八九".index(text) + 1
    tens, _, units = text.partition("十")
    t = chinese_number(tens) if tens else 1
    u = chinese_number(units) if units else 0
    return t * 10 + u


def npc_session_year(congress: int, session: int) -> int | None:
    """The year of the `session`-th session of the `congress`-th NPC, where the title alone
    determines it (yearly sessions, from the 5th NPC on); None otherwise."""
    first = NPC_FIRST_SESSION.get(congress)
    if first is None or congress < NPC_YEARLY_FROM or not 1 <= session <= 5:
        return None
    return first + session - 1


def govzh_year(title: str) -> tuple[int | None, str]:
    """The year a report or resolution belongs to, from its title, and how it was found
    (or, when the year is None, why it cannot be)."""
    if m := _TITLE_YEAR.search(title):
        return int(m.group("y")), "title"
    if m := _CHINESE_YEAR.search(title):
        return int("".join(_DIGITS[c] for c in m.group("y"))), "title"
    if m := _NPC_SESSION.search(title):
        congress, session = chinese_number(m.group("n")), chinese_number(m.group("k"))
        year = npc_session_year(congress, session)
        if year is not None:
            return year, f"NPC {congress}, session {session}"
        if congress in NPC_FIRST_SESSION:
            return None, (
                f"{m.group(0)} (NPC {congress}, session {session}): sessions of the 1st-4th "
                "NPC were not held every year, so the title does not give the year"
            )
        return None, f"{m.group(0)}: unknown National People's Congress"
    return None, "the title names neither a year nor an NPC session"


def clean_wikisource(content: str) -> str:
    """The document's own text: licence trailer, zero-width characters and soft breaks gone."""
    text = content.replace("\u200b", "").replace("\u200d", "").replace("\r\n", "\n")
    text = _WIKISOURCE_TRAILER.sub("", text)
    text = _SOFT_BREAK.sub("", text)
    return text.strip()


def _header_date(text: str, year: int) -> dt.date | None:
    # The date printed under the title ("——2024年3月5日在…" or "（2023年3月13日…通过）").
    head = text[: text.find("各位代表")] if "各位代表" in text[:400] else text[:300]
    m = _HEADER_DATE.search(unicodedata.normalize("NFKC", head))
    if m is None or int(m.group("y")) != year:
        return None
    try:
        return dt.date(year, int(m.group("m")), int(m.group("d")))
    except ValueError:
        return None


def govzh_id(year: int, title: str, url: str) -> str:
    """A stable id: govzh-<year>-report / -resolution, or a digest of the url otherwise."""
    if _RESOLUTION.search(title):
        return f"govzh-{year}-resolution"
    if regex.fullmatch(r"\d{4}年中华人民共和国国务院政府工作报告", title):
        return f"govzh-{year}-report"
    if regex.fullmatch(r"\d{4}年中华人民共和国国务院政府工作报告（摘要）", title):
        return f"govzh-{year}-report-abstract"
    key = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) if url else title
    return f"govzh-{year}-{hashlib.blake2b(key.encode(), digest_size=4).hexdigest()}"


def govzh(raw: RawRecord) -> tuple[CanonicalRecord, tuple[Passage, ...] | None]:
    """A record of gov_work_reports_zh.jsonl (title, url, content, year)."""
    title = unicodedata.normalize("NFC", _text(raw, "title"))
    url = _text(raw, "url")
    content = raw.get("content")
    if not isinstance(content, str) or not content.strip():
        raise RecordError("'content' is required and must be a non-empty string")
    derived, how = govzh_year(title)
    if raw.get("year") is None:
        if derived is None:
            raise RecordError(f"'year' is missing and cannot be derived from the title: {how}")
        year, year_from = derived, how
    else:
        year, year_from = _int_field(raw, "year"), "year field"
    text = clean_wikisource(content)
    date = _header_date(text, year)
    kind = "statement" if _RESOLUTION.search(title) else "report"
    record: CanonicalRecord = {
        "id": govzh_id(year, title, url),
        "title": title,
        "date": (date or dt.date(year, 3, 5)).isoformat(),
        "source": GOVZH_SOURCE,
        "url": url or None,
        "license": GOVZH_LICENSE,
        "language": "zh",
        "kind": kind,
        "speakers": [],
        "text": text,
        "meta": {
            "date_precision": "day" if date else "year",
            "year": year,
            "year_from": year_from,
        },
    }
    return record, None


# --- canonical -----------------------------------------------------------------------


def canonical(raw: RawRecord) -> tuple[CanonicalRecord, tuple[Passage, ...] | None]:
    """The canonical format as is (with its optional `passages`)."""
    return dict(raw), passages_field(raw)


PRESETS: Mapping[str, Preset] = {
    "kremlin": kremlin,
    "ungdc": ungdc,
    "govzh": govzh,
    "canonical": canonical,
}


def get_preset(name: str) -> Preset:
    """The preset called `name`; raise InvalidInput listing the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}"
        ) from None
