"""The `tifa` command: ingest, delete, search, stats and serve, over the configured index;
formulas, series, diff and anomalies print what the matching API routes answer."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app.config import Settings
from app.engine import open_backend, open_search
from indexer.errors import InvalidInput, TifaError
from indexer.ingest import BATCH_STATEMENTS, Batch, delete, ingest
from indexer.model import Rejection, Statement
from indexer.query import DateRange, Node
from indexer.search import Search


def _parse_map(items: Sequence[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        target, sep, source = item.partition("=")
        if not sep or not target or not source:
            raise SystemExit(f"--map takes FIELD=COLUMN, got {item!r}")
        mapping[target.strip()] = source.strip()
    return mapping


def _records(paths: Sequence[Path], args: argparse.Namespace) -> Iterator[Statement | Rejection]:
    from indexer.sources import read

    mapping = _parse_map(args.map or [])
    for path in paths:
        yield from read(path, fmt=args.format, mapping=mapping or None, preset=args.preset)


def _fingerprint(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            st = f.stat()
            h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            print(f"tifa ingest: no such file or directory: {p}", file=sys.stderr)
            return 2
    stamp_file = settings.data_dir / "ingested.json"
    fingerprint = _fingerprint(paths) + f"|{args.format}|{args.preset}|{args.map}"
    if (
        args.if_changed
        and stamp_file.exists()
        and json.loads(stamp_file.read_text()).get("fingerprint") == fingerprint
    ):
        print("tifa ingest: the corpus is unchanged since the last ingest; nothing to do")
        return 0
    search = open_search(settings)
    backend = search.backend
    progress = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(unit=" statements", desc="ingest", file=sys.stderr)

    def on_batch(batch: Batch) -> None:
        # One line per durable batch: what a crash can no longer lose.
        if args.log_batches:
            print(
                json.dumps({"committed": batch.number, "ids": batch.ids}, ensure_ascii=False),
                flush=True,
            )

    def on_record(item: Statement | Rejection) -> None:
        if progress is not None:
            progress.update(1)
        if isinstance(item, Rejection) and not args.quiet:
            print(f"rejected {item}", file=sys.stderr, flush=True)

    try:
        report = ingest(
            backend,
            _records(paths, args),
            batch_statements=args.batch_size,
            on_batch=on_batch,
            on_record=on_record,
        )
        if progress is not None:
            progress.close()
            progress = None
        if report.accepted or report.updated:
            # Formula timelines then read the lexicon's matches instead of searching.
            computed = search.warm_persisted()
            if not args.quiet:
                print(f"tifa ingest: stored the matches of {computed} lexicon queries")
    finally:
        if progress is not None:
            progress.close()
        backend.close()
    print(f"tifa ingest: {report.summary()}")
    for r in report.rejected[:50]:
        print(f"  rejected {r}")
    if len(report.rejected) > 50:
        print(f"  ... and {len(report.rejected) - 50} more rejections")
    if report.ok:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(json.dumps({"fingerprint": fingerprint}))
    return 0 if report.ok else 1


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    backend = open_backend(settings)
    try:
        n = delete(backend, args.ids)
    finally:
        backend.close()
    print(f"tifa delete: deleted {n} of {len(args.ids)} statements")
    return 0


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from app.services.writes import Writer

    backend = open_backend(settings)
    try:
        report = Writer(backend).reindex()
    finally:
        backend.close()
    print(json.dumps(dataclasses.asdict(report), indent=2))
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    search = Search(open_backend(settings))
    node = search.query(args.query)
    page = search.search(node, sort=args.sort, limit=args.limit, context=args.context)
    t = page.totals
    if args.json:
        out = {
            "total": {
                "statements": t.statements,
                "passages": t.passages,
                "occurrences": t.occurrences,
            },
            "results": [
                {
                    "id": h.statement.id,
                    "date": h.statement.date.isoformat(),
                    "title": h.statement.title,
                    "occurrences": h.occurrences,
                    "url": h.statement.url,
                }
                for h in page.hits
            ],
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"{t.statements} statements, {t.passages} passages, {t.occurrences} occurrences")
    for h in page.hits:
        m = h.statement
        print(f"\n{m.date}  {m.id}  {m.title[:90]}  ({h.occurrences}×)")
        for s in h.snippets:
            left = " ".join(s.left.split())
            right = " ".join(s.right.split())
            print(f"  {left[-args.context :]:>{args.context}} [{s.match}] {right[: args.context]}")
    return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    backend = open_backend(settings)
    metas = backend.statements()
    by_lang: dict[str, int] = {}
    for m in metas:
        by_lang[m.language] = by_lang.get(m.language, 0) + 1
    out = {
        "backend": backend.name,
        "statements": len(metas),
        "passages": sum(m.passages for m in metas),
        "tokens": sum(m.tokens for m in metas),
        "languages": by_lang,
        "first_date": min((m.date for m in metas), default=None),
        "last_date": max((m.date for m in metas), default=None),
    }
    print(json.dumps(out, default=str, indent=2))
    return 0


def default_workers(settings: Settings) -> int:
    """Server processes when neither --workers nor TIFA_WORKERS says: one per usable CPU
    with Elasticsearch; one with the embedded index, whose writer holds the index's lock
    for as long as its process lives (a second process could not take writes)."""
    if settings.backend == "embedded":
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.main import create_app
    from app.serve import run_workers

    settings = settings.model_copy(update={"host": args.host, "port": args.port})
    workers = args.workers or default_workers(settings)
    # The path prefix behind a proxy is the server's business (ASGI root_path).
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": args.log_level,
        "root_path": settings.root_path,
    }
    if workers <= 1:
        uvicorn.run(create_app(settings), **options)
        return 0
    # Several processes read the same index (searches are CPU-bound Python); each builds
    # its app from the environment, as this one would, and listens on its own socket.
    return run_workers(workers, options)


def _as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"--as-of must be a YYYY-MM-DD date, got {value!r}") from None


def _print_json(model: BaseModel) -> None:
    print(model.model_dump_json(indent=2))


def cmd_formulas(args: argparse.Namespace, settings: Settings) -> int:
    from app.routes import formulas as api
    from app.services.formulas import load_lexicon

    search = Search(open_backend(settings))
    lexicon = load_lexicon(settings.corpus_dir)
    as_of = _as_of(args.as_of)
    filters: list[Node] = [DateRange("published", None, as_of)] if as_of else []
    if not args.id:
        listing = api.list_formulas(search, lexicon, filters)
        if args.json:
            _print_json(listing)
            return 0
        for f in listing.results:
            print(f"{f.id:<48} {f.statements:>6} stmts {f.occurrences:>7} occ  {f.label}")
        return 0
    one = api.get_formula(args.id, search, lexicon, filters)
    tl = api.formula_timeline(args.id, search, lexicon, filters)
    assert isinstance(tl, api.FormulaTimelineOut)
    if args.json:
        print(
            json.dumps(
                {"formula": one.model_dump(mode="json"), "timeline": tl.model_dump(mode="json")},
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    t = one.totals
    print(f"{one.label} ({one.id})")
    for lang, variants in one.variants.items():
        print(f"  {lang}: {' | '.join(variants)}")
    print(f"{t.statements} statements, {t.passages} passages, {t.occurrences} occurrences")
    for name, att in (("first", one.first), ("last", one.last)):
        if att:
            print(f"{name:>6}: {att.date}  {att.statement_id}  {att.title[:70]}")
    if one.absent_since:
        print(f"absent since {one.absent_since} (the corpus runs to {one.corpus_last_year})")
    for lt in one.by_language:
        print(f"  {lt.language}: {lt.statements} statements, {lt.occurrences} occurrences")
    for row in tl.rows:
        if row.occurrences:
            rate = f"{row.per_10k_tokens:.2f}" if row.per_10k_tokens is not None else "-"
            print(f"  {row.period}  {row.statements:>4} stmts {row.occurrences:>5} occ  {rate}/10k")
    return 0


def _event_line(e: Any) -> str:
    who = ", ".join(e.participants)
    return f"    {e.date}  {e.level}, {e.channel}: {who}"


def cmd_series(args: argparse.Namespace, settings: Settings) -> int:
    from app.routes import series as api
    from app.services.series import load_catalog

    catalog = load_catalog(settings.corpus_dir)
    if not args.id:
        listing = api.list_series(catalog)
        if args.json:
            _print_json(listing)
            return 0
        for s in listing.results:
            years = ", ".join(str(y) for y in s.recorded_years) or "no recorded events"
            print(f"{s.id:<32} {s.title}  [{years}]")
        return 0
    search = Search(open_backend(settings))
    view = api.get_series(args.id, search, catalog, _as_of(args.as_of))
    if args.json:
        _print_json(view)
        return 0
    print(f"{view.title} ({view.id}), as of {view.as_of}")
    for y in view.years:
        print(f"{y.year}  {y.status}")
        for e in y.events:
            print(_event_line(e))
        for st in y.statements:
            share = f", passages {st.passages}" if st.passages is not None else ""
            print(f"    text: {st.id} ({st.link}{share})  {st.title[:60]}")
        if y.formula_counts:
            print("    formulas: " + ", ".join(f"{k} {v}" for k, v in y.formula_counts.items()))
        if y.addressees is not None:
            print(f"    round-up greets {len(y.addressees)} addressees")
    return 0


def cmd_anomalies(args: argparse.Namespace, settings: Settings) -> int:
    from app.routes import series as api
    from app.services.series import load_catalog

    search = Search(open_backend(settings))
    catalog = load_catalog(settings.corpus_dir)
    out = api.get_anomalies(args.series, search, catalog, args.year, _as_of(args.as_of))
    if args.json:
        _print_json(out)
        return 0
    state = "recorded" if out.recorded else "unknown (no event known)"
    print(f"{out.series} {out.year} as of {out.as_of}: {state}")
    print(f"norms from {', '.join(map(str, out.previous_years)) or 'no earlier recorded year'}")
    for n in out.norms:
        print(f"  {n}")
    for a in out.anomalies:
        print(f"! {a.kind}: {a.description}\n    norm: {a.norm_text}")
    for c in out.confirmations:
        print(f"= {c.description}")
    print(f"formulas: {out.formulas.basis}")
    return 0


def _print_statement_diff(d: Any) -> None:
    c = d.counts
    print(f"{d.a.id} ({d.a.date}) → {d.b.id} ({d.b.date})")
    print(f"passages: {c.equal} equal, {c.changed} changed, {c.added} added, {c.removed} removed")
    for m in d.metadata:
        print(f"  {m.description}")
    for name in ("added", "dropped", "kept"):
        for f in getattr(d.formulas, name):
            print(f"  formula {name}: {f.formula_id} ({f.count_a} → {f.count_b})")
    if d.addressees is not None:
        for x in d.addressees.only_a:
            print(f"  greeted in A only: {x.name} ({x.country or '?'})")
        for x in d.addressees.only_b:
            print(f"  greeted in B only: {x.name} ({x.country or '?'})")
    for p in d.passages:
        if p.status == "equal":
            continue
        who = p.b_addressee or p.a_addressee or ""
        print(f"\n[{p.status}] A#{p.a_number} → B#{p.b_number}  {who}")
        for s in p.sentences:
            for op in s.ops:
                if op.op in ("delete", "replace"):
                    print(f"  - {op.a_text}")
                if op.op in ("insert", "replace"):
                    print(f"  + {op.b_text}")


def cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    from app.routes import diff as diff_api
    from app.routes import series as series_api
    from app.services.formulas import load_lexicon
    from app.services.series import load_catalog

    search = Search(open_backend(settings))
    if args.series:
        if args.ids or args.year_from is None or args.year_to is None:
            raise InvalidInput("give either A B, or --series ID --from YEAR --to YEAR")
        catalog = load_catalog(settings.corpus_dir)
        sd = series_api.get_series_diff(
            args.series, search, catalog, args.year_from, args.year_to, _as_of(args.as_of)
        )
        if args.json:
            _print_json(sd)
            return 0
        print(
            f"{sd.series}: {sd.year_from.year} ({sd.year_from.status}) → "
            f"{sd.year_to.year} ({sd.year_to.status}), as of {sd.as_of}"
        )
        for lv in sd.levels:
            shifts = f"shift {lv.shift_from} → {lv.shift_to} days" if lv.usual else ""
            print(f"  {lv.level}: {lv.status}; usual {lv.usual or '-'} {shifts}")
            for ch in lv.changes:
                print(f"    {ch.description}")
        print(f"formulas: {sd.formula_basis}")
        if sd.formulas is not None:
            for name in ("added", "dropped", "kept"):
                for f in getattr(sd.formulas, name):
                    print(f"  formula {name}: {f.formula_id} ({f.count_a} → {f.count_b})")
        if sd.addressees is not None:
            for x in sd.addressees.only_a:
                print(f"  greeted in {sd.year_from.year} only: {x.name} ({x.country or '?'})")
            for x in sd.addressees.only_b:
                print(f"  greeted in {sd.year_to.year} only: {x.name} ({x.country or '?'})")
        if sd.statements is not None:
            c = sd.statements.counts
            print(
                f"main statements {sd.statements.a.id} → {sd.statements.b.id}: "
                f"{c.changed} changed, {c.added} added, {c.removed} removed passages"
            )
        return 0
    if len(args.ids) != 2:
        raise InvalidInput("tifa diff takes two statement ids (or --series)")
    d = diff_api.diff(search, load_lexicon(settings.corpus_dir), args.ids[0], args.ids[1])
    if args.json:
        _print_json(d)
        return 0
    _print_statement_diff(d)
    return 0


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from app.keys import KeyStore

    store = KeyStore(settings.keys_path)
    try:
        if args.keys_command == "create":
            info, token = store.create(args.scope, args.name or "")
            # The key alone on stdout (for scripts); it is not stored and never shown again.
            print(token)
            print(
                f"tifa keys: created {info.id} ({info.scope}) in {settings.keys_path}; "
                "keep the key now, it cannot be shown again",
                file=sys.stderr,
            )
        elif args.keys_command == "list":
            for k in store.list():
                state = f"revoked {k.revoked}" if k.revoked else "active"
                print(f"{k.id}  {k.scope:<5}  {k.created}  {state:<32}  {k.name}")
        else:
            info = store.revoke(args.id)
            print(f"tifa keys: revoked {info.id} ({info.scope}) at {info.revoked}")
    finally:
        store.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tifa",
        description="Search and diff official statements. "
        "The index lives under TIFA_DATA_DIR (default ./var).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add or update statements from files or folders")
    p.add_argument("paths", nargs="+")
    p.add_argument("--format", choices=["jsonl", "csv", "text", "html"], default=None)
    p.add_argument("--preset", choices=["canonical", "kremlin", "ungdc", "govzh"], default=None)
    p.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN",
        help="take a canonical field from another column, e.g. text=content",
    )
    p.add_argument("--batch-size", type=int, default=BATCH_STATEMENTS)
    p.add_argument(
        "--if-changed",
        action="store_true",
        help="do nothing when the inputs are unchanged since the last clean run",
    )
    p.add_argument(
        "--log-batches", action="store_true", help="print one JSON line per committed batch"
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("delete", help="delete statements by id")
    p.add_argument("ids", nargs="+")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser(
        "reindex",
        help="rebuild the index from the stored statements (Elasticsearch: a new index "
        "swapped in behind the alias, no downtime)",
    )
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("search", help="phrase search; prints KWIC lines")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--sort", choices=["relevance", "date", "-date"], default="relevance")
    p.add_argument("--context", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    sub.add_parser("bench", help="the benchmark suite (see BENCHMARKS.md; needs .[bench])")

    p = sub.add_parser("stats", help="what the index holds")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("serve", help="run the HTTP service")
    p.add_argument("--host", default=os.environ.get("TIFA_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("TIFA_PORT", "8000")))
    p.add_argument("--log-level", default="info")
    p.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("TIFA_WORKERS", "0")),
        help="server processes; more use more cores for searches (default: one per CPU "
        "with Elasticsearch, 1 with the embedded index, which one process writes at a time)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("formulas", help="the formula lexicon, or one formula's attestations")
    p.add_argument("id", nargs="?")
    p.add_argument("--as-of", help="count only what was published by YYYY-MM-DD")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_formulas)

    p = sub.add_parser("series", help="recurring exchanges, or one series year by year")
    p.add_argument("id", nargs="?")
    p.add_argument("--as-of", help="only what was published by YYYY-MM-DD (default: today)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_series)

    p = sub.add_parser("diff", help="diff two statements, or two years of a series")
    p.add_argument("ids", nargs="*", metavar="ID", help="two statement ids: A (earlier) B")
    p.add_argument("--series", help="diff two season years of this series instead")
    p.add_argument("--from", dest="year_from", type=int, help="the earlier season year")
    p.add_argument("--to", dest="year_to", type=int, help="the later season year")
    p.add_argument("--as-of", help="only what was published by YYYY-MM-DD (default: today)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("anomalies", help="a season year of a series against its norms")
    p.add_argument("series")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--as-of", help="only what was published by YYYY-MM-DD (default: today)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_anomalies)

    p = sub.add_parser("keys", help="API keys: create, list, revoke")
    keys_sub = p.add_subparsers(dest="keys_command", required=True)
    k = keys_sub.add_parser("create", help="make a key and print it (once)")
    k.add_argument("--scope", choices=["read", "write", "admin"], required=True)
    k.add_argument("--name", default="", help="who or what the key is for")
    keys_sub.add_parser("list", help="every key: id, scope, created, revoked, name")
    k = keys_sub.add_parser("revoke", help="revoke a key by id (takes effect at once)")
    k.add_argument("id")
    p.set_defaults(func=cmd_keys)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        # The benchmark suite has its own options (`tifa bench --help`); it is a tool
        # beside the service, loaded only when asked for.
        import importlib

        bench_main = importlib.import_module("bench.__main__").main
        return int(bench_main(argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args, Settings())
    except TifaError as exc:
        print(f"tifa {args.command}: {exc.detail}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
