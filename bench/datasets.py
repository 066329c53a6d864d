"""Benchmark datasets: the public corpora read through Tifa's own readers, seeded synthetic
growth drawn from them, and the built indexes, all cached under `var/bench/` by dataset
and code version so that a rerun reuses what an earlier run built.

A dataset is a list of statements plus a flat passage table (statement id, year, raw
text, folded tokens) that every baseline reads, so that Tifa and the baselines see the
same passages.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import json
import os
import pickle
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Self

import orjson

from indexer.model import Passage, Statement

REPO = Path(__file__).resolve().parents[1]
SEED = 20240917

# Input files per corpus, in the order they are looked for: the shared full corpora, then
# the slices in tests/data (what `--quick` and CI use when pointed there).
SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "ungdc": (("ungdc_en.jsonl.gz", "ungdc"), ("ungdc_slice.jsonl", "ungdc")),
    "kremlin": (("kremlin_en.jsonl.gz", "kremlin"), ("kremlin_slice.jsonl", "kremlin")),
    "govzh": (
        ("gov_work_reports_zh.jsonl.gz", "govzh"),
        ("govzh_slice.jsonl", "govzh"),
    ),
}


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset holds: corpora (each optionally cut to its first `limit` statements)
    and, optionally, synthetic statements added until `grow_to` passages."""

    name: str
    corpora: tuple[str, ...]
    limit: int | None = None
    grow_to: int | None = None
    base: str | None = None  # the dataset whose index a grown one starts from

    def describe(self) -> str:
        parts = " + ".join(self.corpora)
        if self.limit:
            parts += f" (first {self.limit:,} statements of each)"
        if self.grow_to:
            parts += f", grown with seeded synthetic passages to {self.grow_to:,}"
        return parts


@dataclass
class Table:
    """The flat passage table every baseline reads (one row per passage)."""

    sids: list[str]
    years: list[int]
    texts: list[str]
    tokens: list[str]  # folded tokens joined by single spaces
    statements: int = 0
    languages: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sids)


def code_version() -> str:
    """A short hash of the engine and dataset code: a cached index is reused only when
    none of the code that built it changed."""
    h = hashlib.sha256()
    files = [
        *sorted((REPO / "indexer").rglob("*.py")),
        REPO / "indexer" / "backends" / "elastic" / "mappings.json",
        REPO / "indexer" / "backends" / "frequent_words.txt",  # which pairs are indexed
        # The native extension writes the embedded index when it is installed, with the
        # snippet finder's views as its tokeniser beyond ASCII; its matcher (lib.rs)
        # only reads it.
        REPO / "native" / "src" / "writer.rs",
        REPO / "native" / "src" / "snippets.rs",
        REPO / "native" / "Cargo.toml",
        Path(__file__),
    ]
    for f in files:
        h.update(f.relative_to(REPO).as_posix().encode())
        if f.suffix == ".py":
            # The syntax tree, not the bytes: reformatting or comments do not force a rebuild.
            h.update(ast.dump(ast.parse(f.read_text(encoding="utf-8"))).encode())
        else:
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def resolve(corpus: str, shared: Path) -> tuple[Path, str]:
    """The input file and preset of `corpus` under `shared` (full corpus or slice)."""
    for name, preset in SOURCES[corpus]:
        if (shared / name).exists():
            return shared / name, preset
    raise FileNotFoundError(f"no {corpus} corpus under {shared} (looked for {SOURCES[corpus]})")


