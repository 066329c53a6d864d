"""The alternatives Tifa is measured against, each over the same passages: grep and
ripgrep over a one-passage-per-line dump, a Python regex scan of the raw text, an exact
Python scan of the folded tokens (also the correctness reference), and SQLite FTS5 over
the same pre-tokenised text (through apsw, which reaches per-row match counts).

Every baseline answers plain phrases only; each says what it counts.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets import Table, peak_rss_mb, run_child

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests/bruteforce.py is the independent tokenizer

from tests import bruteforce  # noqa: E402


def phrase_tokens(phrase: str) -> list[str]:
    """The phrase's tokens by the independent brute-force tokenizer."""
    return bruteforce.tokens(phrase)


@dataclass(frozen=True)
class Exact:
    """Exact counts of one phrase: totals and per year (statements, occurrences)."""

    statements: int
    passages: int
    occurrences: int
    per_year: dict[int, tuple[int, int]]


class ExactScan:
    """Exact phrase counts by scanning the folded tokens of every passage in memory.

    All passages are one string, " tok tok " per passage separated by newlines, so a
    phrase is the needle " a b " and each start position is one occurrence (overlaps
    included: the search resumes one character after each hit).
    """

    name = "Python exact scan (in memory)"

    def __init__(self, table: Table) -> None:
        parts = []
        starts = []
        pos = 0
        for toks in table.tokens:
            starts.append(pos)
            piece = f" {toks} \n"
            parts.append(piece)
            pos += len(piece)
        self.text = "".join(parts)
        self.starts = np.array(starts, dtype=np.int64)
        self.sids = table.sids
        self.years = table.years

    def passage_counts(self, phrase: str, years: tuple[int, int] | None = None) -> dict[int, int]:
        toks = phrase_tokens(phrase)
        if not toks:
            return {}
        needle = f" {' '.join(toks)} "
        found: list[int] = []
        find = self.text.find
        i = find(needle)
        while i >= 0:
            found.append(i)
            i = find(needle, i + 1)
        counts: dict[int, int] = {}
        rows = np.searchsorted(self.starts, np.array(found, dtype=np.int64), side="right") - 1
        for r in rows.tolist():
            if years and not years[0] <= self.years[r] <= years[1]:
                continue
            counts[r] = counts.get(r, 0) + 1
        return counts

    def count(self, phrase: str, years: tuple[int, int] | None = None) -> Exact:
        counts = self.passage_counts(phrase, years)
        statements: set[str] = set()
        per_year_s: dict[int, set[str]] = {}
        per_year_o: dict[int, int] = {}
        for r, c in counts.items():
            sid, y = self.sids[r], self.years[r]
            statements.add(sid)
            per_year_s.setdefault(y, set()).add(sid)
            per_year_o[y] = per_year_o.get(y, 0) + c
        return Exact(
            statements=len(statements),
            passages=len(counts),
            occurrences=sum(counts.values()),
            per_year={y: (len(per_year_s[y]), per_year_o[y]) for y in sorted(per_year_s)},
        )


def tokenizer_check(table: Table, n: int = 2000, seed: int = 7) -> list[str]:
    """Passages (by index) whose stored tokens differ from the brute-force tokenizer's,
    for a seeded sample: the exact scan relies on the table's tokens."""
    rng = random.Random(seed)
    idx = rng.sample(range(len(table)), min(n, len(table)))
    bad = []
    for i in idx:
        if " ".join(bruteforce.tokens(table.texts[i])) != table.tokens[i]:
            bad.append(f"passage {i} of {table.sids[i]}")
    return bad


class RegexScan:
    """A Python regex over the raw text, one passage per line: what a script would do.
    Words separated by any run of non-word characters, case-insensitive."""

    name = "Python regex (raw text)"

    def __init__(self, table: Table) -> None:
        self.text = "\n".join(t.replace("\n", " ") for t in table.texts)

    def count(self, phrase: str) -> int:
        toks = phrase_tokens(phrase)
        body = r"[\W_]+".join(re.escape(t) for t in toks)
        pattern = re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
        return sum(1 for _ in pattern.finditer(self.text))


def write_dump(table: Table, path: Path) -> Path:
    """One passage per line, raw text, for grep and ripgrep."""
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for t in table.texts:
                f.write(t.replace("\n", " ").replace("\r", " "))
                f.write("\n")
        os.replace(tmp, path)
    return path


class Grep:
    """`grep -c -F -i -w` (or `rg -c -F -i -w`) over the dump: matching lines = passages."""

    def __init__(self, tool: str, dump: Path) -> None:
        self.tool = tool
        self.dump = dump
        self.name = f"{tool} -c -F -i -w"
        self.env = {**os.environ, "LC_ALL": "C.UTF-8"}

    @staticmethod
    def available(tool: str) -> bool:
        return shutil.which(tool) is not None

    def count(self, phrase: str) -> int:
        cmd = [self.tool, "-c", "-F", "-i", "-w", "--", phrase, str(self.dump)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=self.env, check=False)
        if out.returncode not in (0, 1):
            raise RuntimeError(f"{self.tool} failed: {out.stderr}")
        return int(out.stdout.strip() or 0)

    def export(self, phrase: str, limit: int) -> int:
        """Print up to `limit` matching lines (grep's idea of a KWIC export); lines out."""
        cmd = [self.tool, "-F", "-i", "-w", "-m", str(limit), "--", phrase, str(self.dump)]
        out = subprocess.run(cmd, capture_output=True, env=self.env, check=False)
        return out.stdout.count(b"\n")


