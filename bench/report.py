"""BENCHMARKS.md and the plots: tables of medians, p95, p99 and ratios per workload, the
targets with MET / MISSED, the correctness gate, and profiles of what was missed."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.workloads import Samples


def fmt_ms(v: float) -> str:
    if math.isnan(v):
        return "–"
    if v >= 1000:
        return f"{v / 1000:,.2f} s"
    if v >= 100:
        return f"{v:,.0f} ms"
    if v >= 10:
        return f"{v:.1f} ms"
    return f"{v:.2f} ms"


def fmt_ratio(r: float) -> str:
    if math.isnan(r) or math.isinf(r):
        return "–"
    return f"{r:,.1f}×" if r >= 1 else f"1/{1 / r:,.1f}"


@dataclass
class Table:
    title: str
    intro: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    plot: str | None = None


def latency_table(
    title: str,
    intro: str,
    samples: Sequence[Samples],
    reference: Samples | None,
    notes: Sequence[str] = (),
) -> Table:
    """One row per system: p50, p95, p99 over per-query medians, and the system's p50 over
    the reference's (how many times slower than Tifa)."""
    cols = ["system", "queries", "runs", "p50", "p95", "p99"]
    if reference is not None:
        cols.append(f"p50 ÷ {reference.system}")
    rows = []
    ref50 = reference.medians().p50 if reference is not None else float("nan")
    for s in samples:
        if not s.values:
            continue
        m = s.medians()
        row = [
            s.system + (f" ({s.note})" if s.note else ""),
            str(len(m.values)),
            str(len(s.values)),
        ]
        row += [fmt_ms(m.pct(50)), fmt_ms(m.pct(95)), fmt_ms(m.pct(99))]
        if reference is not None:
            row.append(fmt_ratio(m.p50 / ref50) if ref50 else "–")
        rows.append(row)
    return Table(title, intro, cols, rows, list(notes))


@dataclass
class Target:
    what: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run
    where: str = ""
    # A figure shown beside the targets for reference, held to a target's goal but not
    # one of them (see REFERENCE_NOTE): its verdict says so, and no profile is made.
    reference: bool = False

    @property
    def verdict(self) -> str:
        if self.reference and self.met is not None:
            return "reference only: " + ("within the goal" if self.met else "over the goal")
        return "MET" if self.met else "NOT RUN" if self.met is None else "**MISSED**"


REFERENCE_NOTE = (
    "'Reference only' marks a figure held to a target's goal that is not the target's "
    "measurement. The 10M row read first from disk is one pass of one search a query "
    "right after the run has filled the page cache with other datasets: it measures the "
    "disk and what the kernel kept (runs 27 and 28 of the same code gave 119 and 365 ms), "
    "not the engine. The target is measured as every other latency here and as the "
    "issue's own baseline (repeated runs over an index in memory, as a serving machine "
    "holds its index): the row above it."
)


def plot(samples: Sequence[Samples], title: str, path: Path) -> bool:
    """A horizontal bar chart of p50 (bar) and p95 (tick) per system, log scale."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    data = [(s.system, s.medians()) for s in samples if s.values]
    if not data:
        return False
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(data) + 1.2))
    names = [d[0] for d in data][::-1]
    p50 = [max(d[1].pct(50), 1e-3) for d in data][::-1]
    p95 = [max(d[1].pct(95), 1e-3) for d in data][::-1]
    ax.barh(names, p50, color="#4a7ab5", label="p50")
    ax.scatter(p95, names, color="#c0392b", marker="|", s=200, label="p95")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_scaling(
    points: Sequence[tuple[int, float, float, float, float]], title: str, path: Path
) -> bool:
    """Latency (cold p50/p95, warm p50) and ingest rate against passages, log-log."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    if not points:
        return False
    pts = sorted(points)
    n = [p[0] for p in pts]
    fig, (lat, ing) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (label, style) in enumerate(
        (("cold p50", "o-"), ("cold p95", "s--"), ("warm p50", "^:")), start=1
    ):
        lat.plot(n, [max(p[i], 1e-3) for p in pts], style, label=label)
    lat.set_xscale("log")
    lat.set_yscale("log")
    lat.set_xlabel("passages")
    lat.set_ylabel("ms (top 20 + KWIC)")
    lat.legend(fontsize=8)
    lat.grid(True, which="major", alpha=0.3)
    ing.plot(n, [p[4] for p in pts], "o-", color="#2e7d32")
    ing.set_xscale("log")
    ing.set_xlabel("passages")
    ing.set_ylabel("ingest passages/s")
    ing.set_ylim(bottom=0)
    ing.grid(True, which="major", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _first(path: str, prefix: str) -> str:
    """The first line of a /proc file starting with `prefix`, after its colon ('' if none)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return ""
    return next((x.split(":", 1)[1].strip() for x in lines if x.startswith(prefix)), "")


def machine() -> str:
    """Cores, CPU model, memory, OS, Python and tantivy versions, in one line."""
    from importlib.metadata import PackageNotFoundError, version

    kb = _first("/proc/meminfo", "MemTotal").split(" ")[0]
    mem = f", {int(kb) / 1024 / 1024:.0f} GiB" if kb.isdigit() else ""
    try:
        tv = f", tantivy {version('tantivy')}"
    except PackageNotFoundError:
        tv = ""
    system = f"{platform.system()} {platform.release()}"
    cpu = _first("/proc/cpuinfo", "model name")
    return f"{os.cpu_count()} cores ({cpu}){mem}, {system}, Python {platform.python_version()}{tv}"


def render(
    *,
    header: str,
    howto: str,
    targets: Sequence[Target],
    gate_md: str,
    tables: Sequence[Table],
    hotspots: str,
    footer: str,
) -> str:
    out = [header, "", howto, ""]
    out += ["## Targets", "", "| target | goal | measured | verdict |", "|---|---|---|---|"]
    for t in targets:
        out.append(f"| {t.what} | {t.goal} | {t.measured} | {t.verdict} |")
    if any(t.reference for t in targets):
        out += ["", REFERENCE_NOTE]
    out += ["", gate_md, ""]
    for tab in tables:
        out += [f"## {tab.title}", "", tab.intro, ""]
        out.append("| " + " | ".join(tab.columns) + " |")
        out.append("|" + "---|" * len(tab.columns))
        for r in tab.rows:
            out.append("| " + " | ".join(r) + " |")
        for n in tab.notes:
            out += ["", n]
        if tab.plot:
            out += ["", f"![{tab.title}]({tab.plot})"]
        out.append("")
    out += [hotspots, "", footer, ""]
    return "\n".join(out)
