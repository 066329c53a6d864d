"""The workloads: what is measured, on which data, against which baselines, and the
correctness gate. Each workload returns report tables (`bench.report.Table`) and raw
samples; `bench.__main__` runs them in order and `bench.report` writes them out.

Latencies are wall-clock milliseconds of one call, repeated; cold means a fresh `Search`
(no result cache) and an emptied record cache, warm means the same call again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np

from bench.baselines import Exact, ExactScan, Fts5, Grep, RegexScan
from bench.datasets import REPO, dir_mb

# ---- the queries -----------------------------------------------------------------------

UN_FORMULAS = [
    "sustainable development",
    "international peace and security",
    "the united nations",
    "human rights",
    "climate change",
    "general assembly",
    "security council",
    "nuclear weapons",
    "peaceful coexistence",
    "self-determination",
    "millennium development goals",
    "weapons of mass destruction",
    "the rule of law",
    "developing countries",
    "new international economic order",
]
COMMON_PAIRS = [
    "of the",
    "in the",
    "to the",
    "and the",
    "on the",
    "for the",
    "it is",
    "we are",
    "that the",
    "of all",
    "by the",
    "at the",
]
RARE_NAMES = [
    "Hammarskjöld",
    "Pérez de Cuéllar",
    "Boutros-Ghali",
    "Kofi Annan",
    "Ban Ki-moon",
    "Guterres",
    "Mandela",
    "Gorbachev",
    "Lumumba",
    "Nehru",
]
# The Kremlin + Chinese dataset: Chinese, Russian (the corpora hold no Russian text, so
# these measure the empty answer) and Kremlin English.
CHINESE = ["新时代", "改革开放", "人民代表大会", "社会主义现代化"]
RUSSIAN = ["стратегическое взаимодействие", "Россия"]
KREMLIN_EN = ["comprehensive strategic partnership", "New Year", "Xi Jinping", "of the"]
YEARS = (2000, 2024)


@dataclass(frozen=True)
class Q:
    """One benchmark query: a phrase, its category, optionally a year range."""

    phrase: str
    category: str
    years: tuple[int, int] | None = None

    @property
    def text(self) -> str:
        q = f'"{self.phrase}"'
        return q + (f" year:{self.years[0]}..{self.years[1]}" if self.years else "")

    @property
    def label(self) -> str:
        return self.phrase + (f" [{self.years[0]}–{self.years[1]}]" if self.years else "")


def queries(categories: dict[str, list[str]], with_years: bool = True) -> list[Q]:
    out = [Q(p, c) for c, ps in categories.items() for p in ps]
    if with_years:
        out += [Q(q.phrase, q.category + " + years", YEARS) for q in out]
    return out


def ungdc_queries(with_years: bool = True) -> list[Q]:
    return queries(
        {"UN formula": UN_FORMULAS, "common pair": COMMON_PAIRS, "rare name": RARE_NAMES},
        with_years,
    )


def kremzh_queries(with_years: bool = True) -> list[Q]:
    return queries(
        {"Chinese": CHINESE, "Russian": RUSSIAN, "Kremlin English": KREMLIN_EN}, with_years
    )


# ---- measuring -------------------------------------------------------------------------


def page_in(*paths: Path) -> int:
    """Read every file under `paths` once, so that a system's first measured call does not
    pay for pages the kernel evicted while the run built or scanned other files (each
    system gets this before its own workload). Returns the bytes read."""
    total = 0
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            with open(f, "rb", buffering=0) as fh:
                while chunk := fh.read(1 << 20):
                    total += len(chunk)
    return total


def fits_in_page_cache(root: Path) -> bool:
    """Whether the files under `root` fit in the memory the kernel reports available, with
    half of it to spare (else reading them ahead would only evict them again)."""
    size = dir_mb(root) * 1e6
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                return size * 2 < int(line.split()[1]) * 1024
    return False


def ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


@dataclass
class Samples:
    """Latencies (ms) of one system on one workload, with the query of each."""

    system: str
    values: list[float] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    note: str = ""

    def add(self, value: float, label: str = "") -> None:
        self.values.append(value)
        self.labels.append(label)

    def pct(self, q: float) -> float:
        return float(np.percentile(self.values, q)) if self.values else float("nan")

    @property
    def p50(self) -> float:
        return self.pct(50)

    def per_query_medians(self) -> dict[str, float]:
        by: dict[str, list[float]] = {}
        for v, lab in zip(self.values, self.labels, strict=True):
            by.setdefault(lab, []).append(v)
        return {k: float(np.median(v)) for k, v in by.items()}

    def medians(self) -> Samples:
        """One value per query: the median of its repetitions (what percentiles use, so
        that a query repeated more often does not weigh more)."""
        out = Samples(self.system, note=self.note)
        for lab, v in self.per_query_medians().items():
            out.add(v, lab)
        return out


def fresh_search(backend: Any) -> Any:
    """A Search with nothing cached above the engine (and the embedded record cache empty),
    set up as the service sets it up: the formula lexicon's matches, stored at ingest, are
    read from disk (a new store object each time, so nothing is held in memory)."""
    from app.services.formulas import lexicon_nodes, load_lexicon
    from indexer.matchstore import MatchStore
    from indexer.search import Search

    clear = getattr(backend, "clear_record_cache", None)
    if clear is not None:
        clear()
    path = getattr(backend, "path", None)
    if path is None:
        return Search(backend)
    search = Search(backend, store=MatchStore(Path(path).parent / "derived"))
    search.persist(lexicon_nodes(load_lexicon(REPO / "corpus")))
    return search


def open_embedded(data_dir: Path, native: bool | None = None) -> Any:
    """The embedded backend over `data_dir`; `native` as EmbeddedBackend takes it (None:
    the native matcher when installed)."""
    from indexer.backends.embedded import EmbeddedBackend, default_path

    return EmbeddedBackend(default_path(data_dir), native=native)


def top20(search: Any, q: Q) -> Any:
    return search.search(search.query(q.text), limit=20, context=60, snippets=3)


def run_phrase_api(
    backend: Any, qs: Sequence[Q], reps_cold: int, reps_warm: int, prefix: str = "Tifa embedded API"
) -> tuple[Samples, Samples, dict[str, Any]]:
    """Top-20 with KWIC through `Search`, cold then warm; also the totals of each query."""
    cold, warm = Samples(f"{prefix}, cold"), Samples(f"{prefix}, warm")
    totals: dict[str, Any] = {}
    for _ in range(reps_cold):
        for q in qs:
            s = fresh_search(backend)
            t, page = ms(lambda s=s, q=q: top20(s, q))
            cold.add(t, q.label)
            totals[q.label] = page.totals
    s = fresh_search(backend)
    for q in qs:
        top20(s, q)
    for _ in range(reps_warm):
        for q in qs:
            t, _ = ms(lambda q=q: top20(s, q))
            warm.add(t, q.label)
    return cold, warm, totals


# ---- the correctness gate --------------------------------------------------------------


@dataclass
class GateResult:
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    grep_wrong: list[tuple[str, str, int, int]] = field(
        default_factory=list
    )  # tool, phrase, got, want
    fts5_wrong: list[tuple[str, tuple[int, int, int], tuple[int, int, int]]] = field(
        default_factory=list
    )
    tokenizer: list[str] = field(default_factory=list)
    grep_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.tokenizer


def gate(
    name: str, backend: Any, scan: ExactScan, qs: Sequence[Q], result: GateResult
) -> dict[str, Exact]:
    """Compare Tifa's exact totals and per-year counts with the exact scan, phrase by
    phrase; every difference is a failure."""
    from indexer.query import MatchAll

    search = fresh_search(backend)
    exact: dict[str, Exact] = {}
    for q in qs:
        want = scan.count(q.phrase, q.years)
        exact[q.label] = want
        node = search.query(q.text)
        page = search.search(node, limit=1, snippets=0, facets=False)
        got = (page.totals.statements, page.totals.passages, page.totals.occurrences)
        if got != (want.statements, want.passages, want.occurrences):
            result.failures.append(
                f"{name}: {q.label!r} totals (statements, passages, occurrences) "
                f"Tifa {got} != exact {(want.statements, want.passages, want.occurrences)}"
            )
        per_year = {
            int(p.period): (p.statements, p.occurrences)
            for p in search.timeline(node, MatchAll())
            if p.statements or p.occurrences
        }
        if per_year != want.per_year:
            diff = sorted(
                y
                for y in set(per_year) | set(want.per_year)
                if per_year.get(y) != want.per_year.get(y)
            )
            result.failures.append(
                f"{name}: {q.label!r} per-year counts differ in {diff[:5]} "
                f"(Tifa {[per_year.get(y) for y in diff[:3]]}, exact "
                f"{[want.per_year.get(y) for y in diff[:3]]})"
            )
        result.checked += 1
    return exact


# ---- an HTTP server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(data_dir: Path, workers: int, log: Path) -> Iterator[str]:
    """`tifa serve` (uvicorn workers on their own SO_REUSEPORT sockets) over the index in
    `data_dir`, as a user starts it."""
    port = free_port()
    env = {**os.environ, "TIFA_DATA_DIR": str(data_dir), "TIFA_CORPUS_DIR": str(REPO / "corpus")}
    cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not become ready in 120 s")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def search_params(q: Q, **extra: Any) -> dict[str, Any]:
    return {"q": q.text, "limit": 20, **extra}


def run_phrase_http(url: str, qs: Sequence[Q], reps_warm: int) -> tuple[Samples, Samples, Samples]:
    """First request of each query (cold in the server) and repeated ones (warm), from a
    bare keep-alive HTTP/1.1 client (the standard library's); then the warm ones again
    through httpx, whose own cost per request is part of what a Python caller sees."""
    first, warm = Samples("Tifa HTTP, first request"), Samples("Tifa HTTP, warm")
    warm_httpx = Samples("Tifa HTTP, warm, through httpx")
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)

    def get(q: Q) -> float:
        t0 = time.perf_counter()
        conn.request("GET", "/api/v1/search?" + urlencode(search_params(q)))
        resp = conn.getresponse()
        body = resp.read()
        took = (time.perf_counter() - t0) * 1000
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status} for {q.text!r}: {body[:200]!r}")
        return took

    try:
        for q in qs:
            first.add(get(q), q.label)
        for _ in range(reps_warm):
            for q in qs:
                warm.add(get(q), q.label)
    finally:
        conn.close()
    with httpx.Client(base_url=url, timeout=120) as c:
        for _ in range(reps_warm):
            for q in qs:
                t, r = ms(lambda q=q: c.get("/api/v1/search", params=search_params(q)))
                r.raise_for_status()
                warm_httpx.add(t, q.label)
    return first, warm, warm_httpx


# ---- baselines on phrase queries ------------------------------------------------------


def run_grep(tool: Grep, qs: Sequence[Q], reps: int) -> tuple[Samples, dict[str, int]]:
    out = Samples(tool.name, note="passages (lines) only; no year filter, no KWIC")
    counts: dict[str, int] = {}
    for _ in range(reps):
        for q in qs:
            if q.years:
                continue
            t, n = ms(lambda q=q: tool.count(q.phrase))
            out.add(t, q.label)
            counts[q.phrase] = n
    return out, counts


def run_fts5(
    fts: Fts5, qs: Sequence[Q], reps: int
) -> tuple[Samples, Samples, dict[str, tuple[int, int, int]]]:
    top, tot = (
        Samples("SQLite FTS5 top-20 + KWIC"),
        Samples("SQLite FTS5 exact totals (inst_count)"),
    )
    totals: dict[str, tuple[int, int, int]] = {}
    for _ in range(reps):
        for q in qs:
            t, _ = ms(lambda q=q: fts.top20(q.phrase, q.years))
            top.add(t, q.label)
    for q in qs:
        t, totals[q.label] = ms(lambda q=q: fts.totals(q.phrase, q.years))
        tot.add(t, q.label)
    return top, tot, totals


def run_scan(scan: ExactScan, qs: Sequence[Q]) -> Samples:
    out = Samples("Python exact scan (in memory)", note="exact totals, no KWIC")
    for q in qs:
        t, _ = ms(lambda q=q: scan.count(q.phrase, q.years))
        out.add(t, q.label)
    return out


def run_regex(regex: RegexScan, qs: Sequence[Q]) -> Samples:
    out = Samples(regex.name, note=f"{len(qs)} queries only (seconds each)")
    for q in qs:
        t, _ = ms(lambda q=q: regex.count(q.phrase))
        out.add(t, q.label)
    return out


# ---- timelines, formulas, series -------------------------------------------------------


def run_timelines(
    backend: Any, qs: Sequence[Q], reps_cold: int, reps_warm: int
) -> tuple[Samples, Samples]:
    from indexer.query import MatchAll

    cold, warm = Samples("Tifa timeline, cold"), Samples("Tifa timeline, warm")
    for _ in range(reps_cold):
        for q in qs:
            s = fresh_search(backend)
            t, _ = ms(lambda s=s, q=q: s.timeline(s.query(q.text), MatchAll()))
            cold.add(t, q.label)
    s = fresh_search(backend)
    for q in qs:
        s.timeline(s.query(q.text), MatchAll())
    for _ in range(reps_warm):
        for q in qs:
            t, _ = ms(lambda q=q: s.timeline(s.query(q.text), MatchAll()))
            warm.add(t, q.label)
    return cold, warm


def run_formula_timelines(
    backend: Any, reps_cold: int, reps_warm: int
) -> tuple[Samples, Samples, int]:
    from app.services import formulas as fs

    lexicon = fs.load_lexicon(REPO / "corpus")
    cold, warm = Samples("Tifa formula timeline, cold"), Samples("Tifa formula timeline, warm")
    for _ in range(reps_cold):
        for f in lexicon:
            s = fresh_search(backend)
            t, _ = ms(lambda s=s, f=f: fs.timeline(s, f))
            cold.add(t, f.id)
    s = fresh_search(backend)
    for f in lexicon:
        fs.timeline(s, f)
    for _ in range(reps_warm):
        for f in lexicon:
            t, _ = ms(lambda f=f: fs.timeline(s, f))
            warm.add(t, f.id)
    return cold, warm, len(lexicon)


def run_series(backend: Any, reps_cold: int, reps_warm: int) -> tuple[list[Samples], str]:
    from app.services import diffs, series

    catalog = series.load_catalog(REPO / "corpus")
    as_of = dt.date(2025, 6, 30)
    sid = "china-russia-new-year"
    s0 = fresh_search(backend)
    years = [y.year for y in series.series_view(s0, catalog, sid, as_of).years if y.statements]
    years = years[-6:] or [2019, 2020]
    calls: list[tuple[str, Callable[[Any, int], Any]]] = [
        ("series anomalies", lambda s, y: series.series_anomalies(s, catalog, sid, y, as_of)),
        (
            "series diff (year − 1 → year)",
            lambda s, y: diffs.diff_series_years(s, catalog, sid, y - 1, y, as_of),
        ),
    ]
    out = []
    for name, call in calls:
        cold, warm = Samples(f"{name}, cold"), Samples(f"{name}, warm")
        for _ in range(reps_cold):
            for y in years:
                s = fresh_search(backend)
                t, _ = ms(lambda s=s, y=y, call=call: call(s, y))
                cold.add(t, str(y))
        s = fresh_search(backend)
        for y in years:
            call(s, y)
        for _ in range(reps_warm):
            for y in years:
                t, _ = ms(lambda s=s, y=y, call=call: call(s, y))
                warm.add(t, str(y))
        out += [cold, warm]
    return out, f"series {sid}, season years {years[0]}–{years[-1]}, as of {as_of}"


# ---- export and paging -----------------------------------------------------------------


def run_export(
    backend: Any, url: str | None, phrase: str, greps: Sequence[Grep], reps: int
) -> tuple[list[Samples], dict[str, int]]:
    node_text = f'"{phrase}"'
    api_cold, api_warm = Samples("Tifa API kwic_rows, cold"), Samples("Tifa API kwic_rows, warm")
    rows: dict[str, int] = {}
    for _ in range(reps):
        s = fresh_search(backend)
        t, n = ms(lambda s=s: sum(1 for _ in s.kwic_rows(s.query(node_text), limit=10_000)))
        api_cold.add(t, phrase)
        rows["Tifa API"] = n
        t, n = ms(lambda s=s: sum(1 for _ in s.kwic_rows(s.query(node_text), limit=10_000)))
        api_warm.add(t, phrase)
    out = [api_cold, api_warm]
    if url:
        http = Samples("Tifa HTTP format=csv")
        with httpx.Client(base_url=url, timeout=300) as c:
            for _ in range(reps):
                params = {"q": node_text, "format": "csv", "export_limit": 10_000}
                t, r = ms(lambda params=params: c.get("/api/v1/search", params=params))
                r.raise_for_status()
                http.add(t, phrase)
                rows["Tifa HTTP"] = r.text.count("\n") - 1
        out.append(http)
    for g in greps:
        smp = Samples(f"{g.tool} -F -i -w -m 10000", note="whole lines, no offsets")
        for _ in range(reps):
            t, n = ms(lambda g=g: g.export(phrase, 10_000))
            smp.add(t, phrase)
            rows[g.tool] = n
        out.append(smp)
    return out, rows


def run_paging(
    backend: Any, url: str | None, phrase: str, limit: int = 200
) -> tuple[list[Samples], list[str]]:
    """Every page of a common phrase's hits, by cursor; checks each statement comes once."""
    problems: list[str] = []
    out = []
    s = fresh_search(backend)
    node = s.query(f'"{phrase}"')
    api = Samples(f"Tifa API, pages of {limit}")
    seen: list[str] = []
    cursor = None
    total = None
    while True:
        t, page = ms(lambda cursor=cursor: s.search(node, limit=limit, cursor=cursor, snippets=1))
        api.add(t, f"page {len(api.values) + 1}")
        total = page.totals.statements
        seen += [h.statement.id for h in page.hits]
        cursor = page.next
        if cursor is None:
            break
    if len(seen) != len(set(seen)) or len(seen) != total:
        problems.append(
            f"API paging: {len(seen)} returned, {len(set(seen))} distinct, total {total}"
        )
    out.append(api)
    if url:
        http = Samples(f"Tifa HTTP, pages of {limit}")
        seen = []
        params: dict[str, Any] = {"q": f'"{phrase}"', "limit": limit, "snippets": 1}
        with httpx.Client(base_url=url, timeout=300) as c:
            while True:
                t, r = ms(lambda params=params: c.get("/api/v1/search", params=params))
                r.raise_for_status()
                body = r.json()
                http.add(t, f"page {len(http.values) + 1}")
                seen += [h["id"] for h in body["results"]]
                total = body["total"]["statements"]
                if not body["next"]:
                    break
                params = {**params, "cursor": body["next"]}
        if len(seen) != len(set(seen)) or len(seen) != total:
            problems.append(
                f"HTTP paging: {len(seen)} returned, {len(set(seen))} distinct, total {total}"
            )
        out.append(http)
    return out, problems


# ---- mixed HTTP load -------------------------------------------------------------------


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    by_kind: dict[str, int]
    error_samples: list[str]
    latencies_by_kind: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def mixed_requests(
    qs: Sequence[Q], formula_ids: Sequence[str], statement_ids: Sequence[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    """The request mix: 70% search (with and without year filter), 10% ad-hoc timeline,
    10% formula timeline, 5% CSV export of 200 rows, 5% a statement."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for q in qs:
        out += [("search", "/api/v1/search", search_params(q))] * 7
        out.append(("timeline", "/api/v1/timeline", {"q": f'"{q.phrase}"'}))
    for f in formula_ids:
        out.append(("formula timeline", f"/api/v1/formulas/{f}/timeline", {}))
    for q in qs[:: max(1, len(qs) // 8)]:
        out.append(("csv", "/api/v1/search", {"q": q.text, "format": "csv", "export_limit": 200}))
    for sid in statement_ids:
        out.append(("statement", f"/api/v1/statements/{sid}", {}))
    return out


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response (Content-Length or chunked)."""
    status_line = await reader.readline()
    if not status_line:
        raise ValueError("connection closed")
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if not chunked:
        return int(status_line.split()[1]), await reader.readexactly(length)
    parts = []
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        data = await reader.readexactly(size + 2)  # the chunk and its CRLF
        if size == 0:
            break
        parts.append(data[:-2])
    return int(status_line.split()[1]), b"".join(parts)


def run_load(
    url: str,
    requests: Sequence[tuple[str, str, dict[str, Any]]],
    clients: int,
    seconds: float,
    seed: int = 1,
) -> LoadResult:
    """`clients` concurrent clients, each sending random requests of the mix back to back
    until `seconds` have passed (bounded in time, loopback only)."""
    lat: list[float] = []
    kinds: dict[str, int] = {}
    by_kind: dict[str, list[float]] = {}
    errors: list[str] = []
    host, port = url.removeprefix("http://").split(":")

    # A bare HTTP/1.1 keep-alive client on asyncio streams, one connection per client: the
    # load generator shares the 2 cores with the server, and httpx's AsyncClient spends
    # 7 ms of CPU per request at 64 connections (it, not the server, set the pace).
    async def client(i: int, deadline: float) -> None:
        rng = random.Random(seed * 1000 + i)
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline:
                kind, path, params = requests[rng.randrange(len(requests))]
                target = path + ("?" + urlencode(params) if params else "")
                t0 = time.perf_counter()
                try:
                    writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                    await writer.drain()
                    status, body = await _read_response(reader)
                    if status != 200:
                        errors.append(f"{status} {path} {params} {body[:120]!r}")
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__} {path}")
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                took = (time.perf_counter() - t0) * 1000
                lat.append(took)
                by_kind.setdefault(kind, []).append(took)
                kinds[kind] = kinds.get(kind, 0) + 1
        finally:
            writer.close()

    async def main() -> float:
        t0 = time.perf_counter()
        deadline = t0 + seconds
        await asyncio.gather(*(client(i, deadline) for i in range(clients)))
        return time.perf_counter() - t0

    took = asyncio.run(main())
    return LoadResult(len(lat), len(errors), took, lat, kinds, errors[:5], by_kind)