@functools.cache
def _content_digest(path: Path, size: int, mtime_ns: int) -> str:
    """A digest of the file's bytes (about 0.2 s for all the corpora), looked at once per
    process for each size and modification time: datasets are keyed by what the corpus
    holds, not when it was copied (the shared corpora are re-created with new times)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class Store:
    """Where one run keeps and finds its cached datasets and indexes."""

    def __init__(self, var: Path, shared: Path, version: str | None = None) -> None:
        self.shared = shared.resolve()
        # A child process is handed the parent's version: code edited meanwhile must not
        # send its results elsewhere.
        self.version = version or code_version()
        self.root = var.resolve() / self.version
        self.root.mkdir(parents=True, exist_ok=True)

    def key(self, spec: DatasetSpec) -> str:
        h = hashlib.sha256(repr(spec).encode())
        for corpus in spec.corpora:
            path, _ = resolve(corpus, self.shared)
            st = path.stat()
            h.update(f"{path.name}:{_content_digest(path, st.st_size, st.st_mtime_ns)}".encode())
        return f"{spec.name}-{h.hexdigest()[:10]}"

    def dir(self, spec: DatasetSpec) -> Path:
        d = self.root / self.key(spec)
        d.mkdir(parents=True, exist_ok=True)
        return d


# ---- statements ------------------------------------------------------------------------


def read_corpus(corpus: str, shared: Path, limit: int | None) -> Iterator[Statement]:
    """Statements of one corpus through Tifa's reader and preset (rejections dropped)."""
    from indexer.sources import read

    path, preset = resolve(corpus, shared)
    n = 0
    for item in read(path, preset=preset):
        if isinstance(item, Statement):
            yield item
            n += 1
            if limit is not None and n >= limit:
                return


def _cached(path: Path, build: Any) -> Any:
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    value = build()
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return value


def statements(store: Store, spec: DatasetSpec) -> list[Statement]:
    """The dataset's statements (read once, then from the cache)."""

    def build() -> list[Statement]:
        if spec.base is not None:
            raise ValueError("a grown dataset is read as base + synthetic")
        out: list[Statement] = []
        for corpus in spec.corpora:
            out.extend(read_corpus(corpus, store.shared, spec.limit))
        return out

    return _cached(store.dir(spec) / "statements.pkl", build)  # type: ignore[no-any-return]


def synthetic(base: Sequence[Statement], n_passages: int, seed: int = SEED) -> Iterator[Statement]:
    """Seeded synthetic statements with `n_passages` passages in all.

    Each passage is a recombination of chunks of 4 to 12 words cut from random real
    passages, so word frequencies, common pairs and formula rates follow the real corpus
    (a formula survives whenever it falls inside one chunk); lengths, dates and metadata
    are drawn from real statements. Deterministic for a given base and seed.
    """
    rng = random.Random(seed)
    pool = [p.text for st in base for p in st.passages if p.text.strip()]
    lengths = [len(t.split()) for t in pool]
    made = 0
    n = 0
    while made < n_passages:
        model = base[rng.randrange(len(base))]
        k = min(max(len(model.passages), 1), n_passages - made)
        texts = []
        for _ in range(k):
            target = lengths[rng.randrange(len(lengths))]
            words: list[str] = []
            while len(words) < target:
                src = pool[rng.randrange(len(pool))]
                size = rng.randint(4, 12)
                # Split only a window around a random point (splitting whole passages
                # made 10M passages take an hour); its first word may be cut, so it is
                # dropped unless the window starts the passage.
                at = rng.randrange(len(src))
                piece = src[at : at + 16 * size].split()
                words.extend(piece[1 : size + 1] if at else piece[:size])
            texts.append(" ".join(words[:target]) or "empty")
        passages = tuple(Passage(number=i, text=t) for i, t in enumerate(texts))
        n += 1
        made += k
        yield replace(
            model,
            id=f"synthetic-{n:08d}",
            title=f"Synthetic statement {n}",
            text="\n\n".join(texts),
            passages=passages,
        )


def synthetic_file(store: Store, spec: DatasetSpec, base: DatasetSpec) -> tuple[Path, int]:
    """The synthetic part of a grown dataset as JSONL statement records (written once,
    streaming), and the number of passages of its base.

    Ingest reads it line by line, as `tifa ingest` reads a corpus: the input is never
    held in memory, so the ingest child's peak RSS is ingest's own at any size, and
    generating it is not part of the ingest time.
    """
    assert spec.grow_to is not None
    path = store.dir(spec) / "synthetic.jsonl"
    info = path.with_suffix(".json")
    if path.exists() and info.exists():
        return path, int(json.loads(info.read_text())["base_passages"])
    base_st = statements(store, base)
    have = sum(len(st.passages) for st in base_st)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for st in synthetic(base_st, spec.grow_to - have):
            out.write(orjson.dumps(st.to_record()) + b"\n")
    os.replace(tmp, path)
    info.write_text(json.dumps({"base_passages": have}))
    return path, have


