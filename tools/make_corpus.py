"""Build the bundled demo corpus (corpus/statements/*.jsonl.gz and corpus/README.md) from the
shared corpora, reading them through the real presets so the demo holds exactly what
`tifa ingest` would take.

Run: .venv/bin/python tools/make_corpus.py --shared ../shared/corpora
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.model import Rejection, Statement  # noqa: E402
from indexer.sources import read  # noqa: E402
from indexer.sources.presets import UNGDC_LICENSE  # noqa: E402
from indexer.text import split_passages  # noqa: E402

P5 = ("CHN", "FRA", "GBR", "RUS", "USA")


def canonical_line(statement: Statement) -> str:
    """One canonical JSONL line; `passages` only where they carry more than the text does."""
    record: dict[str, Any] = statement.to_record()
    default = split_passages(statement.text)
    if statement.passages == default:
        # Leave the split to the reader, so a better splitter improves the bundled corpus too.
        del record["passages"]
    else:
        record["passages"] = [
            {"text": p.text, "addressee": p.addressee} for p in statement.passages
        ]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_jsonl_gz(path: Path, lines: Iterable[str]) -> int:
    """Write lines to a gzip file with a fixed timestamp (byte-identical reruns)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        for line in lines:
            gz.write(line.encode("utf-8") + b"\n")
            count += 1
    return count


def split(items: Iterator[Statement | Rejection], rejected: list[Rejection]) -> Iterator[Statement]:
    for item in items:
        if isinstance(item, Rejection):
            rejected.append(item)
        else:
            yield item


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--out", type=Path, default=ROOT / "corpus")
    args = parser.parse_args(argv)
    shared: Path = args.shared
    out: Path = args.out / "statements"
    report: dict[str, Any] = {}

    # Kremlin: every page that has a text (or a lead standing in for it).
    kremlin_rej: list[Rejection] = []
    kinds: collections.Counter[str] = collections.Counter()
    roundups: list[Statement] = []

    def kremlin_lines() -> Iterator[str]:
        for st in split(read(shared / "kremlin_en.jsonl.gz", preset="kremlin"), kremlin_rej):
            kinds[st.kind] += 1
            if st.meta.get("roundup"):
                roundups.append(st)
            yield canonical_line(st)

    report["kremlin"] = write_jsonl_gz(out / "kremlin_en.jsonl.gz", kremlin_lines())

    # Government work reports: all that can be dated.
    govzh_rej: list[Rejection] = []
    govzh: list[Statement] = list(
        split(read(shared / "gov_work_reports_zh.jsonl.gz", preset="govzh"), govzh_rej)
    )
    report["govzh"] = write_jsonl_gz(
        out / "gov_work_reports_zh.jsonl.gz", (canonical_line(s) for s in govzh)
    )

    # UN General Debate: the five permanent members of the Security Council, all years.
    ungdc_rej: list[Rejection] = []
    per_country: collections.Counter[str] = collections.Counter()

    def ungdc_lines() -> Iterator[str]:
        for st in split(read(shared / "ungdc_en.jsonl.gz", preset="ungdc"), ungdc_rej):
            iso3 = st.meta["country_iso3"]
            if iso3 in P5:
                per_country[iso3] += 1
                yield canonical_line(st)

    report["ungdc"] = write_jsonl_gz(out / "ungdc_p5.jsonl.gz", ungdc_lines())

    series = args.out / "series" / "china_russia_new_year_exchanges.jsonl"
    series.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared / "series" / "china_russia_new_year_exchanges.jsonl", series)

    # What a reader of this corpus must be told: printed, and written into the README.
    print(f"kremlin_en: {report['kremlin']} statements, {len(kremlin_rej)} rejected; {dict(kinds)}")
    for st in roundups:
        unaddressed = [p.number for p in st.passages if p.addressee is None]
        print(f"  round-up {st.id} ({st.date}): {len(st.passages)} passages, ", end="")
        print(f"unaddressed {unaddressed}")
    print(f"gov_work_reports_zh: {report['govzh']} statements, {len(govzh_rej)} rejected")
    for st in govzh:
        print(f"  {st.id:32} {st.date}  {st.meta['year_from']:18} {st.title}")
    for rej in govzh_rej:
        print(f"  REJECTED {rej}")
    first = min(
        (s for s in govzh if s.kind == "report" and "新时代" in s.text), key=lambda s: s.date
    )
    formula = min(
        (s for s in govzh if s.kind == "report" and "新时代中国特色社会主义" in s.text),
        key=lambda s: s.date,
    )
    print(f"  新时代 first in a report: {first.id}; 新时代中国特色社会主义 first: {formula.id}")
    print(f"ungdc_p5: {report['ungdc']} statements {dict(sorted(per_country.items()))}")
    print(f"  ungdc rejected: {len(ungdc_rej)}")
    for rej in ungdc_rej[:20]:
        print(f"  REJECTED {rej}")

    sizes = {p.name: p.stat().st_size for p in sorted(out.glob("*.jsonl.gz"))}
    (args.out / "README.md").write_text(
        readme(report, kremlin_rej, govzh_rej, ungdc_rej, per_country, roundups, sizes),
        encoding="utf-8",
    )
    return 0


