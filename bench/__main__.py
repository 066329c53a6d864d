"""`python -m bench` (and `tifa bench`): build or reuse the datasets and indexes, run the
correctness gate, run every workload against Tifa and the baselines, and write
BENCHMARKS.md with its plots. Exits 1 when the correctness gate finds any difference."""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import datasets as ds
from bench import report as rp
from bench import workloads as wl
from bench.baselines import (
    ExactScan,
    Fts5,
    Grep,
    RegexScan,
    fts5_index,
    tokenizer_check,
    write_dump,
)

REPO = ds.REPO


@dataclass(frozen=True)
class Plan:
    """How big a run is: dataset slices, repetitions, load duration."""

    limit: int | None
    grow_to: int
    es_limit: int
    reps_cold: int
    reps_warm: int
    regex_queries: int
    load_seconds: float
    big: bool = False


DEFAULT = Plan(
    limit=None,
    grow_to=1_000_000,
    es_limit=150,
    # Cold runs are cheap next to building the datasets; four of each query (not two)
    # keep the per-query medians from swinging with the machine: two runs of the same
    # code a few minutes apart gave cold p50s 15% apart.
    reps_cold=4,
    reps_warm=3,
    regex_queries=4,
    load_seconds=60,
)
QUICK = Plan(
    limit=300,
    grow_to=30_000,
    es_limit=40,
    reps_cold=1,
    reps_warm=2,
    regex_queries=3,
    load_seconds=8,
)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument(
        "--shared",
        type=Path,
        default=REPO / ".." / "shared" / "corpora",
        help="folder of the corpora (default ../shared/corpora; tests/data works too)",
    )
    ap.add_argument("--var", type=Path, default=REPO / "var" / "bench", help="cache folder")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report file (default BENCHMARKS.md; var/bench/BENCHMARKS-quick.md with --quick)",
    )
    ap.add_argument("--plots", type=Path, default=None, help="plot folder (default docs/bench)")
    ap.add_argument("--quick", action="store_true", help="small slices, one repetition (< 2 min)")
    ap.add_argument("--big", action="store_true", help="also grow to 10M passages (slow)")
    ap.add_argument("--gate-only", action="store_true", help="only the correctness gate")
    ap.add_argument(
        "--build-only",
        action="store_true",
        help="only build the datasets, indexes and baseline databases, or find them cached "
        "(what every run first does in a child process)",
    )
    ap.add_argument("--no-es", action="store_true", help="skip the Elasticsearch workloads")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=None, help="mixed-load duration")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    ap.add_argument("--no-profile", action="store_true", help="do not profile missed targets")
    return ap.parse_args(argv)


@dataclass
class Run:
    args: argparse.Namespace
    plan: Plan
    store: ds.Store
    log: Callable[[str], None]
    tables: list[rp.Table] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    gate: wl.GateResult = field(default_factory=wl.GateResult)
    plots: Path = REPO / "docs" / "bench"
    speed: list[float] = field(default_factory=list)  # machine_speed() at start and end

    def table(self, tab: rp.Table, samples: Sequence[wl.Samples] = (), name: str = "") -> None:
        if samples and name and rp.plot(samples, tab.title, self.plots / f"{name}.png"):
            tab.plot = self.plot_link(name)
        self.tables.append(tab)

    def plot_link(self, name: str) -> str:
        """The path of plot `name` as the report links it (relative to the report)."""
        path = self.plots / f"{name}.png"
        try:
            return path.relative_to(self.args.out.resolve().parent).as_posix()
        except ValueError:
            return str(path)


# Prefixes of ungdc_en (statements) giving about 10k and 100k passages.
SCALE_PREFIXES = (260, 2_600)


def ungdc_spec(plan: Plan) -> ds.DatasetSpec:
    return ds.DatasetSpec("ungdc", ("ungdc",), limit=plan.limit)


def kremzh_spec(plan: Plan) -> ds.DatasetSpec:
    return ds.DatasetSpec("kremlin+govzh", ("kremlin", "govzh"), limit=plan.limit)


def grown_spec(plan: Plan) -> ds.DatasetSpec:
    """ungdc_en grown with synthetic passages to `plan.grow_to` (1M by default)."""
    return ds.DatasetSpec(
        f"grown-{plan.grow_to // 1000}k",
        ("ungdc",),
        limit=plan.limit,
        grow_to=plan.grow_to,
        base="ungdc",
    )


def big_spec(plan: Plan) -> ds.DatasetSpec:
    """ungdc_en grown to ten million passages (`--big`)."""
    return ds.DatasetSpec(
        "grown-10M", ("ungdc",), limit=plan.limit, grow_to=10_000_000, base="ungdc"
    )


def es_spec(plan: Plan) -> ds.DatasetSpec:
    """The slice of ungdc_en both the ES node and the embedded engine index."""
    return ds.DatasetSpec("ungdc-es-slice", ("ungdc",), limit=plan.es_limit)


def scale_specs(plan: Plan) -> list[ds.DatasetSpec]:
    """The prefixes of ungdc_en the scaling table adds to the other datasets."""
    return [
        ds.DatasetSpec(f"ungdc-first-{n}", ("ungdc",), limit=n)
        for n in SCALE_PREFIXES
        if plan.limit is None or n < plan.limit
    ]


def build_all(run: Run) -> None:
    """Build every dataset, index and baseline database the run's plan needs, or find
    them cached (`--build-only`: what a run first does in a child process)."""
    plan, store, log = run.plan, run.store, run.log
    ungdc = ungdc_spec(plan)
    for spec in (ungdc, kremzh_spec(plan)):
        ds.embedded_index(store, spec)
        table = ds.table(store, spec, ds.statements(store, spec))
        d = store.dir(spec)
        fts5_index(d / "table.pkl", d / "fts5.db")
        write_dump(table, d / "dump.txt")
        log(f"{spec.name}: ready")
    grown = [grown_spec(plan)] + ([big_spec(plan)] if plan.big else [])
    for spec in [*grown, *scale_specs(plan)]:
        ds.embedded_index(store, spec, base=ungdc if spec.base else None)
        log(f"{spec.name}: ready")
    if not run.args.no_es:
        ds.embedded_index(store, es_spec(plan))


def scaling(
    run: Run,
    ungdc: ds.DatasetSpec,
    grown: Sequence[ds.DatasetSpec],
    measured: dict[str, tuple[wl.Samples, wl.Samples]],
    qs: Sequence[wl.Q],
) -> None:
    """Cold and warm phrase search and ingest against corpus size: prefixes of ungdc_en
    (about 10k and 100k passages), the whole of it, and the synthetic growths; the same
    unfiltered queries on each, cold runs as in the growth table (whose figures for
    the grown datasets, `measured`, are reused)."""
    plan = run.plan
    specs = [*scale_specs(plan), ungdc, *grown]
    rows: list[list[str]] = []
    points: list[tuple[int, float, float, float, float]] = []
    for spec in specs:
        run.log(f"scaling: {spec.name}")
        data = ds.embedded_index(run.store, spec, base=ungdc if spec.base else None)
        stats = ds.ingest_stats(run.store, spec)
        backend = wl.open_embedded(data)
        passages = sum(m.passages for m in backend.statements())
        if spec.name in measured:
            cold, warm = measured[spec.name]
        else:
            cold, warm, _ = wl.run_phrase_api(
                backend, qs, max(1, plan.reps_cold - 1), plan.reps_warm
            )
        backend.close()
        c, w = cold.medians(), warm.medians()
        points.append((passages, c.pct(50), c.pct(95), w.pct(50), stats.rate))
        rows.append(
            [
                spec.name,
                f"{passages:,}",
                rp.fmt_ms(c.pct(50)),
                rp.fmt_ms(c.pct(95)),
                rp.fmt_ms(w.pct(50)),
                f"{stats.rate:,.0f}",
                ds.rss_cell(stats),
                f"{stats.index_mb:,.0f} MB",
            ]
        )
    run.numbers["scaling"] = points
    tab = rp.Table(
        "Scaling with corpus size",
        f"The {len(qs)} unfiltered phrase queries (top 20 + KWIC, exact totals) on prefixes "
        "of ungdc_en, the whole of it and its synthetic growths; percentiles over "
        "per-query medians. Ingest is the embedded build of that dataset (for grown "
        "datasets: of the synthetic part, on top of ungdc_en's index); its peak RSS is "
        "the ingest child's own.",
        [
            "dataset",
            "passages",
            "cold p50",
            "cold p95",
            "warm p50",
            "ingest passages/s",
            "ingest peak RSS",
            "index size",
        ],
        rows,
    )
    if rp.plot_scaling(points, tab.title, run.plots / "scaling.png"):
        tab.plot = run.plot_link("scaling")
    run.tables.append(tab)