def read_synthetic(path: Path) -> Iterator[Statement]:
    """Statements of a `synthetic_file`, one line at a time."""
    from indexer.model import statement_from_stored

    with path.open("rb") as f:
        for line in f:
            yield statement_from_stored(orjson.loads(line))


def table(store: Store, spec: DatasetSpec, stmts: Sequence[Statement]) -> Table:
    """The passage table of `stmts` (cached): raw texts and folded tokens per passage."""
    from indexer.text import terms

    def build() -> Table:
        t = Table([], [], [], [], statements=len(stmts))
        for st in stmts:
            t.languages[st.language] = t.languages.get(st.language, 0) + 1
            for p in st.passages:
                t.sids.append(st.id)
                t.years.append(st.date.year)
                t.texts.append(p.text)
                t.tokens.append(" ".join(terms(p.text)))
        return t

    return _cached(store.dir(spec) / "table.pkl", build)  # type: ignore[no-any-return]


# ---- the embedded index, built in a child process --------------------------------------


@dataclass(frozen=True)
class IngestStats:
    statements: int
    passages: int
    seconds: float
    peak_rss_mb: float
    index_mb: float
    note: str = ""
    lexicon_seconds: float = 0.0  # precomputing the formula lexicon's matches after ingest
    merge_seconds: float = 0.0  # the writer's merges still running after the last commit
    peak_rss_lexicon_mb: float = 0.0  # VmHWM once the lexicon's matches are stored too
    peak_anon_lexicon_mb: float = 0.0  # the highest RssAnon sampled while storing them
    # The highest anonymous memory seen (RssAnon, sampled): the peak RSS less the pages of
    # mapped files, i.e. the index segments tantivy reads through mmap while merging,
    # which the kernel can drop and read again.
    peak_anon_mb: float = 0.0
    # When the build ran (UTC): a cached index keeps the figures of the run that built it.
    measured: str = ""
    # CPU seconds by kind of thread, ingest and its last merges ("total": the process's).
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.passages / self.seconds if self.seconds else 0.0


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM), in MB.

    Read in the child itself: the rusage `os.wait4` reports keeps, across exec, the high
    water mark of the parent's memory the child inherited at fork (Linux), so it says
    more about the benchmark process than about ingest."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Sampler:
    """Calls `_sample` every `interval` seconds in a thread while in a `with` block, and
    once more on leaving it."""

    interval = 0.05

    def __init__(self) -> None:
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        raise NotImplementedError


class AnonPeak(_Sampler):
    """Samples this process's RssAnon every 50 ms, keeping the highest."""

    def __init__(self) -> None:
        super().__init__()
        self.peak_mb = 0.0

    def _sample(self) -> None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
                    return
        except OSError:
            pass


# What each of the ingest child's threads is, by the name the kernel gives it (15
# characters at most): tantivy names its own; the rest are the Python main thread's.
_THREAD_KINDS = (
    ("thrd-tantivy-in", "tantivy indexing"),
    ("docstore-compre", "doc store compression"),
    ("merge_thread", "segment merges"),
)