# ---- SQLite FTS5 ----------------------------------------------------------------------


def fts_phrase(phrase: str) -> str:
    """The phrase as an FTS5 phrase string over our tokens."""
    return '"' + " ".join(phrase_tokens(phrase)).replace('"', '""') + '"'


class Fts5:
    """SQLite FTS5 over the folded tokens (unicode61, remove_diacritics 0), one row per
    passage, with statement id, year and raw text in a side table; the full-text index
    drives every join (CROSS JOIN). Exact occurrences come from `inst_count`."""

    name = "SQLite FTS5 (apsw)"

    def __init__(self, db: Path) -> None:
        import apsw

        self.conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
        self.conn.register_fts5_function("inst_count", lambda api, *a: api.inst_count)

    def top20(
        self, phrase: str, years: tuple[int, int] | None = None, context: int = 60
    ) -> list[Any]:
        sql = (
            "SELECT p.sid, p.year, p.text FROM fts CROSS JOIN p ON p.id = fts.rowid "
            "WHERE fts MATCH ?"
            + (" AND p.year BETWEEN ? AND ?" if years else "")
            + " ORDER BY bm25(fts) LIMIT 20"
        )
        args: tuple[Any, ...] = (fts_phrase(phrase), *(years or ()))
        rows = list(self.conn.execute(sql, args))
        # KWIC from the raw text, as Tifa shows it.
        toks = phrase_tokens(phrase)
        pattern = re.compile(r"[\W_]+".join(re.escape(t) for t in toks), re.IGNORECASE)
        out = []
        for sid, year, text in rows:
            m = pattern.search(text)
            if m:
                out.append((sid, year, text[max(0, m.start() - context) : m.end() + context]))
            else:
                out.append((sid, year, text[: 2 * context]))
        return out

    def totals(self, phrase: str, years: tuple[int, int] | None = None) -> tuple[int, int, int]:
        # An auxiliary function cannot sit inside an aggregate: count in a materialised CTE.
        sql = (
            "WITH m AS MATERIALIZED (SELECT rowid AS r, inst_count(fts) AS n FROM fts "
            "WHERE fts MATCH ?) SELECT count(DISTINCT p.sid), count(*), sum(m.n) FROM m "
            "CROSS JOIN p ON p.id = m.r" + (" WHERE p.year BETWEEN ? AND ?" if years else "")
        )
        row = next(iter(self.conn.execute(sql, (fts_phrase(phrase), *(years or ())))))
        return int(row[0]), int(row[1]), int(row[2] or 0)

    def timeline(self, phrase: str) -> dict[int, tuple[int, int]]:
        sql = (
            "WITH m AS MATERIALIZED (SELECT rowid AS r, inst_count(fts) AS n FROM fts "
            "WHERE fts MATCH ?) SELECT p.year, count(DISTINCT p.sid), sum(m.n) FROM m "
            "CROSS JOIN p ON p.id = m.r GROUP BY p.year"
        )
        return {
            int(y): (int(s), int(o)) for y, s, o in self.conn.execute(sql, (fts_phrase(phrase),))
        }


@dataclass(frozen=True)
class Fts5Build:
    passages: int
    seconds: float
    peak_rss_mb: float
    size_mb: float


def fts5_index(table_pkl: Path, db: Path) -> Fts5Build:
    """Build (unless cached) the FTS5 database in a child process; its statistics."""
    stats = db.with_suffix(".json")
    if stats.exists() and db.exists():
        return Fts5Build(**json.loads(stats.read_text()))
    if db.exists():
        db.unlink()
    code, _, rss = run_child(
        ["bench.baselines", "fts5", str(table_pkl), str(db)], db.with_suffix(".log")
    )
    if code != 0:
        raise RuntimeError(f"FTS5 build failed: {db.with_suffix('.log').read_text()[-2000:]}")
    child = json.loads(db.with_suffix(".child.json").read_text())
    result = Fts5Build(
        child["passages"], child["seconds"], child.get("peak_rss_mb", rss), db.stat().st_size / 1e6
    )
    stats.write_text(json.dumps(result.__dict__))
    return result


def _fts5_main(table_pkl: Path, db: Path) -> int:
    """Child process: load the pre-tokenised table and build the FTS5 database, timed."""
    import apsw

    with table_pkl.open("rb") as f:
        table: Table = pickle.load(f)
    t0 = time.perf_counter()
    conn = apsw.Connection(str(db))
    conn.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144")
    conn.execute(
        "CREATE VIRTUAL TABLE fts USING fts5(tokens, tokenize='unicode61 remove_diacritics 0');"
        "CREATE TABLE p(id INTEGER PRIMARY KEY, sid TEXT, year INTEGER, text TEXT);"
    )
    with conn:
        conn.executemany("INSERT INTO fts(rowid, tokens) VALUES (?, ?)", enumerate(table.tokens))
        conn.executemany(
            "INSERT INTO p VALUES (?, ?, ?, ?)",
            (
                (i, s, y, t)
                for i, (s, y, t) in enumerate(
                    zip(table.sids, table.years, table.texts, strict=True)
                )
            ),
        )
    conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
    conn.close()
    seconds = time.perf_counter() - t0
    db.with_suffix(".child.json").write_text(
        json.dumps({"passages": len(table), "seconds": seconds, "peak_rss_mb": peak_rss_mb()})
    )
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["fts5"]:
        raise SystemExit(_fts5_main(Path(sys.argv[2]), Path(sys.argv[3])))
    raise SystemExit("usage: python -m bench.baselines fts5 TABLE.pkl DB")
