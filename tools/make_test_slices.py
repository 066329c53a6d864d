"""Regenerate the raw test slices in tests/data/ from the shared corpora, deterministically.

Slices keep the corpora's ORIGINAL record shapes, so tests exercise the presets. Long texts
are cut at a paragraph (or line) boundary to keep tests/data under 3 MB; the round-ups, the
govzh trailer and the first 新时代 passages are kept whole. Run:
.venv/bin/python tools/make_test_slices.py --shared ../shared/corpora
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"

KREMLIN_MUST = (56543, 62521, 27922, 63313, 33422)
KREMLIN_CHINA_MAX = 150
KREMLIN_TOTAL = 300
UNGDC_P5 = ("CHN", "RUS", "USA", "GBR", "FRA")
UNGDC_YEARS = (1946, 1950, 1956, 1962, 1966, 1971, 1972, 1976, 1980, 1985, 1991, 1995, 1999,
               2001, 2005, 2008, 2010, 2014, 2017, 2019, 2020, 2022, 2024)  # fmt: skip
KREMLIN_MAX_CHARS = 3_000
UNGDC_MAX_CHARS = 6_000
GOVZH_MAX_CHARS = 5_000
UNGDC_OTHERS = ("ungdc-ARG-1946", "ungdc-IND-1975", "ungdc-KAZ-2019", "ungdc-EU-2015",
                "ungdc-UKR-1991")  # fmt: skip
GOVZH_TITLES = (
    "2017年中华人民共和国国务院政府工作报告",
    "2018年中华人民共和国国务院政府工作报告",
    "2019年中华人民共和国国务院政府工作报告",
    "2011年中华人民共和国国务院政府工作报告",
    "1957年中华人民共和国国务院政府工作报告",
    "1964年中华人民共和国国务院政府工作报告（摘要）",
    "1954年中华人民共和国国务院政府工作报告",
    "第十三届全国人民代表大会第一次会议关于政府工作报告的决议",
    "第十三届全国人民代表大会第三次会议关于政府工作报告的决议",
    "第十四届全国人民代表大会第一次会议关于政府工作报告的决议",
    "第十二届全国人民代表大会第五次会议关于政府工作报告的决议",
    "第二届全国人民代表大会第三次会议关于政府工作报告的决议",
)


def records(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def stable_rank(key: str) -> str:
    """A deterministic pseudo-random order that does not depend on Python's hash seed."""
    return hashlib.sha256(key.encode()).hexdigest()


def cut(text: str, limit: int) -> str:
    """`text` cut to at most about `limit` characters at a paragraph, else a line, boundary."""
    if len(text) <= limit:
        return text
    for sep in ("\n\n", "\n"):
        at = text.rfind(sep, 0, limit)
        if at > limit // 2:
            return text[:at]
    return text[:limit]


def cut_govzh(content: str) -> str:
    """The start of a report plus zh.wikisource's licence trailer, which the preset strips."""
    trailer = content.rfind("\n本作品")
    if trailer < 0 or len(content) <= GOVZH_MAX_CHARS:
        return content
    return cut(content[:trailer], GOVZH_MAX_CHARS) + content[trailer:]


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{path.relative_to(ROOT)}: {len(rows)} records, {path.stat().st_size / 1e3:.0f} kB")


def kremlin_slice(shared: Path) -> list[dict[str, Any]]:
    rows = list(records(shared / "kremlin_en.jsonl.gz"))
    must = [r for r in rows if r["id"] in KREMLIN_MUST]
    china = [
        r
        for r in rows
        if r["id"] not in KREMLIN_MUST
        and any(w in r["title"] + r["text"] for w in ("China", "Chinese", "Xi Jinping"))
    ]
    china = sorted(china, key=lambda r: stable_rank(f"k{r['id']}"))[:KREMLIN_CHINA_MAX]
    taken = {r["id"] for r in must + china}
    # Keep the empty-text records in play too: they must be rejected or use the lead.
    others = sorted(
        (r for r in rows if r["id"] not in taken), key=lambda r: stable_rank(f"o{r['id']}")
    )[: KREMLIN_TOTAL - len(taken)]
    chosen = {r["id"] for r in must + china + others}
    out = [r for r in rows if r["id"] in chosen]  # file order
    for r in out:
        if r["id"] not in KREMLIN_MUST:
            r["text"] = cut(r["text"], KREMLIN_MAX_CHARS)
    return out


def ungdc_slice(shared: Path) -> list[dict[str, Any]]:
    out = []
    for r in records(shared / "ungdc_en.jsonl.gz"):
        p5 = r["country_iso3"] in UNGDC_P5 and r["year"] in UNGDC_YEARS
        if p5 or r["id"] in UNGDC_OTHERS:
            out.append({**r, "text": cut(r["text"], UNGDC_MAX_CHARS)})
    return out


def govzh_slice(shared: Path) -> list[dict[str, Any]]:
    rows = records(shared / "gov_work_reports_zh.jsonl.gz")
    return [{**r, "content": cut_govzh(r["content"])} for r in rows if r["title"] in GOVZH_TITLES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "corpora")
    args = parser.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    write(DATA / "kremlin_slice.jsonl", kremlin_slice(args.shared))
    write(DATA / "ungdc_slice.jsonl", ungdc_slice(args.shared))
    write(DATA / "govzh_slice.jsonl", govzh_slice(args.shared))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