class ThreadCpu(_Sampler):
    """Samples the CPU time of each of this process's threads every 100 ms, by kind:
    the main thread (Python, and the native tokeniser, which runs on it), tantivy's
    indexing threads, its doc store compressor and its merges. "other" is the rest of the
    process's own total (`os.times`, which counts ended threads): its other threads, and
    what a named thread spent after its last sample if it ended (at most 100 ms each)."""

    interval = 0.1

    def __init__(self) -> None:
        super().__init__()
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._seen: dict[int, tuple[str, float]] = {}
        self.seconds: dict[str, float] = {}

    def __enter__(self) -> Self:
        t = os.times()
        self._start = t.user + t.system
        self._before = self._read()
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        t = os.times()
        total = t.user + t.system - self._start
        by: dict[str, float] = {}
        for tid, (kind, cpu) in self._seen.items():
            if kind != "other":
                by[kind] = by.get(kind, 0.0) + cpu - self._before.get(tid, ("", 0.0))[1]
        # Everything else the process spent, ended threads included.
        by["other"] = max(0.0, total - sum(by.values()))
        self.seconds = {"total": total, **by}

    def _sample(self) -> None:
        self._seen.update(self._read())

    def _read(self) -> dict[int, tuple[str, float]]:
        # The sampler's own thread is left out (None until it starts: the first read,
        # made on entering, then counts every thread from its CPU so far).
        sampler, main = self._thread.native_id, os.getpid()
        out = {}
        for task in Path("/proc/self/task").iterdir():
            tid = int(task.name)
            if tid == sampler:
                continue
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue  # ended since the directory was listed
            # "tid (comm) state ...": comm may hold spaces; utime and stime are the 12th
            # and 13th fields after it.
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / self._ticks
            kind = "main thread" if tid == main else "other"
            for prefix, name in _THREAD_KINDS:
                if comm.startswith(prefix):
                    kind = name
            out[tid] = (kind, cpu)
        return out


def run_child(args: Sequence[str], log: Path) -> tuple[int, float, float]:
    """Run `python -m bench.<args>` and return (exit code, wall seconds, peak RSS MB) of
    that child alone (os.wait4 reports its own rusage, not the run's other children)."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 1024


def embedded_index(store: Store, spec: DatasetSpec, base: DatasetSpec | None = None) -> Path:
    """The data directory (TIFA_DATA_DIR) of the dataset's embedded index, built by a child
    process through `indexer.ingest.ingest` unless cached; `ingest.json` beside it holds
    the build's statistics."""
    d = store.dir(spec)
    data = d / "embedded"
    stats = d / "ingest.json"
    if stats.exists() and (data / "index").exists():
        return data
    if data.exists():
        shutil.rmtree(data)
    if base is not None:
        # Growth starts from the base corpus's index: only the synthetic part is ingested.
        shutil.copytree(embedded_index(store, base) / "index", data / "index")
        synthetic_file(store, spec, base)
    args = ["bench.datasets", "ingest", "--store", str(store.root.parent), "--version"]
    args += [store.version, "--shared"]
    args += [str(store.shared), "--spec", json.dumps(spec.__dict__), "--out", str(data)]
    if base is not None:
        args += ["--base", json.dumps(base.__dict__)]
    code, wall, rss = run_child(args, d / "ingest.log")
    if code != 0:
        raise RuntimeError(
            f"ingest of {spec.name} failed:\n{(d / 'ingest.log').read_text()[-3000:]}"
        )
    child = json.loads((d / "ingest-child.json").read_text())
    result = IngestStats(
        statements=child["statements"],
        passages=child["passages"],
        seconds=child["seconds"],
        peak_rss_mb=child.get("peak_rss_mb", rss),
        index_mb=dir_mb(data / "index"),
        note=f"child wall {wall:.1f} s incl. start-up; {child['note']}",
        lexicon_seconds=child.get("lexicon_seconds", 0.0),
        merge_seconds=child.get("merge_seconds", 0.0),
        peak_rss_lexicon_mb=child.get("peak_rss_lexicon_mb", 0.0),
        peak_anon_lexicon_mb=child.get("peak_anon_lexicon_mb", 0.0),
        peak_anon_mb=child.get("peak_anon_mb", 0.0),
        measured=_utc_minute(time.time()),
        cpu_seconds=child.get("cpu_seconds", {}),
    )
    stats.write_text(json.dumps(result.__dict__))
    return data