def readme(
    report: dict[str, Any],
    kremlin_rej: list[Rejection],
    govzh_rej: list[Rejection],
    ungdc_rej: list[Rejection],
    per_country: collections.Counter[str],
    roundups: list[Statement],
    sizes: dict[str, int],
) -> str:
    """The corpus README: what each file is, where it came from, its licence, what was left out."""

    def mb(name: str) -> str:
        return f"{sizes.get(name, 0) / 1e6:.1f} MB"

    lead_only = "Early news items published with a lead but no body use the lead as text"
    rounds = "\n".join(
        f"- `{s.id}` ({s.date}, “{s.title}”): {len(s.passages)} passages, "
        f"{sum(p.addressee is not None for p in s.passages)} addressed; without an addressee: "
        f"{[p.number for p in s.passages if p.addressee is None] or 'none'}"
        for s in roundups
    )
    rows = [
        ("statements/kremlin_en.jsonl.gz", "English pages of en.kremlin.ru, 1999–2020",
         report["kremlin"], "CC BY 4.0"),
        ("statements/gov_work_reports_zh.jsonl.gz",
         "PRC government work reports and NPC resolutions on them, 1954–2025",
         report["govzh"], "public domain"),
        ("statements/ungdc_p5.jsonl.gz",
         "UN General Debate statements of China, France, the UK, Russia/USSR and the US, 1946–2024",
         report["ungdc"], "CC0 1.0"),
    ]  # fmt: skip
    table = "\n".join(
        f"| `{name}` | {what} | {count} | {mb(name.split('/')[-1])} | {lic} |"
        for name, what, count, lic in rows
    )
    table += (
        "\n| `series/china_russia_new_year_exchanges.jsonl` | the Chinese–Russian New Year "
        "exchanges, copied unchanged | 19 events | | facts; summaries ours |"
    )
    govzh_rejections = "\n".join(f"  - record {r.record}: {r.reason}" for r in govzh_rej)
    countries = ", ".join(f"{k} {v}" for k, v in sorted(per_country.items()))
    return f"""# The bundled demo corpus

Data only, never imported. Built by `tools/make_corpus.py --shared ../shared/corpora` from the
shared corpora (see that directory's README), read through the same presets as
`indexer.sources.read(..., preset=...)`. Files are canonical JSONL (gzip), one statement a line,
each with its `source`, `url` (where known) and `license`. A line carries `passages` only where
they say more than the text (greetings round-ups, whose passages name their addressees);
otherwise passages are split from `text` when read.

| file | what | statements | size | licence |
|---|---|---|---|---|
{table}

## Attribution and licences
- **Kremlin** — CC BY 4.0. Attribution: **President of Russia, en.kremlin.ru**. Each record's
  `license` says so and `url` points to the page; the site's own licence text is kept in
  `meta.license_original`. `speakers` is the site's president on that day; `kind` is derived
  from the title. {lead_only} (`meta.text_from = "lead"`).
- **UN General Debate Corpus** — CC0 1.0 (no attribution required). Please cite Baturo, Dasandi &
  Mikhaylov (2017), *Understanding State Preferences With Text As Data: Introducing the UN General
  Debate Corpus*, Research & Politics. Record licence: “{UNGDC_LICENSE}”. Only the year is known:
  `date` is 15 September of it and `meta.date_precision` is `"year"`. Per country: {countries}.
  Russia's code `RUS` covers the USSR's statements too (there is no `SUN`). `CHN` up to 1971 is
  the Republic of China's delegation (the PRC took the seat in October 1971). Early texts are OCR
  (numbered paragraphs, broken hyphenation). No CHN or RUS statement for 1970, none for FRA
  1960–1964.
- **Government work reports** — official documents of state organs, not protected by copyright
  (PRC Copyright Law art. 5); transcribed on zh.wikisource. The wikisource licence notice at the
  end of each page and wiki-link line breaks are removed. `date` is the date printed in the
  document when there is one (`meta.date_precision = "day"`), otherwise 5 March of the year
  (`"year"`); `meta.year_from` says whether the year came from the record or the NPC session in
  the title (the k-th session of the N-th NPC, from the 5th NPC on, is in its first year + k − 1;
  checked against the reports whose header names their session). The 1954 and 1957 reports are
  partly in traditional characters (會議), which the matching model does not fold to simplified.
  新时代 first occurs in the 2011 report (农村发展进入一个新时代); the formula
  新时代中国特色社会主义 first in 2018.

## Round-ups
Greetings round-ups hold one message per paragraph; each passage carries its `addressee`, and
`meta.addressees` lists `{{passage, addressee, country}}`. A paragraph that opens with a quotation
continues the message named before it. In `kremlin-63313` paragraphs 1–4 describe what all the
messages said and 8 continues the message to the US President without opening with a quote.
{rounds}

## Left out
- Kremlin: {len(kremlin_rej)} pages with neither text nor lead (only a title was published).
- UN General Debate: {len(ungdc_rej)} records rejected.
- Government work reports, rejected:
{govzh_rejections}
"""


if __name__ == "__main__":
    raise SystemExit(main())