def _measured_code(version: str) -> str:
    """Which code the run measured: the commit, whether the tree had other changes, and
    the code version its cached indexes are filed under."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":!BENCHMARKS.md", ":!docs/bench"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        head, changed = "", ""
    if not head:
        return f"code version {version}"
    state = "with uncommitted changes" if changed else "clean tree"
    return f"commit {head} ({state}; code version {version})"


def _ingest_cpu_table(builds: Sequence[tuple[str, ds.IngestStats]]) -> rp.Table:
    """Where each build's CPU went, by kind of thread: what a 2-core machine's wall time
    is made of, which the Python profile of ingest (main thread only) cannot show."""
    kinds = ["main thread", "tantivy indexing", "doc store compression", "segment merges"]
    rows = []
    for name, st in builds:
        cpu = st.cpu_seconds
        if not cpu:
            continue  # a cache built before the CPU was sampled
        total = cpu["total"]
        cells = [f"{cpu.get(k, 0.0):.1f} s ({cpu.get(k, 0.0) / total:.0%})" for k in kinds]
        rows.append(
            [
                name,
                f"{st.seconds + st.merge_seconds:.1f} s",
                f"{total:.1f} s",
                f"{total / (st.seconds + st.merge_seconds):.2f}",
                *cells,
                f"{cpu.get('other', 0.0):.1f} s",
                f"{st.passages / total * (os.cpu_count() or 1):,.0f}",
            ]
        )
    return rp.Table(
        "Ingest: CPU by thread",
        "CPU seconds of the ingest child's threads, sampled from /proc every 100 ms, over "
        "ingest and the merges still running after its last commit. The main thread reads "
        "and normalises the records, makes their JSON and content hash, and runs the native "
        "tokeniser and document builder (`native/src/writer.rs`); tantivy's threads index "
        "the documents (postings, positions, fast fields), compress the doc store and merge "
        "segments. 'other' is the rest of the process's CPU: its other threads, and what a "
        "tantivy thread spent after its last sample if it ended between two. Cores busy is "
        "CPU over wall time. The last column is the rate the machine's cores would allow "
        "if all were busy all the time: when it is under the target too, the target needs "
        "less work, not more overlap.",
        [
            "dataset",
            "wall",
            "CPU",
            "cores busy",
            *kinds,
            "other",
            "passages/s at full use of every core",
        ],
        rows,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    plan = QUICK if args.quick else DEFAULT
    if args.big:
        plan = Plan(**{**plan.__dict__, "big": True})
    if args.out is None:
        args.out = (
            (REPO / "var" / "bench" / "BENCHMARKS-quick.md")
            if args.quick
            else REPO / "BENCHMARKS.md"
        )
    args.out = args.out.resolve()
    started = time.perf_counter()

    def log(msg: str) -> None:
        who = "bench build" if args.build_only else "bench"
        print(f"[{who} {time.perf_counter() - started:7.1f}s] {msg}", file=sys.stderr, flush=True)

    store = ds.Store(args.var, args.shared)
    run = Run(args, plan, store, log)
    run.speed.append(machine_speed())
    run.plots = (
        args.plots or (REPO / "docs" / "bench" if not args.quick else args.var / "plots")
    ).resolve()
    if args.seconds is not None:
        plan = Plan(**{**plan.__dict__, "load_seconds": args.seconds})
        run.plan = plan

    ungdc, kremzh = ungdc_spec(plan), kremzh_spec(plan)

    log(f"datasets under {store.root} (code version {store.version})")
    if args.build_only:
        build_all(run)
        return 0
    if not args.gate_only:
        # Whatever this run must build, a child process builds: the process that measures
        # is then the same whether the indexes were cached or not. A fresh clone's first
        # run, which built them in the process that then searched, measured a cold p50 of
        # 2.08 ms and ripgrep at 35x; the same run minutes later, all cached, 1.29 ms and
        # 57x (a separate process searching the freshly built index gave 1.30 ms).
        raw = list(argv) if argv is not None else sys.argv[1:]
        child = subprocess.run([sys.executable, "-m", "bench", "--build-only", *raw], check=False)
        if child.returncode != 0:
            log("building the datasets failed (above)")
            return 2
        log("datasets and indexes built or found cached (child process)")
    data: dict[str, Any] = {}
    for spec in (ungdc, kremzh):
        data_dir = ds.embedded_index(store, spec)
        stmts = ds.statements(store, spec)
        table = ds.table(store, spec, stmts)
        data[spec.name] = (spec, data_dir, table, ExactScan(table))
        log(f"{spec.name}: {len(stmts):,} statements, {len(table):,} passages")
        del stmts

    # ---- the correctness gate ---------------------------------------------------------
    exact: dict[str, dict[str, wl.Exact]] = {}
    for name, qs in (("ungdc", wl.ungdc_queries()), ("kremlin+govzh", wl.kremzh_queries())):
        _, data_dir, table, scan = data[name]
        run.gate.tokenizer += tokenizer_check(table)
        backend = wl.open_embedded(data_dir)
        exact[name] = wl.gate(name, backend, scan, qs, run.gate)
        backend.close()
    log(f"gate: {run.gate.checked} queries checked, {len(run.gate.failures)} differences")
    for f in run.gate.failures + run.gate.tokenizer:
        log(f"GATE FAILURE: {f}")
    if args.gate_only:
        return 0 if run.gate.ok else 1

    try:
        workloads(run, data, exact, ungdc, kremzh)
    finally:
        elapsed = time.perf_counter() - started
        run.speed.append(machine_speed())
        log(f"writing {args.out}")
        write_report(run, elapsed)
    return 0 if run.gate.ok else 1


def workloads(
    run: Run,
    data: dict[str, Any],
    exact: dict[str, dict[str, wl.Exact]],
    ungdc: ds.DatasetSpec,
    kremzh: ds.DatasetSpec,
) -> None:
    args, plan, store, log = run.args, run.plan, run.store, run.log
    _, data_dir, table, scan = data["ungdc"]
    _, kdata_dir, ktable, _ = data["kremlin+govzh"]
    qs_all = wl.ungdc_queries()
    kqs = wl.kremzh_queries()

    # ---- baselines' indexes -------------------------------------------------------------
    d = store.dir(ungdc)
    fts_build = fts5_index(d / "table.pkl", d / "fts5.db")
    kd = store.dir(kremzh)
    kfts_build = fts5_index(kd / "table.pkl", kd / "fts5.db")
    dump = write_dump(table, d / "dump.txt")
    kdump = write_dump(ktable, kd / "dump.txt")
    greps = [Grep(t, dump) for t in ("grep", "rg") if Grep.available(t)]
    kgreps = [Grep(t, kdump) for t in ("grep", "rg") if Grep.available(t)]
    log(f"FTS5 built ({fts_build.seconds:.1f} s); greps: {[g.tool for g in greps]}")

    # growth: ungdc + synthetic passages
    grown = grown_spec(plan)
    gdata = ds.embedded_index(store, grown, base=ungdc)
    log("grown index ready")
    big_dir = None
    big = big_spec(plan)
    if plan.big:
        big_dir = ds.embedded_index(store, big, base=ungdc)

    # ---- ingest -----------------------------------------------------------------------------
    rows = []
    built = [("ungdc_en", ungdc), ("Kremlin + govzh", kremzh), (grown.name, grown)]
    if plan.big:
        built.append((big.name, big))
    for name, sp in built:
        st = ds.ingest_stats(store, sp)
        rows.append(
            [
                f"Tifa embedded: {name}",
                f"{st.passages:,}",
                f"{st.seconds:.1f} s",
                f"{st.rate:,.0f}",
                ds.rss_cell(st),
                f"{st.index_mb:,.0f} MB",
                f"built {st.measured}; {st.note}"
                + f"; then {st.merge_seconds:.1f} s for the merges still running (in the peak"
                + f" RSS) and {st.lexicon_seconds:.1f} s to store the formula lexicon's matches"
                + (
                    f" (peak RSS with that step: {st.peak_rss_lexicon_mb:,.0f} MB, of which"
                    f" at most {st.peak_anon_lexicon_mb:,.0f} MB anonymous; the rest is index"
                    " pages read through mmap)"
                    if st.peak_rss_lexicon_mb
                    else ""
                ),
            ]
        )
    for name, b in (("ungdc_en", fts_build), ("Kremlin + govzh", kfts_build)):
        rows.append(
            [
                f"SQLite FTS5: {name}",
                f"{b.passages:,}",
                f"{b.seconds:.1f} s",
                f"{b.passages / b.seconds:,.0f}",
                f"{b.peak_rss_mb:,.0f} MB",
                f"{b.size_mb:,.0f} MB",
                "pre-tokenised text (tokenising not counted); RSS includes the table in memory",
            ]
        )
    run.numbers["ingest"] = ds.ingest_stats(store, ungdc)
    run.numbers["ingest_grown"] = ds.ingest_stats(store, grown)
    if plan.big:
        run.numbers["ingest_big"] = ds.ingest_stats(store, big)
    ingest_table = rp.Table(
        "Ingest",
        "Peak RSS is the child process's own (VmHWM, read in the child once the writer's "
        "last merges are done); in brackets the "
        "highest anonymous memory sampled (RssAnon: RSS less the mapped index files tantivy "
        "reads while merging segments, pages the kernel can drop). "
        "Tifa's time runs from the reader's first "
        "record to the last commit; FTS5 gets the tokens ready-made. A cached index keeps "
        "the figures of the build that made it (its time is in the note): the cache is "
        "reused only while the code that writes it and the corpus are unchanged.",
        ["system: dataset", "passages", "time", "passages/s", "peak RSS", "index size", "note"],
        rows,
    )
    run.tables.append(ingest_table)
    run.tables.append(_ingest_cpu_table([(name, ds.ingest_stats(store, sp)) for name, sp in built]))

    # ---- phrase search ----------------------------------------------------------------------
    # Whatever a build left unwritten is written out before anything is timed. (tantivy
    # syncs each commit, so this took 0.0 s after a 10M build in run 20: the slowdown
    # seen after such a build is the kernel's work on a full page cache, which `settle`
    # waits out.)
    started = time.perf_counter()
    os.sync()
    run.numbers["synced"] = time.perf_counter() - started
    log(f"dirty pages written out ({run.numbers['synced']:.1f} s)")
    wl.page_in(data_dir, kdata_dir)
    run.numbers["settled"] = settle()
    log(f"settled: {_settled(run)}")
    backend = wl.open_embedded(data_dir)
    log("phrase search: Tifa API")
    # Half the cold passes now and half after the baselines, minutes later: Tifa's passes
    # take about two seconds, and a slow patch of a shared machine can last that long
    # (the same code's cold p50 ranged 2.2-4.8 ms over one hour here). Each query's figure
    # is the median over both.
    early = max(plan.reps_cold // 2, 1)
    cold, warm, _ = wl.run_phrase_api(backend, qs_all, early, plan.reps_warm)
    plain_cold = None
    if backend.native:
        # The same searches with plain phrases matched through the tantivy package alone
        # (what a machine without a Rust toolchain runs): the native matcher's gain.
        log("phrase search: Tifa API without the native matcher")
        plain = wl.open_embedded(data_dir, native=False)
        plain_cold, _, _ = wl.run_phrase_api(
            plain, qs_all, plan.reps_cold, 0, prefix="Tifa embedded API, tantivy package only"
        )
        plain.close()
    kbackend = wl.open_embedded(kdata_dir)
    kcold, kwarm, _ = wl.run_phrase_api(kbackend, kqs, plan.reps_cold, plan.reps_warm)
    log("phrase search: baselines")
    wl.page_in(d / "fts5.db", d / "dump.txt")
    settle()  # reading them in may have set the kernel reclaiming, as for Tifa's
    fts = Fts5(d / "fts5.db")
    ftop, ftot, ftotals = wl.run_fts5(fts, qs_all, plan.reps_warm)
    grep_samples = []
    for g in greps:
        smp, counts = wl.run_grep(g, qs_all, plan.reps_cold)
        grep_samples.append(smp)
        for q in qs_all:
            if q.years is None:
                want = exact["ungdc"][q.label].passages
                run.gate.grep_checked += 1
                if counts[q.phrase] != want:
                    run.gate.grep_wrong.append((g.tool, q.phrase, counts[q.phrase], want))
    for q in qs_all:
        e = exact["ungdc"][q.label]
        if ftotals[q.label] != (e.statements, e.passages, e.occurrences):
            run.gate.fts5_wrong.append(
                (q.label, ftotals[q.label], (e.statements, e.passages, e.occurrences))
            )
    scan_s = wl.run_scan(scan, qs_all)
    regex = RegexScan(table)
    regex_qs = [q for q in qs_all if q.years is None][:: max(1, 37 // plan.regex_queries)][
        : plan.regex_queries
    ]
    regex_s = wl.run_regex(regex, regex_qs)
    del regex
    if plan.reps_cold > early:
        settle()
        log("phrase search: Tifa API, the later cold passes")
        later, _, _ = wl.run_phrase_api(backend, qs_all, plan.reps_cold - early, 0)
        for value, label in zip(later.values, later.labels, strict=True):
            cold.add(value, label)
    for s in (cold, warm, ftop, ftot, scan_s):
        s.note = s.note or ""
    run.numbers.update(cold=cold, warm=warm, fts_top=ftop, greps=grep_samples)

    # HTTP: one server over the ungdc index for phrases, export, paging and load.
    http_first = http_warm = http_warm_httpx = None
    export_samples: list[wl.Samples] = []
    paging_samples: list[wl.Samples] = []
    load: wl.LoadResult | None = None
    log("HTTP server")
    with wl.server(data_dir, args.workers, store.root / "uvicorn.log") as url:
        http_first, http_warm, http_warm_httpx = wl.run_phrase_http(url, qs_all, plan.reps_warm)
        run.numbers.update(http_first=http_first, http_warm=http_warm)
        log("export")
        export_samples, export_rows = wl.run_export(
            backend, url, "of the", greps, max(plan.reps_cold, 2)
        )
        log("paging")
        paging_samples, paging_problems = wl.run_paging(backend, url, "the united nations")
        run.gate.failures += paging_problems
        from app.services.formulas import load_lexicon

        formula_ids = [f.id for f in load_lexicon(REPO / "corpus")]
        sids = table.sids[:: max(1, len(table.sids) // 50)][:50]
        mix = wl.mixed_requests(qs_all, formula_ids, sids)
        log(f"mixed load: {args.clients} clients for {plan.load_seconds:.0f} s")
        load = wl.run_load(url, mix, args.clients, plan.load_seconds)
        run.numbers["load"] = load

    intro = (
        "Top 20 statements with KWIC (3 snippets each, 60 characters of context), exact totals "
        "and "
        f"facets, for {len(qs_all)} queries on the whole ungdc_en ({len(table):,} passages): "
        f"{len(wl.UN_FORMULAS)} UN formulas, {len(wl.COMMON_PAIRS)} common-word pairs, "
        f"{len(wl.RARE_NAMES)} rare names, each without and with "
        f"`year:{wl.YEARS[0]}..{wl.YEARS[1]}`. "
        "Percentiles are over per-query medians; the ratio column is each system's p50 over "
        "Tifa's cold p50 (above 1: slower than Tifa). "
        + (
            "Tifa matches plain phrases with its native matcher (`native/`); the row "
            "'tantivy package only' runs the same searches without it."
            if backend.native
            else "The native matcher was not installed: plain phrases went through the "
            "tantivy package."
        )
    )
    samples = [
        cold,
        warm,
        http_first,
        http_warm,
        http_warm_httpx,
        ftop,
        ftot,
        *grep_samples,
        scan_s,
        regex_s,
    ]
    if plain_cold is not None:
        samples.insert(2, plain_cold)
    run.table(
        rp.latency_table(
            "Phrase search, top 20 with KWIC (ungdc_en)",
            intro,
            [s for s in samples if s],
            cold,
            [
                "grep/rg count matching lines (passages) only and cannot filter by year; "
                "FTS5 top-20 ranks passages (not statements) and computes no totals; "
                "the exact scan and the regex compute counts, no page."
            ],
        ),
        [s for s in samples if s],
        "phrase_search",
    )
    # per category, Tifa cold and warm
    cat_rows = []
    for cat in sorted({q.category for q in qs_all} | {q.category for q in kqs}):
        labels = {q.label for q in (*qs_all, *kqs) if q.category == cat}
        row = [cat, str(len(labels))]
        for s in (cold, warm):
            both = wl.Samples(s.system)
            for src in (s, kcold) if s is cold else (s, kwarm):
                for v, lab in zip(src.values, src.labels, strict=True):
                    if lab in labels:
                        both.add(v, lab)
            m = both.medians()
            row += [rp.fmt_ms(m.pct(50)), rp.fmt_ms(m.pct(95))]
        cat_rows.append(row)
    run.table(
        rp.Table(
            "Phrase search by kind of query (Tifa API)",
            "Kremlin + govzh queries run on that dataset "
            f"({len(ktable):,} passages); the others on ungdc_en.",
            ["category", "queries", "cold p50", "cold p95", "warm p50", "warm p95"],
            cat_rows,
        )
    )
    wl.page_in(kd / "fts5.db", kd / "dump.txt")
    kfts = Fts5(kd / "fts5.db")
    kftop, _, _ = wl.run_fts5(kfts, kqs, plan.reps_warm)
    kgrep_s = [wl.run_grep(g, kqs, plan.reps_cold)[0] for g in kgreps]
    run.table(
        rp.latency_table(
            "Phrase search, Kremlin + Chinese corpora",
            f"{len(kqs)} queries (Chinese, Russian — no Russian text in these corpora, so "
            "the empty answer —, Kremlin English) on "
            f"{ktable.statements:,} statements, {len(ktable):,} passages.",
            [kcold, kwarm, kftop, *kgrep_s],
            kcold,
        ),
        [kcold, kwarm, kftop, *kgrep_s],
        "phrase_search_kremzh",
    )
    kbackend_all = kbackend

    # ---- timelines ----------------------------------------------------------------------------
    log("timelines")
    tl_qs = [q for q in qs_all if q.years is None]
    tcold, twarm = wl.run_timelines(backend, tl_qs, plan.reps_cold, plan.reps_warm)
    ftl = wl.Samples("SQLite FTS5 per-year (inst_count)")
    for q in tl_qs:
        t, _ = wl.ms(lambda q=q: fts.timeline(q.phrase))
        ftl.add(t, q.label)
    stl = wl.Samples("Python exact scan per-year")
    for q in tl_qs:
        t, _ = wl.ms(lambda q=q: scan.count(q.phrase))
        stl.add(t, q.label)
    run.numbers.update(tl_cold=tcold, tl_warm=twarm)
    run.table(
        rp.latency_table(
            "Ad-hoc phrase timelines (exact occurrences per year, ungdc_en)",
            f"{len(tl_qs)} phrases; statements and exact occurrences per year beside the corpus "
            "per year.",
            [tcold, twarm, ftl, stl],
            tcold,
        ),
        [tcold, twarm, ftl, stl],
        "timelines",
    )
    fcold, fwarm, nform = wl.run_formula_timelines(kbackend_all, plan.reps_cold, plan.reps_warm)
    ucold, uwarm, _ = wl.run_formula_timelines(backend, max(1, plan.reps_cold - 1), plan.reps_warm)
    ucold.system, uwarm.system = "ungdc_en: " + ucold.system, "ungdc_en: " + uwarm.system
    fcold.system, fwarm.system = "Kremlin+govzh: " + fcold.system, "Kremlin+govzh: " + fwarm.system
    run.numbers.update(f_cold=[fcold, ucold], f_warm=[fwarm, uwarm])
    run.table(
        rp.latency_table(
            "Lexicon formula timelines",
            f"`app.services.formulas.timeline` for each of the {nform} formulas (all variants, "
            "overall and per language).",
            [fcold, fwarm, ucold, uwarm],
            None,
        ),
        [fcold, fwarm, ucold, uwarm],
        "formula_timelines",
    )

    # ---- series --------------------------------------------------------------------------------
    log("series")
    series_samples, series_note = wl.run_series(kbackend_all, plan.reps_cold, plan.reps_warm)
    run.table(
        rp.latency_table(
            "Series anomalies and diff (Kremlin + govzh)", series_note, series_samples, None
        ),
        series_samples,
        "series",
    )

    # ---- export, paging, load ---------------------------------------------------------------
    run.table(
        rp.latency_table(
            'CSV export of 10,000 hits ("of the", ungdc_en)',
            "Rows out: " + ", ".join(f"{k} {v:,}" for k, v in export_rows.items()) + ".",
            export_samples,
            export_samples[0],
        ),
        export_samples,
        "export",
    )
    run.table(
        rp.latency_table(
            'Deep paging through every statement with "the united nations"',
            "Pages of 200 statements by cursor; every statement must come exactly once "
            + ("(checked: " + ("OK" if not paging_problems else "; ".join(paging_problems)) + ")."),
            paging_samples,
            None,
            [
                f"Whole walk: API {sum(paging_samples[0].values) / 1000:.1f} s"
                + (
                    f", HTTP {sum(paging_samples[1].values) / 1000:.1f} s"
                    if len(paging_samples) > 1
                    else ""
                )
            ],
        ),
        paging_samples,
        "paging",
    )
    if load is not None:
        import numpy as np

        def load_row(kind: str, values: Sequence[float]) -> list[str]:
            lat = np.array(values)
            return [
                kind,
                f"{len(values):,}",
                rp.fmt_ms(float(np.percentile(lat, 50))),
                rp.fmt_ms(float(np.percentile(lat, 95))),
                rp.fmt_ms(float(np.percentile(lat, 99))),
                rp.fmt_ms(float(lat.max())),
            ]

        run.tables.append(
            rp.Table(
                f"Mixed HTTP load, {args.clients} clients, {plan.load_seconds:.0f} s",
                f"uvicorn with {args.workers} workers on 127.0.0.1; the clients are bare asyncio "
                "HTTP/1.1 keep-alive connections in the benchmark process (same 2 cores). "
                "Mix: 70% search, 10% ad-hoc timeline, 10% formula timeline, CSV export of "
                f"200 rows, statement pages. **{load.requests:,} requests, {load.errors} "
                f"errors, {load.rps:,.0f} req/s.** Latency of all requests, then by kind "
                "(every client keeps one request in flight, so a slow kind also delays the "
                "requests queued behind it).",
                ["kind", "requests", "p50", "p95", "p99", "max"],
                [load_row("all", load.latencies)]
                + [load_row(k, v) for k, v in sorted(load.latencies_by_kind.items())],
                ["First errors: " + "; ".join(load.error_samples)] if load.error_samples else [],
            )
        )

    # ---- growth ---------------------------------------------------------------------------
    log("growth")
    wl.page_in(gdata)
    gbackend = wl.open_embedded(gdata)
    g_qs = [q for q in qs_all if q.years is None]
    gcold, gwarm, _ = wl.run_phrase_api(
        gbackend,
        g_qs,
        max(1, plan.reps_cold - 1),
        plan.reps_warm,
        prefix=f"Tifa API, {plan.grow_to:,} passages",
    )
    run.numbers.update(g_cold=gcold, g_warm=gwarm)
    scale = [cold, gcold, gwarm]
    if big_dir is not None:
        bbackend = wl.open_embedded(big_dir)
        # First as the run left the page cache (each query's first read of its postings
        # may come from disk), then with the index read once, as it is for every other
        # dataset here and for a server that has been answering for a while; one pass
        # from disk is a single sample per query and moved p95 from 361 to 559 ms
        # between two runs of the same code.
        bdisk, bwarm, _ = wl.run_phrase_api(
            bbackend,
            g_qs,
            1,
            plan.reps_warm,
            prefix="Tifa API, 10,000,000 passages, first read from disk",
        )
        run.numbers.update(b_disk=bdisk)
        scale += [bdisk]
        bcold = bdisk
        if wl.fits_in_page_cache(big_dir):
            wl.page_in(big_dir)
            bcold, bwarm, _ = wl.run_phrase_api(
                bbackend,
                g_qs,
                plan.reps_cold,
                plan.reps_warm,
                prefix="Tifa API, 10,000,000 passages, index in the page cache",
            )
            run.numbers.update(b_cold=bcold)
            scale += [bcold]
        scale += [bwarm]
    run.table(
        rp.latency_table(
            "Growth: phrase search on synthetic growth",
            f"ungdc_en plus seeded synthetic passages (chunks of 4–12 words recombined from real "
            f"passages, so word and formula rates follow the corpus); {len(g_qs)} queries.",
            scale,
            cold,
        ),
        scale,
        "growth",
    )
    if big_dir is not None:
        run.tables.append(slowest_at_10m(run.numbers.get("b_cold"), run.numbers["b_disk"]))
    gbackend.close()
    measured = {grown.name: (gcold, gwarm)}
    if big_dir is not None:
        measured[big.name] = (bcold, bwarm)
    scaling(run, ungdc, [grown] + ([big] if big_dir is not None else []), measured, g_qs)

    # ---- Elasticsearch ------------------------------------------------------------------------
    if not args.no_es:
        es_workload(run, exact)
    backend.close()
    kbackend.close()


def replay(client: Any, index: str, calls: Sequence[dict[str, Any]]) -> str:
    """Send recorded search requests again; '' when all succeeded, else the first error.

    Requests that searched a point in time get a point in time of their own, opened and
    closed here as the backend does (the recorded one is closed by then)."""
    pit = None
    try:
        if any("pit" in kw for kw in calls):
            pit = client.open_point_in_time(index=index, keep_alive="2m")["id"]
        for kw in calls:
            body = copy.deepcopy(kw)
            if pit is not None and "pit" in body:
                body["pit"] = {**body["pit"], "id": pit}
            client.search(**body)
    except Exception as exc:  # reported in the table, the run goes on
        return str(exc)[:200]
    finally:
        if pit is not None:
            client.close_point_in_time(id=pit)
    return ""


def es_workload(run: Run, exact: dict[str, dict[str, wl.Exact]]) -> None:
    """One real Elasticsearch node: Tifa's ES backend, the same bodies sent raw, a plain
    top-20 body, and the embedded engine on the same slice."""
    sys.path.insert(0, str(REPO))
    from tests.support import esnode

    log, plan, store = run.log, run.plan, run.store
    ok, why = esnode.java_available()
    if not ok:
        run.tables.append(rp.Table("Elasticsearch", f"Not run: {why}", ["-"], []))
        return
    from indexer.backends.elastic import build
    from indexer.backends.elastic.backend import ElasticBackend
    from indexer.ingest import ingest
    from indexer.query import text_clauses

    spec = es_spec(plan)
    data_dir = ds.embedded_index(store, spec)
    stmts = ds.statements(store, spec)
    table = ds.table(store, spec, stmts)
    scan = ExactScan(table)
    cats = {
        "UN formula": wl.UN_FORMULAS[:6],
        "common pair": wl.COMMON_PAIRS[:3],
        "rare name": wl.RARE_NAMES[:5],
    }
    qs = [*wl.queries(cats, with_years=False), wl.Q("human rights", "UN formula + years", wl.YEARS)]
    node_dir = store.root.parent / "es-node"
    shutil.rmtree(node_dir, ignore_errors=True)
    log(f"Elasticsearch node; slice of {len(stmts)} statements, {len(table):,} passages")
    with esnode.EsNode(node_dir) as node:
        es = ElasticBackend(node.url, index="bench", request_timeout=120)
        t0 = time.perf_counter()
        rep = ingest(es, iter(stmts))
        es_ingest = time.perf_counter() - t0
        emb = wl.open_embedded(data_dir)
        ecold = wl.Samples("Tifa embedded API, cold")
        scold = wl.Samples("Tifa ES backend API, cold")
        raw = wl.Samples("ES raw: the backend's own requests replayed")
        plain = wl.Samples("ES raw: one top-20 body (passage hits, no exact counts)")
        problems: list[str] = []
        problems_replay: list[str] = []
        recorded: dict[str, list[dict[str, Any]]] = {}

        def reloaded() -> Any:
            """A fresh Search with the metadata read again (not part of a query: a server
            keeps it). Both the backend's search and the replay of its requests come
            right after this: that reload is the node's largest request, and the request
            after it took about 1 ms longer (a rare name: 3.0 against 2.0 ms sent alone),
            which, paid by the backend's side only, read as backend overhead."""
            es._records.clear()
            es._meta_cache = None
            s = wl.fresh_search(es)
            es.statements()
            s.catalog()
            return s

        def replayed(q: wl.Q, calls: list[dict[str, Any]]) -> None:
            reloaded()
            t, failed = wl.ms(lambda: replay(es.client, "bench", calls))
            if failed:
                problems_replay.append(f"{q.label}: {failed}")
            else:
                raw.add(t, q.label)

        for rep_i in range(max(4, plan.reps_cold)):
            for q in qs:
                t, epage = wl.ms(lambda q=q: wl.top20(wl.fresh_search(emb), q))
                ecold.add(t, q.label)
                # Whichever of two identical requests runs second finds the node's caches
                # warm: the backend and the replay take turns at going first.
                replay_first = rep_i % 2 == 1 and q.label in recorded
                if replay_first:
                    replayed(q, recorded[q.label])
                calls: list[dict[str, Any]] = []
                orig = es.client.search

                def record(orig: Any = orig, calls: list[dict[str, Any]] = calls, **kw: Any) -> Any:
                    calls.append(copy.deepcopy(kw))  # the client may rewrite its kwargs
                    return orig(**kw)

                s = reloaded()
                es.client.search = record  # type: ignore[method-assign]
                t, spage = wl.ms(lambda s=s, q=q: wl.top20(s, q))
                es.client.search = orig  # type: ignore[method-assign]
                scold.add(t, q.label)
                recorded[q.label] = calls
                if not replay_first:
                    replayed(q, calls)
                body = build.passages_only(build.compile_query(s.query(q.text), {}))
                t, _ = wl.ms(
                    lambda body=body: es.client.search(
                        index="bench", query=body, size=20, track_total_hits=True
                    )
                )
                plain.add(t, q.label)
                if rep_i == 0:
                    want = scan.count(q.phrase, q.years)
                    for name, page in (("embedded", epage), ("elasticsearch", spage)):
                        got = (
                            page.totals.statements,
                            page.totals.passages,
                            page.totals.occurrences,
                        )
                        if got != (want.statements, want.passages, want.occurrences):
                            problems.append(
                                f"ES slice {name}: {q.label!r} {got} != exact "
                                f"{(want.statements, want.passages, want.occurrences)}"
                            )
        # Where the ES backend's time goes: one write and one common-phrase query, profiled.
        es2 = ElasticBackend(node.url, index="bench-profile", request_timeout=120)
        few = stmts[: max(1, len(stmts) // 4)]
        run.numbers["es_profiles"] = [
            (
                f"ES backend: ingest of {len(few)} statements",
                profile(lambda: ingest(es2, iter(few)), 40),
            ),
            (
                'ES backend: cold search `"of the"`',
                profile(lambda: wl.top20(wl.fresh_search(es), wl.Q("of the", "")), 40),
            ),
        ]
        es2.drop()
        es2.close()
        _ = text_clauses
        emb.close()
        es.drop()
        es.close()
    run.gate.failures += problems
    run.gate.checked += len(qs)
    run.numbers.update(
        es_emb=ecold,
        es_backend=scold,
        es_raw=raw,
        es_plain=plain,
        es_ingest=(rep.passages, es_ingest),
    )
    emb_ingest = ds.ingest_stats(store, spec)
    run.table(
        rp.latency_table(
            "Elasticsearch: one node vs the embedded engine (same slice)",
            f"First {plan.es_limit} ungdc_en statements ({len(table):,} passages; the ES backend "
            "ingests "
            f"{rep.passages / es_ingest:,.0f} passages/s here against the embedded engine's "
            f"{emb_ingest.rate:,.0f}, so the whole corpus does not fit the run's time). "
            f"{len(qs)} queries, cold "
            "(fresh Search, caches emptied). 'Replayed' sends the exact request bodies the ES "
            "backend sent for "
            "that query straight through the client: the backend's overhead is the gap between "
            "the two. The two take turns at going first (the second of two identical requests "
            "finds the node's caches warm), and each comes right after the same untimed reload "
            "of the statements' metadata (the node's largest request, which slows the one "
            "after it by about 1 ms; until run 31 only the backend's side paid that).",
            [ecold, scold, raw, plain],
            ecold,
            [f"Replays that failed: {'; '.join(problems_replay[:3])}"] if problems_replay else [],
        ),
        [ecold, scold, raw, plain],
        "elasticsearch",
    )


# ---- targets, hot spots, the report --------------------------------------------------------


def targets(run: Run) -> list[rp.Target]:
    n = run.numbers
    out: list[rp.Target] = []

    def p(s: wl.Samples | None, q: float) -> float:
        return s.medians().pct(q) if s is not None and s.values else float("nan")

    def t(
        what: str,
        goal: str,
        value: float,
        limit: float,
        fmt: Callable[[float], str] = rp.fmt_ms,
        higher: bool = False,
    ) -> None:
        if value != value:  # NaN: not measured
            out.append(rp.Target(what, goal, "not measured", None))
            return
        out.append(rp.Target(what, goal, fmt(value), value >= limit if higher else value <= limit))

    for mode in ("cold", "warm"):
        s = n.get(mode)
        t(f"Phrase search top 20 + KWIC, Python API, {mode}: p50", "≤ 3 ms", p(s, 50), 3)
        t(f"Phrase search top 20 + KWIC, Python API, {mode}: p95", "≤ 40 ms", p(s, 95), 40)
    t("Phrase search over HTTP, warm: p50", "≤ 10 ms", p(n.get("http_warm"), 50), 10)
    t("Phrase search over HTTP, first request: p50", "≤ 10 ms", p(n.get("http_first"), 50), 10)
    for mode in ("cold", "warm"):
        s = n.get(f"tl_{mode}")
        t(f"Ad-hoc phrase timeline, {mode}: p50", "≤ 20 ms", p(s, 50), 20)
        t(f"Ad-hoc phrase timeline, {mode}: p95", "≤ 150 ms", p(s, 95), 150)
        for f in n.get(f"f_{mode}", []):
            t(f"Formula timeline, {f.system}: p50", "≤ 5 ms", p(f, 50), 5)
    ing = n.get("ingest")
    if ing:
        t(
            "Ingest rate (ungdc_en, embedded)",
            "≥ 30,000 passages/s",
            ing.rate,
            30_000,
            lambda v: f"{v:,.0f} passages/s",
            True,
        )
        t(
            "Ingest peak RSS (ungdc_en)",
            "< 1 GB",
            ing.peak_rss_mb,
            1000,
            lambda v, st=ing: ds.rss_cell(st),
        )
    for key, size in (("ingest_grown", run.plan.grow_to), ("ingest_big", 10_000_000)):
        grown = n.get(key)
        if grown:
            # The synthetic input streams from a file: the child's peak is ingest's own.
            t(
                f"Ingest peak RSS (synthetic growth to {size:,} passages)",
                "< 1 GB",
                grown.peak_rss_mb,
                1000,
                lambda v, st=grown: ds.rss_cell(st),
            )
    if "b_cold" in n:
        t(
            "10M passages, phrase search p95 (cold, index in the page cache)",
            "≤ 100 ms",
            p(n["b_cold"], 95),
            100,
        )
    if "b_disk" in n:
        disk = p(n["b_disk"], 95)
        out.append(
            rp.Target(
                "10M passages, phrase search p95 (cold, first read from disk)",
                "≤ 100 ms",
                rp.fmt_ms(disk),
                disk <= 100 if disk == disk else None,  # NaN: not measured
                reference=True,
            )
        )
    else:
        out.append(
            rp.Target(
                "10M passages, phrase search p95",
                "≤ 100 ms",
                f"needs `--big`; at {run.plan.grow_to:,} passages cold p95 = "
                f"{rp.fmt_ms(p(n.get('g_cold'), 95))}",
                None,
            )
        )
    load = n.get("load")
    if load:
        import numpy as np

        t(
            f"HTTP, {run.args.clients} clients: throughput",
            "≥ 300 req/s",
            load.rps,
            300,
            lambda v: f"{v:,.0f} req/s",
            True,
        )
        t(
            f"HTTP, {run.args.clients} clients: p99",
            "≤ 250 ms",
            float(np.percentile(load.latencies, 99)),
            250,
        )
        t(
            f"HTTP, {run.args.clients} clients: errors",
            "0",
            float(load.errors),
            0,
            lambda v: f"{v:.0f}",
        )
    cold, warm = n.get("cold"), n.get("warm")
    for g in n.get("greps", []):
        # Only the queries grep answers (no year filter), for a like-for-like median.
        for s, mode in ((cold, "cold"), (warm, "warm")):
            if s is None:
                continue
            mine = wl.Samples(s.system)
            labels = set(g.labels)
            for v, lab in zip(s.values, s.labels, strict=True):
                if lab in labels:
                    mine.add(v, lab)
            t(
                f"Speed-up over `{g.system}` at p50 (Tifa {mode})",
                "≥ 50×",
                p(g, 50) / p(mine, 50),
                50,
                lambda v: f"{v:,.1f}×",
                True,
            )
    fts = n.get("fts_top")
    for s, mode in ((cold, "cold"), (warm, "warm")):
        if fts is not None and s is not None:
            t(
                f"Speed-up over SQLite FTS5 top-20 at p50 (Tifa {mode})",
                "≥ 5×",
                p(fts, 50) / p(s, 50),
                5,
                lambda v: f"{v:,.1f}×",
                True,
            )
    if "es_emb" in n:
        t(
            "Embedded faster than one ES node (p50, Tifa API cold, same slice)",
            "ratio > 1×",
            p(n["es_backend"], 50) / p(n["es_emb"], 50),
            1.0000001,
            lambda v: f"ES backend / embedded = {v:,.1f}×",
            True,
        )
        t(
            "Embedded vs a raw top-20 ES body (p50)",
            "ratio > 1×",
            p(n["es_plain"], 50) / p(n["es_emb"], 50),
            1.0000001,
            lambda v: f"raw ES / embedded = {v:,.2f}×",
            True,
        )
        t(
            "ES backend within 1.5× of raw ES (same requests replayed, p50)",
            "≤ 1.5×",
            p(n["es_backend"], 50) / p(n["es_raw"], 50),
            1.5,
            lambda v: f"{v:,.1f}×",
        )
    else:
        out.append(
            rp.Target(
                "Embedded faster than one ES node; ES backend within 1.5× of raw ES",
                "",
                "not run",
                None,
            )
        )
    return out


def slowest_at_10m(cached: wl.Samples | None, disk: wl.Samples, n: int = 8) -> rp.Table:
    """The queries that set the 10M percentiles: each one's median cold time, index in
    the page cache and (one pass) first read from disk."""
    on_disk = disk.per_query_medians()
    by = cached.per_query_medians() if cached is not None and cached.values else on_disk
    slowest = sorted(by, key=lambda q: -by[q])[:n]
    return rp.Table(
        "10M passages: the slowest queries",
        "The queries that set the 10M percentiles (of 37 queries, p95 lies between the "
        "second and the third slowest), each one's median cold top 20: with the index in "
        "the page cache, and in the one pass that read it first from disk.",
        ["query", "index in the page cache", "first read from disk"],
        [
            [
                f"`{q}`",
                rp.fmt_ms(by[q]) if by is not on_disk else "not run",
                rp.fmt_ms(on_disk.get(q, float("nan"))),
            ]
            for q in slowest
        ],
    )


def profile(fn: Callable[[], Any], lines: int = 38) -> str:
    """A pyinstrument profile of one call (cProfile when pyinstrument is missing)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import io
        import pstats

        pr = cProfile.Profile()
        pr.enable()
        fn()
        pr.disable()
        buf = io.StringIO()
        pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(25)
        return buf.getvalue()
    prof = Profiler(interval=0.0005)
    prof.start()
    fn()
    prof.stop()
    text = prof.output_text(unicode=True, color=False, show_all=False)
    kept = [ln for ln in text.splitlines() if ln.strip()][:lines]
    return "\n".join(kept)


def engine_floor(backend: Any) -> list[str]:
    """What tantivy alone takes to count the passages of each phrase query (in Rust, no
    hit handed to Python, positions of the words), beside what the native matcher takes
    to hand back every matching passage with its exact count (through the pairs)."""
    import tantivy

    from indexer.query import Phrase

    searcher = backend._searcher()
    passage = backend._type("passage")
    by_cat: dict[str, list[float]] = {}
    native_by_cat: dict[str, list[float]] = {}
    for q in wl.ungdc_queries(with_years=False):
        node = wl.fresh_search(backend).query(q.text)
        assert isinstance(node, Phrase)
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, backend._leaf_query(searcher, node)),
                (tantivy.Occur.Must, passage),
            ]
        )
        times, native_times = [], []
        for _ in range(5):
            t, _ = wl.ms(lambda query=query: searcher.search(query, limit=1, count=True).count)
            times.append(t)
            if backend.native:
                t, _ = wl.ms(lambda node=node: backend.match(node))
                native_times.append(t)
        by_cat.setdefault(q.category, []).append(sorted(times)[2])
        if native_times:
            native_by_cat.setdefault(q.category, []).append(sorted(native_times)[2])

    def cells(values: list[float]) -> str:
        if not values:
            return "- | - | -"
        return (
            f"{rp.fmt_ms(float(np.median(values)))} | "
            f"{rp.fmt_ms(float(np.percentile(values, 95)))} | {rp.fmt_ms(max(values))}"
        )

    rows = [
        "| queries | tantivy counting the matching passages: p50 | p95 | max "
        "| native matcher, every passage with its count: p50 | p95 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for cat in [*by_cat, "all"]:
        values = by_cat.get(cat) or [v for vs in by_cat.values() for v in vs]
        natives = native_by_cat.get(cat) or [v for vs in native_by_cat.values() for v in vs]
        rows.append(f"| {cat} ({len(values)}) | {cells(values)} | {cells(natives)} |")
    pairs = float(np.median(by_cat.get("common pair", [0])))
    return [
        "",
        "### The engine's floor for phrase search, and the native matcher under it",
        "",
        "tantivy counting the passages each unfiltered query matches (`search(limit=1, "
        "count=True)`: phrase matching on the positions of the words, in Rust, no hit "
        "handed to Python; median of 5) takes "
        f"{rp.fmt_ms(pairs)} at the median for a common-word pair. Tifa's native matcher "
        "(`native/`) hands back every matching passage with its exact count, and reads a "
        "two-word phrase of function words or of frequent content words as one pair term "
        "rather than through the positions of its words, so it can go under that floor "
        "(median of 5, `backend.match`, unfiltered)."
        + ("" if backend.native else " The native matcher was not installed for this run."),
        "",
        *rows,
    ]


def hotspots(run: Run, tgts: Sequence[rp.Target]) -> str:
    missed = {t.what for t in tgts if t.met is False}
    if not missed or run.args.no_profile:
        return "## Hot spots\n\nNothing missed, or profiling was switched off."
    from indexer.query import MatchAll

    spec = ds.DatasetSpec("ungdc", ("ungdc",), limit=run.plan.limit)
    backend = wl.open_embedded(ds.embedded_index(run.store, spec))
    parts = [
        "## Hot spots (profiles of missed targets)",
        "",
        "pyinstrument, one call each, on the whole ungdc_en unless said; wall-clock time per "
        "frame.",
    ]
    if any("Phrase search" in m or "HTTP" in m or "Speed-up" in m for m in missed):
        parts += engine_floor(backend)
        # What a process builds once (the statement catalog, its table by key) is built
        # here by a first search, so that the profiles show searches and not start-up.
        wl.top20(wl.fresh_search(backend), wl.Q("peace", ""))
        for phrase in ("the united nations", "of the"):
            q = wl.Q(phrase, "")
            parts += [
                "",
                f'### Cold phrase search `"{phrase}"` (top 20 + KWIC)',
                "",
                "```",
                profile(lambda q=q: wl.top20(wl.fresh_search(backend), q)),
                "```",
            ]
        q = wl.Q("the united nations", "")
        s = wl.fresh_search(backend)
        wl.top20(s, q)
        parts += [
            "",
            '### Warm phrase search `"the united nations"` (result cached), 2,000 calls',
            "",
            "One warm call (about 0.05 ms) is shorter than the profiler's interval: the"
            " profile is of 2,000 calls in a row, times summed over them.",
            "",
            "```",
            profile(lambda: [wl.top20(s, q) for _ in range(2_000)]),
            "```",
        ]
    if any("HTTP" in m for m in missed):
        import os
        import warnings

        os.environ["TIFA_DATA_DIR"] = str(ds.embedded_index(run.store, spec))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fastapi.testclient import TestClient

            from app.main import create_app

            client = TestClient(create_app())
            params = {"q": '"the united nations"', "limit": 20}
            client.get("/api/v1/search", params=params)
            parts += [
                "",
                '### Warm `GET /api/v1/search?q="the united nations"` in-process (TestClient)',
                "",
                "```",
                profile(lambda: client.get("/api/v1/search", params=params), 45),
                "```",
            ]
    if any("timeline" in m for m in missed):
        parts += [
            "",
            '### Cold ad-hoc timeline `"human rights"`',
            "",
            "```",
            profile(
                lambda: (lambda s: s.timeline(s.query('"human rights"'), MatchAll()))(
                    wl.fresh_search(backend)
                )
            ),
            "```",
        ]
        from app.services import formulas as fs

        f = fs.load_lexicon(REPO / "corpus")[0]
        parts += [
            "",
            f"### Cold formula timeline `{f.id}`",
            "",
            "```",
            profile(lambda: fs.timeline(wl.fresh_search(backend), f)),
            "```",
        ]
    if any("Ingest rate" in m for m in missed):
        from indexer.backends.embedded import EmbeddedBackend
        from indexer.ingest import ingest

        tmp = run.store.root / "profile-ingest"
        shutil.rmtree(tmp, ignore_errors=True)
        b = EmbeddedBackend(tmp)
        parts += [
            "",
            "### Ingest of the first 300 ungdc_en statements (reader included)",
            "",
            "```",
            profile(lambda: ingest(b, ds.read_corpus("ungdc", run.store.shared, 300)), 45),
            "```",
        ]
        b.close()
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.with_name(tmp.name + ".upgrade.lock").unlink(missing_ok=True)
    backend.close()
    for title, text in run.numbers.get("es_profiles", []):
        parts += ["", f"### {title}", "", "```", text, "```"]
    return "\n".join(parts)


def settle(most: float = 60.0, idle_below: float = 0.05) -> tuple[float, float | None]:
    """Wait until the machine's cores are idle (under `idle_below` of them busy over one
    second; at most `most` seconds). The run's own process is asleep meanwhile, so what
    is busy is other work: after a dataset build that filled the page cache, cold
    searches ran slower for a while (the kernel's reclaim is the likely cause; it was
    not measured). Returns (seconds waited, the share busy over the last second; None
    where /proc/stat cannot be read)."""

    def ticks() -> tuple[int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                values = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return sum(values), values[3] + values[4]  # all, idle + iowait

    started = time.perf_counter()
    busy: float | None = None
    while time.perf_counter() - started < most:
        before = ticks()
        time.sleep(1.0)
        after = ticks()
        if before is None or after is None:
            return time.perf_counter() - started, None
        busy = 1 - (after[1] - before[1]) / max(after[0] - before[0], 1)
        if busy < idle_below:
            break
    return time.perf_counter() - started, busy


def _settled(run: Run) -> str:
    found = run.numbers.get("settled")
    if found is None:
        return "not measured"
    waited, busy = found
    share = "unknown" if busy is None else f"{busy:.0%}"
    return f"{waited:.1f} s waited this run, {share} busy in the last second"


def machine_speed() -> float:
    """Seconds a fixed pure-Python loop takes in a fresh interpreter (the median of three):
    the same code measured on this kind of machine moves by up to 2x with its neighbours'
    load, and this figure, taken at the start and the end of a run, tells which kind of
    run a report is."""
    code = (
        "import time; t = time.perf_counter(); sum(range(30_000_000)); "
        "print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        times.append(float(out.stdout))
    return statistics.median(times)


def write_report(run: Run, elapsed: float) -> None:
    args = run.args
    tgts = targets(run)
    hs = hotspots(run, tgts) if not args.quick else "## Hot spots\n\nNot profiled in --quick mode."
    g = run.gate
    gate_md = [
        "## Correctness gate",
        "",
        f"{g.checked} queries: Tifa's exact totals (statements, passages, occurrences) and "
        "per-year "
        "(statements, occurrences) against an exact scan of the same passages (folded tokens "
        "checked "
        "against `tests/bruteforce.py` on a sample of 2,000 passages per dataset; phrases "
        "tokenised by "
        "`tests/bruteforce.py`). Any difference fails the run.",
        "",
        f"**Result: {'PASS' if g.ok else 'FAIL'}** — {len(g.failures)} differences, "
        f"{len(g.tokenizer)} tokenizer mismatches.",
    ]
    gate_md += [f"- {f}" for f in (g.failures + g.tokenizer)[:30]]
    if g.grep_checked:
        tools = sorted({w[0] for w in g.grep_wrong})
        gate_md += [
            "",
            f"grep/rg matching-line counts against the exact matching passages: wrong for "
            f"{len(g.grep_wrong)} of {g.grep_checked} (tool, phrase) pairs "
            f"({', '.join(tools) or 'none'}):",
            "",
            "| tool | phrase | grep's passages | exact passages |",
            "|---|---|---|---|",
        ]
        gate_md += [f"| {t} | {p} | {a:,} | {b:,} |" for t, p, a, b in g.grep_wrong]
    if g.fts5_wrong:
        gate_md += [
            "",
            f"SQLite FTS5 totals differ from the exact ones for {len(g.fts5_wrong)} queries "
            "(statements, passages, occurrences):",
            "",
        ]
        gate_md += [f"- {lab}: FTS5 {a}, exact {b}" for lab, a, b in g.fts5_wrong[:15]]
    elif g.grep_checked:
        gate_md += ["", "SQLite FTS5 over the same tokens gives the exact totals for every query."]
    mode = "--quick" if args.quick else "--big" if args.big else "default"
    header = (
        "# Benchmarks\n\n"
        "Generated by `python -m bench` (do not edit by hand: rerun it). "
        f"Run: {mode} suite, {time.strftime('%Y-%m-%d %H:%M')}, wall time {elapsed / 60:.1f} "
        f"min, {_measured_code(run.store.version)}.\n\n"
        f"Machine: {rp.machine()}. Other work may have shared the machine during the run: "
        "figures are medians and percentiles over repetitions, and ratios matter more than "
        "absolute values. Machine speed: a fixed Python loop (`sum(range(30_000_000))`) "
        f"took {' s, then '.join(f'{t:.2f}' for t in run.speed)} s at the start and the end "
        "of this run. Every figure below moves with it: two runs of the same code an hour "
        "apart, one with this loop about twice as slow, differed about 2x in every latency. "
        "Machines of the same size differ as much: the one that made runs 1 to 26 ran this "
        "loop in 0.6 to 0.72 s, and missed there the cold p50, the ripgrep ratio and the "
        "ingest rate that a machine running it in 0.29 s meets with the same code (run 27)."
    )
    howto = (
        "## How to run\n\n"
        "```sh\n"
        "./run bench                          # from a fresh clone: sets up .venv, the native "
        "extension and the bench extras, then the default suite\n"
        ".venv/bin/python -m bench            # default suite (~20 min fresh, less with cached "
        "indexes)\n"
        ".venv/bin/python -m bench --quick    # small slices, < 2 min, report to "
        "var/bench/BENCHMARKS-quick.md\n"
        ".venv/bin/python -m bench --gate-only --quick --shared tests/data   # what CI runs\n"
        ".venv/bin/python -m bench --big      # adds 10M synthetic passages (long)\n"
        "```\n\n"
        "Needs the corpora in `../shared/corpora` (`--shared`), Java for the Elasticsearch node "
        "(`tools/esnode`; skipped otherwise, `--no-es`), and the `bench` extras (`./run bench` "
        "installs them): apsw (FTS5 per-row counts), "
        "matplotlib (plots), pyinstrument (profiles). grep is used, ripgrep when installed. "
        "Indexes are "
        "cached in `var/bench/<code version>/` and rebuilt when `indexer/`, the native "
        "extension's index writer (`native/src/writer.rs`, and `snippets.rs`, its tokeniser "
        "beyond ASCII), `bench/datasets.py` or the "
        "corpus files' content changes (the ingest table says "
        "when each cached index was built).\n\n"
        "What the words mean: **cold** is a fresh `Search` (no result, page or catalog-level "
        "query cache above the engine) with the record cache emptied; the statement catalog "
        "of the index generation is built once per process, as a server does at start-up. "
        "Formula timelines read the lexicon's matches that ingest stored on disk "
        "(`indexer/matchstore.py`; the time to store them is in the ingest table), through a "
        "new store object each call. **warm** repeats the same call on the same `Search`: "
        "results are cached per query and index generation. **first request** over HTTP is "
        "a query the server has not seen. Single requests over HTTP are timed from a bare "
        "keep-alive HTTP/1.1 client (the standard library's `http.client`), so that the "
        "figure is the server's and the loopback's; the row 'through httpx' repeats the warm "
        "ones through httpx, whose own cost a Python caller also pays. The HTTP load uses "
        "bare asyncio HTTP/1.1 clients against `tifa serve --workers 2`. A child process "
        "builds whatever datasets, indexes and baseline databases the run needs "
        "(`--build-only`) before anything else, so that the process that measures is the "
        "same whether they were cached or not (a run that built them in the measuring "
        "process searched about 1.5 times slower than the same run cached). Once the "
        "datasets are built, the run waits for the kernel to write their dirty pages out "
        f"(`sync`: {run.numbers.get('synced', 0.0):.1f} s this run), then until the cores "
        "are idle (under 5% busy over a second, at most a minute: "
        f"{_settled(run)}), so that whatever else the machine is doing, such as the "
        "kernel's work after a build that filled the page cache, is done before anything is "
        "timed (run 20, which searched right after building the 10M index, measured cold phrase "
        "searches at about twice what the same code gave on the same indexes later; reading "
        "20 GB through the page cache before searching reproduced part of that). Tifa's "
        "cold passes over the UN queries are split: half before the baselines' phrase "
        "searches and half after them, minutes later, each query's figure the median over "
        "both. Before each "
        "system's phrase searches its files are read once (Tifa's index, the FTS5 "
        "database, the text dump), so that no system's first calls pay for pages the "
        "kernel evicted while the run built or scanned other datasets. The 10M index "
        "(about 10 GB) is searched twice: first as the run left the page cache (one pass, "
        "reads from disk included), then, when it fits in the memory available, read once "
        "ahead like the others (the target row and the scaling table use the second)."
    )
    footer = f"_Total wall time of this run: {elapsed / 60:.1f} min._"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        rp.render(
            header=header,
            howto=howto,
            targets=tgts,
            gate_md="\n".join(gate_md),
            tables=run.tables,
            hotspots=hs,
            footer=footer,
        )
    )
    (run.store.root / "targets.json").write_text(
        json.dumps([t.__dict__ for t in tgts], indent=1, default=str)
    )


if __name__ == "__main__":
    raise SystemExit(main())
