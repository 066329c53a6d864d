"""Tests for indexer.sources: every reader on its fixture, the corpus presets on raw slices,
round-up addressees, govzh year derivation, and garbage that must never raise."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.errors import InvalidInput
from indexer.model import Rejection, Statement
from indexer.sources import detect_format, read
from indexer.sources.addressees import country_of, find_addressee
from indexer.sources.presets import chinese_number, govzh_year, kremlin_kind, kremlin_president

DATA = Path(__file__).parent.parent / "data"


def split(items: object) -> tuple[list[Statement], list[Rejection]]:
    good: list[Statement] = []
    bad: list[Rejection] = []
    for item in items:  # type: ignore[attr-defined]
        if isinstance(item, Statement):
            good.append(item)
        else:
            assert isinstance(item, Rejection)
            bad.append(item)
    return good, bad


# --- canonical JSONL and bad lines ---------------------------------------------------

BAD_JSONL_REJECTIONS = [
    (3, None, "malformed JSON: Unterminated string starting at: line 1 column 50 (char 49)"),
    (4, None, "'id' is required"),
    (6, "bad-date-6", "'date' is not a YYYY-MM-DD date: '2020-13-45'"),
    (7, "empty-text-7", "'text' is required and must be a non-empty string"),
    (8, None, "a record must be a JSON object, not an array"),
    (
        9,
        "kind-9",
        "'kind' must be one of readout, message, call, statement, speech, report, commentary, "
        "news, other; got 'essay'",
    ),
    (11, "passages-11", "'passages' must be a non-empty list of objects"),
    (12, None, "malformed JSON: NaN is not valid JSON"),
    (14, None, "malformed JSON: nested too deeply"),
]


def test_bad_jsonl_rejections_have_exact_lines_and_reasons() -> None:
    good, bad = split(read(DATA / "bad.jsonl"))
    assert [(r.record, r.id, r.reason) for r in bad] == BAD_JSONL_REJECTIONS
    assert {r.file for r in bad} == {str(DATA / "bad.jsonl")}
    assert [s.id for s in good] == ["good-1", "good-2", "roundup-10", "good-13", "日本-15"]


def test_canonical_passages_field_defines_passages() -> None:
    good, _ = split(read(DATA / "bad.jsonl", preset="canonical"))
    roundup = next(s for s in good if s.id == "roundup-10")
    assert [(p.number, p.addressee) for p in roundup.passages] == [
        (0, "President of Armenia Serzh Sargsyan"),
        (1, "President of France Emmanuel Macron"),
    ]


def test_canonical_round_trip_keeps_addressed_passages(tmp_path: Path) -> None:
    [page] = [s for s in split(read(DATA / "kremlin_slice.jsonl", preset="kremlin"))[0]
              if s.id == "kremlin-62521"]  # fmt: skip
    record = page.to_record()
    path = tmp_path / "out.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    [again] = split(read(path))[0]
    assert again.passages == page.passages
    assert again.content_hash() == page.content_hash()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.JSONL.GZ", "jsonl"),
        ("a.ndjson.gz", "jsonl"),
        ("a.csv", "csv"),
        ("a.csv.gz", "csv"),
        ("a.md", "frontmatter"),
        ("a.txt", "frontmatter"),
        ("a.html", "html"),
        ("a.htm", "html"),
        ("a.json", None),
        ("a.gz", None),
        (".jsonl", None),
    ],
)
def test_detect_format(name: str, fmt: str | None) -> None:
    assert detect_format(Path(name)) == fmt


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": DATA / "missing.jsonl"}, "no such file or directory"),
        ({"path": DATA / "bad.jsonl", "fmt": "xml"}, "unknown format 'xml'"),
        ({"path": DATA / "bad.jsonl", "preset": "bbc"}, "unknown preset 'bbc'"),
        ({"path": DATA / "bad.jsonl", "mapping": {"body": "text"}}, "mapping key 'body'"),
        ({"path": DATA / "html", "preset": "kremlin"}, "applies to jsonl or csv"),
    ],
)
def test_invalid_calls_raise_before_reading(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read(**kwargs)  # type: ignore[arg-type]


def test_unknown_extension_raises(tmp_path: Path) -> None:
    path = tmp_path / "data.xml"
    path.write_text("<x/>")
    with pytest.raises(InvalidInput, match="cannot tell the format"):
        read(path)


def test_mapping_renames_fields_and_fills_meta(tmp_path: Path) -> None:
    path = tmp_path / "mapped.jsonl"
    raw = {"doc_id": "m-1", "body": "Hello there.", "day": "2021-05-06", "text": "ignored",
           "outlet": "TASS", "kind": "news"}  # fmt: skip
    path.write_text(json.dumps(raw) + "\n")
    mapping = {"id": "doc_id", "text": "body", "date": "day", "meta.outlet": "outlet"}
    [statement] = split(read(path, mapping=mapping))[0]
    assert (statement.id, statement.text, statement.date) == (
        "m-1",
        "Hello there.",
        dt.date(2021, 5, 6),
    )
    assert statement.meta == {"outlet": "TASS"}
    assert statement.kind == "news"  # unmapped fields are read by their own names


def test_defaults_fill_missing_fields(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": "d-1", "text": "Text.", "date": "2021-01-01"}) + "\n")
    [statement] = split(read(path, defaults={"source": "Fixture", "license": "CC0"}))[0]
    assert (statement.source, statement.license) == ("Fixture", "CC0")


def test_invalid_utf8_and_truncated_gzip_become_rejections(tmp_path: Path) -> None:
    ok = json.dumps({"id": "ok", "text": "Fine.", "date": "2020-01-01"}).encode()
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        ok + b"\n" + b'{"id": "x\xff\xfe", "text": "t"}\n' + ok.replace(b"ok", b"ok2") + b"\n"
    )
    good, bad = split(read(path))
    assert [s.id for s in good] == ["ok", "ok2"]
    assert [(r.record, r.reason) for r in bad] == [
        (2, "line is not valid UTF-8 (invalid start byte at byte 10)")
    ]
    data = gzip.compress(b"\n".join([ok] * 2000))
    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(data[: len(data) // 2])
    good, bad = split(read(truncated))
    assert len(bad) == 1 and "cannot be read past this point" in bad[0].reason
    assert bad[0].record == len(good) + 1


def test_directory_is_read_recursively_in_sorted_order() -> None:
    items = list(read(DATA / "frontmatter"))
    names = [Path(i.file).name if isinstance(i, Rejection) else i.id for i in items]
    assert names == ["bad_yaml.md", "no_front_matter.txt", "xinhua-2020-12-31-xi-putin"]


# --- CSV, front matter, HTML ---------------------------------------------------------

CSV_MAPPING = {"id": "doc_id", "title": "headline", "date": "published_on", "text": "body",
               "speakers": "who"}  # fmt: skip


def test_csv_reader_with_mapping() -> None:
    good, bad = split(read(DATA / "csv" / "statements.csv", mapping=CSV_MAPPING))
    assert [(s.id, s.title, s.speakers, dict(s.meta), len(s.passages)) for s in good] == [
        ("c-1", "First row", ("Xi Jinping", "Vladimir Putin"), {"outlet": "Xinhua"}, 2),
        ("c-4", "Fourth", ("Li Qiang",), {}, 1),
    ]
    assert [(r.record, r.id, r.reason) for r in bad] == [
        (5, "c-2", "'date' is not a YYYY-MM-DD date: '2021-02-30'"),
        (6, None, "'id' is required"),
    ]


def test_csv_huge_field_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv.gz"
    body = "word " * 100_000
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write(f'id,date,text\nbig,2020-01-01,"{body}"\n')
    [statement] = split(read(path))[0]
    assert len(statement.text) == len(body.strip())


def test_frontmatter_reader() -> None:
    good, bad = split(read(DATA / "frontmatter"))
    [xi] = good
    assert (xi.id, xi.date, xi.kind, xi.speakers, xi.series) == (
        "xinhua-2020-12-31-xi-putin",
        dt.date(2020, 12, 31),
        "message",
        ("Xi Jinping", "Vladimir Putin"),
        ("china-russia-new-year",),
    )
    assert xi.meta == {"channel": "messages", "reported": "2020-12-31"}
    assert len(xi.passages) == 2
    reasons = {Path(r.file).name: r.reason for r in bad}
    assert reasons["no_front_matter.txt"].startswith("no front matter")
    assert reasons["bad_yaml.md"].startswith("front matter is not valid YAML")


def test_html_kremlin_page() -> None:
    [page] = split(read(DATA / "html" / "kremlin_62366.html"))[0]
    assert (page.id, page.date, page.kind, page.speakers, page.language) == (
        "kremlin-62366",
        dt.date(2019, 12, 18),
        "call",
        ("Vladimir Putin",),
        "en",
    )
    assert page.title == "Telephone conversation with President of China Xi Jinping"
    assert page.url == "http://en.kremlin.ru/events/president/news/62366"
    assert page.license == "CC BY 4.0, attribution: President of Russia, en.kremlin.ru"
    assert [p.text for p in page.passages] == [
        "The two leaders exchanged views on current issues of Russian-Chinese relations and "
        "noted with satisfaction the progress of the comprehensive partnership and strategic "
        "interaction.",
        "Vladimir Putin and Xi Jinping discussed the situation on the Korean Peninsula and the "
        "agreements reached during the meeting in Dushanbe.",
        "The leaders agreed to maintain contacts.",
    ]
    assert page.meta["datetime_text"] == "December 18, 2019, 17:30"
    assert "trackRead" not in page.text and "Topics" not in page.text


def test_html_generic_page() -> None:
    [page] = split(read(DATA / "html" / "generic_article.html", defaults={"kind": "statement"}))[0]
    assert (page.id, page.title, page.date, page.language, page.kind) == (
        "generic_article",
        "Joint statement on the New Year",
        dt.date(2021, 1, 1),
        "en",
        "statement",
    )
    assert page.url == "https://example.org/statements/joint-new-year-2021"
    assert page.text == (
        "The two sides congratulated each other on the New Year.\n\n"
        "They agreed to deepen the comprehensive strategic partnership of coordination "
        "in the new era."
    )


def test_html_without_date_is_rejected_and_mapping_can_supply_it() -> None:
    [rejection] = split(read(DATA / "html" / "no_date.htm"))[1]
    assert rejection.reason == "'date' is required as YYYY-MM-DD"
    [page] = split(read(DATA / "html" / "no_date.htm", defaults={"date": "2020-02-02"}))[0]
    assert page.title == "Untitled press note"


# --- presets on the raw slices -------------------------------------------------------


def test_kremlin_slice() -> None:
    good, bad = split(read(DATA / "kremlin_slice.jsonl", preset="kremlin"))
    assert len(good) + len(bad) == 300
    assert all(r.reason.startswith("'text' is empty and the page has no lead") for r in bad)
    for s in good:
        assert s.id.startswith("kremlin-") and s.language == "en"
        assert s.source == "President of Russia (en.kremlin.ru)"
        assert s.license == "CC BY 4.0, attribution: President of Russia, en.kremlin.ru"
        assert s.meta["license_original"] == "CC BY 4.0 (kremlin.ru)"
        assert s.url and s.url.endswith(str(s.meta["site_id"]))
    assert (
        sum("China" in s.text or "Chinese" in s.text or "Xi Jinping" in s.text for s in good) >= 100
    )


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("Telephone conversation with President of China Xi Jinping", "call"),
        ("Christmas and New Year greetings to heads of state and government", "message"),
        ("Condolences to President of Egypt", "message"),
        ("Meeting with Chairman of Central Election Commission Vladimir Churov", "readout"),
        ("Russian-Chinese talks", "readout"),
        ("President Vladimir Putin met with Ingush President Ruslan Aushev", "readout"),
        ("Address to the Federal Assembly", "speech"),
        (
            "Joint statement of the Russian Federation and the People’s Republic of China",
            "statement",
        ),
        ("Interview to Chinese media", "news"),
        ("Vladimir Putin will meet with President of Turkey Recep Tayyip Erdogan", "news"),
        ("Executive Order on one-off payment to families with children", "other"),
    ],
)
def test_kremlin_kind_from_title(title: str, kind: str) -> None:
    assert kremlin_kind(title) == kind


@pytest.mark.parametrize(
    ("day", "speakers"),
    [
        ("1999-12-30", ()),
        ("1999-12-31", ("Vladimir Putin",)),
        ("2008-05-06", ("Vladimir Putin",)),
        ("2008-05-07", ("Dmitry Medvedev",)),
        ("2012-05-06", ("Dmitry Medvedev",)),
        ("2012-05-07", ("Vladimir Putin",)),
    ],
)
def test_kremlin_president(day: str, speakers: tuple[str, ...]) -> None:
    assert kremlin_president(dt.date.fromisoformat(day)) == speakers


ARMENIA_2019 = "Armenian President Armen Sarkissian and Prime Minister Nikol Pashinyan"
ITALY_2019 = "President of Italy Sergio Mattarella and the country’s Prime Minister, Giuseppe Conte"


@pytest.fixture(scope="module")
def roundups() -> dict[str, Statement]:
    good, _ = split(read(DATA / "kremlin_slice.jsonl", preset="kremlin"))
    return {s.id: s for s in good if s.meta.get("roundup")}


def test_roundup_pages_are_found(roundups: dict[str, Statement]) -> None:
    # 33422 is one joint message to African leaders, not a round-up.
    assert sorted(roundups) == ["kremlin-27922", "kremlin-56543", "kremlin-62521", "kremlin-63313"]


@pytest.mark.parametrize(
    ("sid", "number", "addressee", "country"),
    [
        ("kremlin-56543", 0, "President of the Republic of Abkhazia Raul Khadjimba", "Abkhazia"),
        ("kremlin-56543", 1, "President of Armenia Serzh Sargsyan", "Armenia"),
        ("kremlin-56543", 4, "President of Kazakhstan Nursultan Nazarbayev", "Kazakhstan"),
        ("kremlin-56543", 14, "President of China Xi Jinping", "China"),
        ("kremlin-56543", 16, "Czech President Milos Zeman", "Czech Republic"),
        ("kremlin-56543", 26, "Prince Albert II of Monaco", "Monaco"),
        ("kremlin-56543", 31, "President of the Syrian Arab Republic Bashar al-Assad", "Syria"),
        ("kremlin-56543", 35, "His Holiness Pope Francis", "Vatican"),
        ("kremlin-62521", 2, ARMENIA_2019, "Armenia"),
        ("kremlin-62521", 3, "President of the Republic of Azerbaijan Ilham Aliyev", "Azerbaijan"),
        ("kremlin-62521", 5, "President of Brazil Jair Bolsonaro", "Brazil"),
        ("kremlin-62521", 7, "President of the People's Republic of China Xi Jinping", "China"),
        ("kremlin-62521", 18, ITALY_2019, "Italy"),
        ("kremlin-62521", 24, "Reigning Prince of Monaco Albert II", "Monaco"),
        ("kremlin-62521", 30, "Prime Minister of Sweden Stefan Löfven", "Sweden"),
        ("kremlin-27922", 2, "US President George Bush", "United States"),  # a quoted continuation
    ],
)  # fmt: skip
def test_roundup_addressees(
    roundups: dict[str, Statement], sid: str, number: int, addressee: str, country: str
) -> None:
    page = roundups[sid]
    assert page.passages[number].addressee == addressee
    listing = {a["passage"]: a for a in page.meta["addressees"]}
    assert listing[number] == {"passage": number, "addressee": addressee, "country": country}


@pytest.mark.parametrize(("sid", "count"), [("kremlin-56543", 41), ("kremlin-62521", 43)])
def test_every_roundup_paragraph_has_an_addressee(
    roundups: dict[str, Statement], sid: str, count: int
) -> None:
    page = roundups[sid]
    assert [p.number for p in page.passages] == list(range(count))
    assert [p.number for p in page.passages if p.addressee is None] == []
    # Passages are the page's own paragraphs, in order, in original text.
    assert [p.text for p in page.passages] == [q.strip() for q in page.text.split("\n\n")]


@pytest.mark.parametrize(
    ("paragraph", "name", "country"),
    [
        ("In his message of greetings to President of the Republic of Abkhazia Raul Khadjimba, "
         "Mr Putin noted",
         "President of the Republic of Abkhazia Raul Khadjimba", "Abkhazia"),
        ("The President of Russia sent New Year’s greetings to the President of Kazakhstan "
         "Nursultan Nazarbayev, in which",
         "President of Kazakhstan Nursultan Nazarbayev", "Kazakhstan"),
        ("In his holiday greetings to President of Brazil Jair Bolsonaro, the President of Russia",
         "President of Brazil Jair Bolsonaro", "Brazil"),
        ("In his greetings addressed to President of the Republic of Azerbaijan Ilham Aliyev, he",
         "President of the Republic of Azerbaijan Ilham Aliyev", "Azerbaijan"),
        ("Addressing Hungarian Prime Minister Viktor Orban, Vladimir Putin stressed",
         "Hungarian Prime Minister Viktor Orban", "Hungary"),
        ("The President also sent greetings to several former heads of state, including "
         "George H. W. Bush and Romano Prodi.",
         "George H. W. Bush and Romano Prodi", None),
        ("The President of Russia noted the importance of cooperation.", None, None),
    ],
)  # fmt: skip
def test_find_addressee(paragraph: str, name: str | None, country: str | None) -> None:
    found = find_addressee(paragraph)
    assert (found.name, found.country) == (name, country) if found else name is None


def test_country_of_uses_adjectives() -> None:
    assert country_of("South African President Jacob Zuma") == "South Africa"
    assert country_of("UN Secretary-General Antonio Guterres") is None


def test_ungdc_slice() -> None:
    good, bad = split(read(DATA / "ungdc_slice.jsonl", preset="ungdc"))
    assert bad == []
    assert len(good) == 119
    s = next(s for s in good if s.id == "ungdc-CHN-1971")
    assert (s.date, s.kind, s.language, s.speakers) == (dt.date(1971, 9, 15), "speech", "en", ())
    assert s.meta == {
        "date_precision": "year",
        "country_iso3": "CHN",
        "session": 26,
        "license_original": "CC0 1.0 (UNGDC, Baturo, Dasandi & Mikhaylov 2017)",
    }
    assert s.source == "UN General Debate Corpus (UNGDC)" and s.license.startswith("CC0 1.0; cite")
    assert {x.meta["country_iso3"] for x in good} >= {"CHN", "RUS", "USA", "GBR", "FRA", "EU"}


@pytest.mark.parametrize(
    ("title", "year"),
    [
        ("2018年中华人民共和国国务院政府工作报告", 2018),
        ("1964年中华人民共和国国务院政府工作报告（摘要）", 1964),
        ("第十三届全国人民代表大会第一次会议关于政府工作报告的决议", 2018),
        ("第十三届全国人民代表大会第三次会议关于政府工作报告的决议", 2020),
        ("第十四届全国人民代表大会第三次会议关于政府工作报告的决议", 2025),
        ("第十二届全国人民代表大会第五次会议关于政府工作报告的决议", 2017),
        ("第十届全国人民代表大会第五次会议关于政府工作报告的决议", 2007),
        ("第五届全国人民代表大会第二次会议关于政府工作报告的决议", 1979),
        ("一九八二年政府工作报告", 1982),
        ("第二届全国人民代表大会第三次会议关于政府工作报告的决议", None),
        ("关于政府工作报告的决议", None),
    ],
)
def test_govzh_year_from_title(title: str, year: int | None) -> None:
    assert govzh_year(title)[0] == year


@pytest.mark.parametrize(
    ("text", "value"), [("一", 1), ("十", 10), ("十三", 13), ("二十", 20), ("二十一", 21)]
)
def test_chinese_number(text: str, value: int) -> None:
    assert chinese_number(text) == value


def test_govzh_slice() -> None:
    good, bad = split(read(DATA / "govzh_slice.jsonl", preset="govzh"))
    by_id = {s.id: s for s in good}
    assert sorted(by_id) == sorted([
        "govzh-1954-report", "govzh-1957-report", "govzh-1964-report-abstract",
        "govzh-2011-report", "govzh-2017-report", "govzh-2017-resolution", "govzh-2018-report",
        "govzh-2018-resolution", "govzh-2019-report", "govzh-2020-resolution",
        "govzh-2023-resolution",
    ])  # fmt: skip
    [rejection] = bad
    assert rejection.reason.startswith(
        "'year' is missing and cannot be derived from the title: 第二届"
    )
    assert by_id["govzh-2020-resolution"].date == dt.date(2020, 5, 28)  # printed in the text
    assert by_id["govzh-2020-resolution"].kind == "statement"
    assert by_id["govzh-2018-report"].date == dt.date(2018, 3, 5)
    assert by_id["govzh-2018-report"].meta["date_precision"] == "year"
    assert by_id["govzh-1957-report"].date == dt.date(1957, 6, 26)
    for s in good:
        assert s.language == "zh" and "Public domain" not in s.text and "本作品" not in s.text
        assert s.license.startswith("Public domain: official document of a state organ")
    reports = sorted((s for s in good if s.kind == "report"), key=lambda s: s.date)
    formula = [s.id for s in reports if "新时代中国特色社会主义" in s.text]
    assert formula[0] == "govzh-2018-report"
    # The bare phrase is older: "农村发展进入一个新时代" in the 2011 report.
    assert next(s.id for s in reports if "新时代" in s.text) == "govzh-2011-report"


# --- garbage never raises ------------------------------------------------------------


def _read_all(data: bytes, suffix: str) -> list[Statement | Rejection]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        return list(read(path))


GARBAGE = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=2000).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.lists(
        st.sampled_from([b'{"id": 1, "date": "2020-01-01", "text": "x"}', b"{", b"[", b'"',
                         b"\n", b"\r\n", b",", b"\x00", b"\xff", b"NaN", b'{"id": "a"}',
                         b'id,date,text', b'a,2020-01-01,"b', b'"']),
        max_size=60,
    ).map(b"".join),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(GARBAGE)
def test_jsonl_garbage_never_raises(data: bytes) -> None:
    items = _read_all(data, ".jsonl")
    assert all(isinstance(i, (Statement, Rejection)) for i in items)
    nonblank = [n for n, line in enumerate(data.split(b"\n"), 1) if line.strip(b" \t\r\n\f\v")]
    # Each non-blank line is one item (a line of only Unicode spaces also counts as blank).
    assert len(items) <= len(nonblank)
    assert all(1 <= i.record <= len(data.split(b"\n")) for i in items if isinstance(i, Rejection))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(GARBAGE)
def test_csv_garbage_never_raises(data: bytes) -> None:
    items = _read_all(data, ".csv")
    assert all(isinstance(i, (Statement, Rejection)) for i in items)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000))
def test_gzip_garbage_never_raises(data: bytes) -> None:
    items = _read_all(gzip.compress(data)[: max(1, len(data) // 2)], ".jsonl.gz")
    assert all(isinstance(i, (Statement, Rejection)) for i in items)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000))
def test_html_and_frontmatter_garbage_never_raise(data: bytes) -> None:
    for suffix in (".html", ".md"):
        [item] = _read_all(data, suffix)
        assert isinstance(item, (Statement, Rejection))
