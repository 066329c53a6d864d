"""An independent implementation of the matching model, for checking counts.

Written from the README's definition, not from `indexer.text`: it classifies characters
with `unicodedata` one by one and counts phrases by scanning lists. Slow and obvious.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache


def _is_han(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2EBEF
        or 0xF900 <= cp <= 0xFAFF
        or 0x30000 <= cp <= 0x3134F
        or cp
        in (
            0x3005,
            0x3007,
            0x3021,
            0x3022,
            0x3023,
            0x3024,
            0x3025,
            0x3026,
            0x3027,
            0x3028,
            0x3029,
            0x3038,
            0x3039,
            0x303A,
            0x303B,
        )
        or 0x2E80 <= cp <= 0x2FD5
    )


def tokens(text: str) -> list[str]:
    """Tokens of `text`: NFKC, casefold, NFKC, ё→е; Han chars alone; letter/mark/digit runs."""
    return list(_tokens(text))


@lru_cache(maxsize=100_000)
def _tokens(text: str) -> tuple[str, ...]:
    once = unicodedata.normalize("NFKC", text).casefold()
    norm = unicodedata.normalize("NFKC", once).replace("ё", "е")
    out: list[str] = []
    run: list[str] = []
    for ch in norm:
        cat = unicodedata.category(ch)
        if _is_han(ch):
            if run:
                out.append("".join(run))
                run = []
            out.append(ch)
        elif cat[0] in "LM" or cat == "Nd":
            run.append(ch)
        elif run:
            out.append("".join(run))
            run = []
    if run:
        out.append("".join(run))
    return tuple(out)


def occurrences(passage: str, phrase: str) -> int:
    """How many start positions in `passage` begin the tokens of `phrase`."""
    hay = _tokens(passage)
    want = _tokens(phrase)
    n = len(want)
    return sum(1 for i in range(len(hay) - n + 1) if hay[i : i + n] == want)


def count(passages: Iterable[tuple[str, int, str]], phrase: str) -> dict[str, object]:
    """Totals over (statement id, year, passage text) rows: statements, passages,
    occurrences, and per year (statements, occurrences)."""
    statements: set[str] = set()
    n_passages = 0
    total = 0
    year_statements: dict[int, set[str]] = {}
    year_occurrences: dict[int, int] = {}
    for sid, year, text in passages:
        c = occurrences(text, phrase)
        if not c:
            continue
        statements.add(sid)
        n_passages += 1
        total += c
        year_statements.setdefault(year, set()).add(sid)
        year_occurrences[year] = year_occurrences.get(year, 0) + c
    return {
        "statements": len(statements),
        "passages": n_passages,
        "occurrences": total,
        "per_year": {
            y: (len(year_statements[y]), year_occurrences[y]) for y in sorted(year_statements)
        },
    }
