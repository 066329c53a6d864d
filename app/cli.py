"""The `tifa` command: ingest, delete, search, stats and serve, over the configured index."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from app.config import Settings
from app.engine import open_backend
from indexer.errors import TifaError
from indexer.ingest import Batch, delete, ingest
from indexer.model import Rejection, Statement
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
    backend = open_backend(settings)
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


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.main import create_app

    settings = settings.model_copy(update={"host": args.host, "port": args.port})
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level=args.log_level
    )
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
    p.add_argument("--batch-size", type=int, default=500)
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

    p = sub.add_parser("search", help="phrase search; prints KWIC lines")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--sort", choices=["relevance", "date", "-date"], default="relevance")
    p.add_argument("--context", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("stats", help="what the index holds")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("serve", help="run the HTTP service")
    p.add_argument("--host", default=os.environ.get("TIFA_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("TIFA_PORT", "8000")))
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args, Settings())
    except TifaError as exc:
        print(f"tifa {args.command}: {exc.detail}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