def rss_cell(st: IngestStats) -> str:
    """Peak RSS, with the anonymous part beside it when it was sampled."""
    anon = f" ({st.peak_anon_mb:,.0f} MB anon)" if st.peak_anon_mb else ""
    return f"{st.peak_rss_mb:,.0f} MB{anon}"


def _utc_minute(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def ingest_stats(store: Store, spec: DatasetSpec) -> IngestStats:
    """The statistics of the build that made the dataset's cached index."""
    path = store.dir(spec) / "ingest.json"
    values = json.loads(path.read_text())
    values.setdefault("measured", _utc_minute(path.stat().st_mtime))  # older caches
    return IngestStats(**values)


def spec_from_json(raw: str) -> DatasetSpec:
    values = json.loads(raw)
    values["corpora"] = tuple(values["corpora"])
    return DatasetSpec(**values)


def _ingest_main(argv: Sequence[str]) -> int:
    """Child process: ingest one dataset into an embedded index, timing `ingest()` from
    the reader's first record to the last commit."""
    import argparse

    from indexer.backends.embedded import EmbeddedBackend, default_path
    from indexer.ingest import ingest

    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path)
    ap.add_argument("--version")
    ap.add_argument("--shared", type=Path)
    ap.add_argument("--spec")
    ap.add_argument("--base")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    store = Store(a.store, a.shared, a.version)
    spec = spec_from_json(a.spec)
    backend = EmbeddedBackend(default_path(a.out))
    if a.base:
        base = spec_from_json(a.base)
        path, have = synthetic_file(store, spec, base)
        source: Any = read_synthetic(path)
        note = (
            f"synthetic part only, on top of {base.name}'s {have:,} passages; read line by "
            "line from the pre-generated JSONL (generating it is not timed)"
        )
    else:
        # Read from the files, as `tifa ingest` does: the reader is part of ingest, and
        # records stream (nothing is kept, so the peak RSS is ingest's own).
        source = (st for c in spec.corpora for st in read_corpus(c, store.shared, spec.limit))
        note = "read from the JSONL through the preset reader"
    t0 = time.perf_counter()
    with AnonPeak() as anon, ThreadCpu() as cpu:
        report = ingest(backend, source)
        seconds = time.perf_counter() - t0
        # The merges the last commits started run on in the background; the peak RSS is
        # read once they are done (their time is reported apart: the index is whole and
        # searchable from the last commit).
        t1 = time.perf_counter()
        backend.close()
        merge_seconds = time.perf_counter() - t1
    rss = peak_rss_mb()
    # As `tifa ingest` does next: the lexicon's matches, stored for formula timelines.
    from app.services.formulas import lexicon_nodes, load_lexicon
    from indexer.matchstore import MatchStore
    from indexer.search import Search

    t0 = time.perf_counter()
    with AnonPeak() as anon_lexicon:
        Search(backend, store=MatchStore(a.out / "derived")).warm(
            lexicon_nodes(load_lexicon(REPO / "corpus"))
        )
    lexicon_seconds = time.perf_counter() - t0
    # Storing the lexicon's matches reads postings all over the index through mmap: those
    # pages count in the RSS (as a server's do), so this step is reported apart.
    rss_lexicon = peak_rss_mb()
    backend.close()
    out = {
        "statements": report.accepted + report.updated,
        "passages": report.passages,
        "seconds": seconds,
        "note": note,
        "peak_rss_mb": rss,
        "peak_anon_mb": anon.peak_mb,
        "lexicon_seconds": lexicon_seconds,
        "merge_seconds": merge_seconds,
        "peak_rss_lexicon_mb": rss_lexicon,
        "peak_anon_lexicon_mb": anon_lexicon.peak_mb,
        "cpu_seconds": cpu.seconds,
    }
    (a.out.parent / "ingest-child.json").write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["ingest"]:
        raise SystemExit(_ingest_main(sys.argv[2:]))
    raise SystemExit("usage: python -m bench.datasets ingest ...")
