"""The HTML pages and their `/embed/...` twins: server-rendered views over the same search
layer and service functions the JSON API uses, with every state in the query string.

Pages never call the API over HTTP; each links its JSON twin. Every URL is built from the
route table and the request's root path, so the service works under a proxy prefix.
Security headers (CSP with `frame-ancestors`, nosniff, Referrer-Policy) are set here, on
each page, and on the static files this module serves.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import NoMatchFound
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.config import Settings
from app.routes import diff as diff_api
from app.routes import formulas as formulas_api
from app.routes import series as series_api
from app.routes.statements import get_statement
from app.routes.timeline import (
    MAX_QUERIES,
    TimelineOut,
    TimelineSeriesOut,
    timeline_of,
)
from app.schemas import SearchOut, StatementOut, TimelineRowOut
from app.services import formulas as formulas_service
from indexer.errors import InvalidInput, NotFound, QueryError, TifaError
from indexer.model import KINDS
from indexer.query import DateRange, FieldIs, Node, parse
from indexer.search import Search, kwic

log = logging.getLogger("tifa.pages")

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

PAGE_SIZES = (10, 20, 50, 100)
FILTER_FIELDS = ("year", "source", "kind", "lang", "speaker", "series", "date", "as_of")
LANGUAGES = {"en": "English", "zh": "Chinese", "ru": "Russian", "fr": "French"}
EXAMPLES = (
    ('"comprehensive strategic partnership"', "an exact phrase"),
    ('"strategic coordination"~3', "in order, up to 3 words between"),
    ("新时代 year:2017..2025", "Chinese, limited to years"),
    ("multipolar* NOT Europe", "a prefix, excluding a word"),
    ('speaker:"Vladimir Putin" sovereignty', "a speaker's statements"),
)
SYNTAX = (
    ('"new era"', "exact phrase (punctuation and case ignored)"),
    ("china russia", "both words (AND)"),
    ("china OR russia, NOT china, -china, ( … )", "boolean"),
    ('"strategic coordination"~3', "in order, at most 3 tokens between"),
    ("strategic NEAR/3 coordination", "either order, at most 3 apart"),
    ("strateg*", "word prefix"),
    ('lemma:"стратегическое взаимодействие"', "Russian inflections"),
    ("speaker:, source:, kind:, lang:, series:, addressee:", "inline filters"),
    ("year:2016..2020, date:>=2019-12-01", "date ranges"),
)
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")
_SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ---- headers ---------------------------------------------------------------------------


def allowed_origins(settings: Settings) -> list[str]:
    """The configured embed origins that are well-formed `scheme://host[:port]` origins;
    anything else is dropped (and logged) so that it cannot inject into a header."""
    out: list[str] = []
    for raw in settings.embed_origins:
        origin = raw.strip().rstrip("/")
        if _ORIGIN.match(origin):
            out.append(origin)
        else:
            log.warning("ignoring TIFA_EMBED_ORIGINS entry %r: not an http(s) origin", raw)
    return out


def security_headers(*, embed: bool, origins: Sequence[str] = ()) -> dict[str, str]:
    """The headers every page carries. `frame-ancestors` is `'self'` on full pages and
    `'self'` plus the allowed origins on embed pages."""
    ancestors = " ".join(["'self'", *origins]) if embed else "'self'"
    csp = "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        )
    )
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if not embed:
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return headers


class _Static(StaticFiles):
    """Static files with nosniff and a cache lifetime (URLs carry a content hash)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response


def static_files() -> StaticFiles:
    """The app's own CSS, JavaScript and icons, mounted at /static (name "static")."""
    return _Static(directory=STATIC)


@functools.cache
def _asset_version(name: str) -> str:
    try:
        return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


# ---- templates and URLs ----------------------------------------------------------------


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    env.filters["rate"] = lambda x: "–" if x is None else f"{x:.2f}"
    env.filters["safe_url"] = lambda u: u if isinstance(u, str) and _SAFE_URL.match(u) else None
    env.globals["merge"] = merge
    return env


def merge(base: Mapping[str, object], changes: Mapping[str, object]) -> dict[str, object]:
    """`base` updated by `changes`; a None value removes the key (for links that drop a
    filter). Paging state (cursor, start) never carries over."""
    out = {k: v for k, v in base.items() if k not in ("cursor", "start")}
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def _query_string(params: Mapping[str, object]) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, str(v)) for v in values if v is not None and v != "")
    return urlencode(pairs)


@dataclass
class View:
    """One request's rendering context: URL building (root path, embed twin, theme),
    and the settings the templates need."""

    request: Request
    embed: bool
    theme: str | None
    origins: list[str]

    @property
    def root(self) -> str:
        scope = self.request.scope
        return str(scope.get("app_root_path", scope.get("root_path", ""))).rstrip("/")

    def path(self, name: str, /, query: Mapping[str, object] | None = None, **params: Any) -> str:
        """A root-relative URL of route `name` (path parameters as keywords)."""
        url = self.root + str(self.request.app.url_path_for(name, **params))
        qs = _query_string(query or {})
        return f"{url}?{qs}" if qs else url

    def page(self, name: str, /, query: Mapping[str, object] | None = None, **params: Any) -> str:
        """The URL of a view, in this request's mode (full page or embed) and theme."""
        q = dict(query or {})
        if self.theme and "theme" not in q:
            q["theme"] = self.theme
        return self.path(("embed_" if self.embed else "page_") + name, q, **params)

    def full(self, name: str, /, query: Mapping[str, object] | None = None, **params: Any) -> str:
        """The URL of a full (not embedded) page, e.g. to open in a new tab."""
        return self.path("page_" + name, query, **params)

    def has_route(self, name: str) -> bool:
        try:
            self.request.app.url_path_for(name)
        except NoMatchFound:
            return False
        return True

    def has(self, view: str) -> bool:
        """Whether a view without path parameters exists in this build."""
        return self.has_route("page_" + view)

    def full_current(self) -> str:
        """This very view as a full page (the embed twin's "open in Tifa" link)."""
        route = self.request.scope.get("route")
        name = str(getattr(route, "name", "") or "")
        target = "page_" + name.removeprefix("embed_").removeprefix("page_")
        query: dict[str, object] = {
            k: self.request.query_params.getlist(k) for k in self.request.query_params
        }
        if not self.has_route(target):
            return self.path("page_search")
        return self.path(target, query, **self.request.path_params)

    def api(self, name: str, /, query: Mapping[str, object] | None = None, **params: Any) -> str:
        return self.path(name, query, **params)

    def static(self, name: str) -> str:
        return self.path("static", {"v": _asset_version(name)}, path=name)

    def render(
        self, template: str, context: Mapping[str, Any], *, status: int = 200
    ) -> HTMLResponse:
        values: dict[str, Any] = {
            "view": self,
            "embed": self.embed,
            "theme": self.theme,
            "origins": self.origins,
            "languages": LANGUAGES,
            "api_url": None,
        }
        values.update(context)
        html = _env().get_template(template).render(values)
        return HTMLResponse(
            html,
            status_code=status,
            headers=security_headers(embed=self.embed, origins=self.origins),
        )


def _view(request: Request) -> View:
    route = request.scope.get("route")
    embed = isinstance(route, APIRoute) and route.name.startswith("embed_")
    theme = request.query_params.get("theme")
    settings: Settings = request.app.state.settings
    return View(
        request=request,
        embed=embed,
        theme=theme if theme in ("light", "dark") else None,
        origins=allowed_origins(settings),
    )


def _search_layer(request: Request) -> Search:
    search: Search = request.app.state.search
    return search


def _error_page(view: View, exc: TifaError) -> HTMLResponse:
    return view.render(
        "error.html",
        {"title": exc.title, "status": exc.status, "detail": exc.detail},
        status=exc.status,
    )


# ---- filters ---------------------------------------------------------------------------


@dataclass
class Filters:
    """The filter parameters of a page, as given (strings), and as query clauses."""

    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request) -> Filters:
        qp = request.query_params
        return cls({f: qp.get(f, "").strip() for f in FILTER_FIELDS if qp.get(f, "").strip()})

    def nodes(self) -> list[Node]:
        """The clauses, exactly as the API builds them from the same parameters; raises
        InvalidInput or QueryError for a malformed value."""
        out: list[Node] = []
        for name in ("speaker", "source", "kind", "lang", "series"):
            if value := self.values.get(name):
                out.append(FieldIs(name, value))
        for name in ("year", "date"):
            if value := self.values.get(name):
                node = parse(f"{name}:{value}")
                if not isinstance(node, DateRange):
                    raise InvalidInput(f"{name} must look like 2019, 2016..2020 or >=2019-12-01")
                out.append(node)
        if value := self.values.get("as_of"):
            if not _DATE.match(value):
                raise InvalidInput("as_of must be a date, YYYY-MM-DD")
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                raise InvalidInput("as_of must be a date, YYYY-MM-DD") from None
            out.append(DateRange("published", None, day))
        return out

    def without(self, name: str) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if k != name}

    def with_(self, name: str, value: str) -> dict[str, str]:
        return {**self.values, name: value}


FACET_PARAM = {"year": "year", "source": "source", "kind": "kind", "language": "lang"}
FACET_PARAM["speaker"] = "speaker"
FILTER_LABELS = {
    "year": "Years",
    "source": "Source",
    "kind": "Kind",
    "lang": "Language",
    "speaker": "Speaker",
    "series": "Series",
    "date": "Dates",
    "as_of": "As of",
}


# ---- search ----------------------------------------------------------------------------


@router.get("/", name="page_search")
@router.get("/embed/search", name="embed_search")
def search_page(request: Request) -> HTMLResponse:
    """Search: query box, filters, KWIC hits with the whole phrase marked, facets, exact
    totals, paging by the API's cursor, export links."""
    view = _view(request)
    qp = request.query_params
    q = qp.get("q", "").strip()
    filters = Filters.of(request)
    sort = qp.get("sort", "relevance")
    sort = sort if sort in ("relevance", "date", "-date") else "relevance"
    limit = _int(qp.get("limit"), 20)
    limit = limit if limit in PAGE_SIZES else 20
    cursor = qp.get("cursor") or None
    start = max(_int(qp.get("start"), 0), 0)
    state: dict[str, object] = {"q": q, **filters.values}
    if sort != "relevance":
        state["sort"] = sort
    if limit != 20:
        state["limit"] = limit

    result: SearchOut | None = None
    error: dict[str, Any] | None = None
    if q or filters.values:
        search = _search_layer(request)
        try:
            node = search.query(q, filters.nodes())
            page = search.search(node, sort=sort, limit=limit, cursor=cursor, context=70)
            result = SearchOut.of(page)
        except QueryError as exc:
            error = {"detail": exc.detail, "position": exc.position, "query": q}
        except TifaError as exc:
            error = {"detail": exc.detail, "position": None, "query": q}
    api_query = {k: v for k, v in state.items()}
    context = {
        "title": f"{q} — Tifa search" if q else "Tifa — search official statements",
        "q": q,
        "filters": filters,
        "filter_labels": FILTER_LABELS,
        "sort": sort,
        "limit": limit,
        "page_sizes": PAGE_SIZES,
        "start": start,
        "state": state,
        "result": result,
        "error": error,
        "facet_param": FACET_PARAM,
        "kinds": KINDS,
        "languages": LANGUAGES,
        "examples": EXAMPLES,
        "syntax": SYNTAX,
        "next_url": (
            view.page("search", {**state, "cursor": result.next, "start": start + limit})
            if result and result.next
            else None
        ),
        "first_url": view.page("search", state) if cursor else None,
        "api_url": view.api("search", {**api_query, "cursor": cursor}),
        "csv_url": view.api("search", {**api_query, "format": "csv"}),
        "jsonl_url": view.api("search", {**api_query, "format": "json"}),
        "timeline_url": view.page("timeline", {"q": q, **filters.values}) if q else None,
        "embed_search_url": view.path("embed_search"),
    }
    return view.render("search.html", context, status=200)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


# ---- timeline --------------------------------------------------------------------------

PALETTE = 6


@dataclass(frozen=True)
class Column:
    """One year of the chart: its band, its values per series, where a click leads."""

    period: str
    x: float
    width: float
    has_corpus: bool
    values: tuple[float | None, ...]
    labels: tuple[str, ...]
    href: str


@dataclass(frozen=True)
class Mark:
    """A bar (x, y, width, height) or a dot (x, y) of one series."""

    series: int
    x: float
    y: float
    width: float
    height: float
    value: float


@dataclass(frozen=True)
class Chart:
    """A per-period chart laid out for SVG (viewBox units); bars for one series, lines
    for several. Periods without corpus text are gaps, never zeros."""

    width: int
    height: int
    left: int
    top: int
    plot_width: float
    plot_height: float
    columns: list[Column]
    ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    bars: list[Mark]
    lines: list[tuple[int, list[list[tuple[float, float]]]]]
    dots: list[Mark]
    gaps: list[Column]
    mode: str


def nice_ticks(top: float, n: int = 4) -> list[float]:
    """Round tick values from 0 to at least `top` (about n steps)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _fmt(value: float, mode: str) -> str:
    if mode == "rate":
        return f"{value:.2f}" if value < 10 else f"{value:.1f}"
    return f"{int(value):,}"


def layout_chart(
    out: TimelineOut, mode: Literal["count", "rate"], href: Callable[[str], str]
) -> Chart:
    """Lay out `out` (one or more series over the same periods) as a chart of raw
    occurrences (`count`) or occurrences per 10,000 tokens (`rate`)."""
    width, height, left, right, top, bottom = 880, 300, 60, 16, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    periods = [r.period for r in out.series[0].rows] if out.series else []
    n = max(len(periods), 1)
    band = plot_w / n

    def value(row: Any) -> float | None:
        if not row.has_corpus:
            return None
        return float(row.occurrences) if mode == "count" else row.per_10k_tokens

    matrix = [[value(r) for r in s.rows] for s in out.series]
    peak = max((v for col in matrix for v in col if v is not None), default=0.0)
    ticks = nice_ticks(peak)
    y_max = ticks[-1] or 1.0

    def y_of(v: float) -> float:
        return top + plot_h - v / y_max * plot_h

    columns: list[Column] = []
    for i, period in enumerate(periods):
        rows = [s.rows[i] for s in out.series]
        labels = []
        for s, r in zip(out.series, rows, strict=True):
            if not r.has_corpus:
                labels.append(f"{s.query}: no text in the corpus")
            else:
                rate = "–" if r.per_10k_tokens is None else f"{r.per_10k_tokens:.2f}"
                labels.append(
                    f"{s.query}: {r.occurrences:,} in {r.statements:,} statements"
                    f" · {rate} per 10k tokens"
                )
        columns.append(
            Column(
                period=period,
                x=left + i * band,
                width=band,
                has_corpus=any(r.has_corpus for r in rows),
                values=tuple(matrix[j][i] for j in range(len(out.series))),
                labels=tuple(labels),
                href=href(period),
            )
        )
    bars: list[Mark] = []
    lines: list[tuple[int, list[list[tuple[float, float]]]]] = []
    dots: list[Mark] = []
    if len(out.series) == 1:
        pad = min(band * 0.18, 6.0) if band > 3 else 0.0
        for c in columns:
            v = c.values[0]
            if v is not None:
                y = y_of(v)
                bar_w = max(c.width - pad, 1.0)
                bars.append(Mark(0, c.x + pad / 2, y, bar_w, max(top + plot_h - y, 0.0), v))
    else:
        for j in range(len(out.series)):
            segments: list[list[tuple[float, float]]] = [[]]
            for c in columns:
                v = c.values[j]
                if v is None:
                    if segments[-1]:
                        segments.append([])
                    continue
                point = (c.x + c.width / 2, y_of(v))
                segments[-1].append(point)
                dots.append(Mark(j, point[0], point[1], 0.0, 0.0, v))
            lines.append((j % PALETTE, [s for s in segments if len(s) > 1]))
    step = max(1, math.ceil(n / 12))
    for candidate in (1, 2, 5, 10, 20, 25, 50):
        if candidate >= step:
            step = candidate
            break
    x_labels = [
        (c.x + c.width / 2, c.period)
        for c in columns
        if len(columns) <= 12 or int(c.period[:4]) % step == 0
    ]
    return Chart(
        width=width,
        height=height,
        left=left,
        top=top,
        plot_width=plot_w,
        plot_height=plot_h,
        columns=columns,
        ticks=[(y_of(t), _fmt(t, mode)) for t in ticks],
        x_labels=x_labels,
        bars=bars,
        lines=lines,
        dots=dots,
        gaps=[c for c in columns if not c.has_corpus],
        mode=mode,
    )


def _formula_query(request: Request, formula_id: str) -> tuple[str, str]:
    """A formula's label and query (its variants ORed); NotFound for an unknown id."""
    lexicon = formulas_api.get_lexicon(_corpus_dir(request))
    f = formulas_service.get_formula(lexicon, formula_id)
    query = str(formulas_api.FormulaBase.fields_of(f)["query"])
    return f.label, query


def _corpus_dir(request: Request) -> Path:
    settings: Settings = request.app.state.settings
    return settings.corpus_dir


@router.get("/timeline", name="page_timeline")
@router.get("/embed/timeline", name="embed_timeline")
def timeline_page(request: Request) -> HTMLResponse:
    """Timeline: per-year counts of one or several queries (or formulas) as an SVG chart,
    raw or per 10,000 tokens; a click on a year opens the search for that year."""
    view = _view(request)
    qp = request.query_params
    queries = [q.strip() for q in qp.getlist("q") if q.strip()][:MAX_QUERIES]
    formula_ids = [f.strip() for f in qp.getlist("formula") if f.strip()]
    filters = Filters.of(request)
    mode: Literal["count", "rate"] = "rate" if qp.get("mode") == "rate" else "count"
    error: str | None = None
    labels: dict[str, str] = {}
    for fid in formula_ids[: MAX_QUERIES - len(queries)]:
        try:
            found = _formula_query(request, fid)
        except TifaError as exc:
            error = exc.detail
            continue
        labels[found[1]] = found[0]
        queries.append(found[1])
    out: TimelineOut | None = None
    chart: Chart | None = None
    if queries:
        try:
            out = timeline_of(
                _search_layer(request), queries, filters.nodes(), interval="year", smoothing=None
            )
        except TifaError as exc:
            error = exc.detail
    state: dict[str, object] = {
        "q": [q for q in queries if q not in labels],
        "formula": formula_ids,
        **filters.values,
    }
    if out is not None and out.series:
        combined = queries[0] if len(queries) == 1 else " OR ".join(f"({q})" for q in queries)

        def year_href(period: str) -> str:
            return view.page("search", {"q": combined, **filters.with_("year", period)})

        chart = layout_chart(out, mode, year_href)
    api_state = {"q": queries, **filters.values}
    context = {
        "title": "Timeline — " + ", ".join(labels.get(q, q) for q in queries)
        if queries
        else "Timeline — Tifa",
        "queries": queries,
        "labels": labels,
        "inputs": (queries + [""] * 3)[: max(len(queries) + 1, 3)]
        if not labels
        else [q for q in queries if q not in labels] + [""],
        "formula_ids": formula_ids,
        "filters": filters,
        "filter_labels": FILTER_LABELS,
        "mode": mode,
        "out": out,
        "chart": chart,
        "error": error,
        "count_url": view.page("timeline", {**state}),
        "rate_url": view.page("timeline", {**state, "mode": "rate"}),
        "api_url": view.api("timeline", api_state) if queries else None,
        "csv_url": view.api("timeline", {**api_state, "format": "csv"}) if queries else None,
        "search_url": lambda q: view.page("search", {"q": q, **filters.values}),
        "kinds": KINDS,
        "languages": LANGUAGES,
    }
    return view.render("timeline.html", context)


# ---- statement -------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A piece of a text, plain (`mark` empty) or marked: `mark` (a hit), `ins`, `del`."""

    text: str
    mark: str = ""


def segments(text: str, spans: Iterable[tuple[int, int, str]]) -> list[Segment]:
    """`text` cut at the given [start, end) spans, each marked with its kind; an overlap
    keeps the earlier span. The pieces join back to `text` exactly."""
    out: list[Segment] = []
    pos = 0
    for start, end, kind in sorted(spans):
        start = max(start, pos)
        end = min(end, len(text))
        if end <= start:
            continue
        if start > pos:
            out.append(Segment(text[pos:start]))
        out.append(Segment(text[start:end], kind))
        pos = end
    if pos < len(text) or not out:
        out.append(Segment(text[pos:]))
    return out


@router.get("/statements/{statement_id}", name="page_statement")
@router.get("/embed/statements/{statement_id}", name="embed_statement")
def statement_page(request: Request, statement_id: str) -> HTMLResponse:
    """Statement: the full text by passage, with speakers, source link and licence;
    `q` marks the query's occurrences, `p` the passage a hit came from."""
    view = _view(request)
    search = _search_layer(request)
    q = request.query_params.get("q", "").strip()
    focus = _int(request.query_params.get("p"), -1)
    try:
        statement: StatementOut = get_statement(statement_id, search)
    except NotFound as exc:
        return _error_page(view, exc)
    node: Node | None = None
    error: str | None = None
    if q:
        try:
            node = parse(q)
        except TifaError as exc:
            error = exc.detail
    passages = []
    marked_total = 0
    for p in statement.passages:
        spans = [(s.start, s.end, "mark") for s in kwic(p.text, node, p.number, 0)] if node else []
        marked_total += len(spans)
        passages.append({"passage": p, "segments": segments(p.text, spans), "hits": len(spans)})
    context = {
        "title": statement.title or statement.id,
        "st": statement,
        "passages": passages,
        "q": q,
        "focus": focus,
        "error": error,
        "marked_total": marked_total,
        "api_url": view.api("get_statement", statement_id=statement.id),
        "back_url": view.page("search", {"q": q}) if q else None,
        "languages": LANGUAGES,
    }
    return view.render("statement.html", context)


# ---- formulas --------------------------------------------------------------------------


@router.get("/formulas", name="page_formulas")
@router.get("/embed/formulas", name="embed_formulas")
def formulas_page(request: Request) -> HTMLResponse:
    """The formula lexicon with exact totals, each formula linking its page."""
    view = _view(request)
    filters = Filters.of(request)
    try:
        lexicon = formulas_api.get_lexicon(_corpus_dir(request))
        out = formulas_api.list_formulas(_search_layer(request), lexicon, filters.nodes())
    except TifaError as exc:
        return _error_page(view, exc)
    context = {
        "title": "Formulas — Tifa",
        "out": out,
        "filters": filters,
        "api_url": view.api("list_formulas", filters.values),
        "languages": LANGUAGES,
    }
    return view.render("formulas.html", context)


def _as_timeline(tl: formulas_api.FormulaTimelineOut) -> TimelineOut:
    rows = [TimelineRowOut(**r.model_dump()) for r in tl.rows]
    return TimelineOut(
        interval=tl.interval,
        smoothing=tl.smoothing,
        series=[
            TimelineSeriesOut(
                query=tl.label,
                total_statements=sum(r.statements for r in rows),
                total_occurrences=sum(r.occurrences for r in rows),
                rows=rows,
            )
        ],
    )


@router.get("/formulas/{formula_id}", name="page_formula")
@router.get("/embed/formulas/{formula_id}", name="embed_formula")
def formula_page(request: Request, formula_id: str) -> HTMLResponse:
    """Formula: its variants, first and last attestation, totals per language and
    source, and its timeline."""
    view = _view(request)
    filters = Filters.of(request)
    mode: Literal["count", "rate"] = (
        "rate" if request.query_params.get("mode") == "rate" else "count"
    )
    search = _search_layer(request)
    try:
        lexicon = formulas_api.get_lexicon(_corpus_dir(request))
        nodes = filters.nodes()
        formula = formulas_api.get_formula(formula_id, search, lexicon, nodes)
        tl = formulas_api.formula_timeline(formula_id, search, lexicon, nodes)
    except TifaError as exc:
        return _error_page(view, exc)
    assert isinstance(tl, formulas_api.FormulaTimelineOut)
    out = _as_timeline(tl)
    chart = None
    if out.series[0].rows:
        chart = layout_chart(
            out,
            mode,
            lambda period: view.page(
                "search", {"q": formula.query, **filters.with_("year", period)}
            ),
        )
    state = {**filters.values}
    context = {
        "title": f"{formula.label} — Tifa formula",
        "f": formula,
        "out": out,
        "chart": chart,
        "labels": {},
        "mode": mode,
        "filters": filters,
        "count_url": view.page("formula", state, formula_id=formula.id),
        "rate_url": view.page("formula", {**state, "mode": "rate"}, formula_id=formula.id),
        "search_url": view.page("search", {"q": formula.query, **filters.values}),
        "timeline_url": view.page("timeline", {"formula": formula.id, **filters.values}),
        "api_url": view.api("get_formula", filters.values, formula_id=formula.id),
        "api_timeline_url": view.api("formula_timeline", filters.values, formula_id=formula.id),
        "csv_url": view.api(
            "formula_timeline", {**filters.values, "format": "csv"}, formula_id=formula.id
        ),
        "languages": LANGUAGES,
    }
    return view.render("formula.html", context)


# ---- series ----------------------------------------------------------------------------


def _as_of(request: Request) -> dt.date | None:
    value = request.query_params.get("as_of", "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("as_of must be a date, YYYY-MM-DD") from None


@router.get("/series", name="page_series_list")
@router.get("/embed/series", name="embed_series_list")
def series_list_page(request: Request) -> HTMLResponse:
    """The recurring exchanges Tifa follows."""
    view = _view(request)
    out = series_api.list_series(formulas_api.get_catalog(_corpus_dir(request)))
    context = {"title": "Series — Tifa", "out": out, "api_url": view.api("list_series")}
    return view.render("series_list.html", context)


@router.get("/series/{series_id}", name="page_series")
@router.get("/embed/series/{series_id}", name="embed_series")
def series_page(request: Request, series_id: str) -> HTMLResponse:
    """Series: season year by season year as of a date, anomalies flagged per year."""
    view = _view(request)
    search = _search_layer(request)
    try:
        as_of = _as_of(request)
        catalog = formulas_api.get_catalog(_corpus_dir(request))
        out = series_api.get_series(series_id, search, catalog, as_of)
        anomalies = {
            y.year: series_api.get_anomalies(series_id, search, catalog, y.year, out.as_of)
            for y in out.years
            if y.status != "unknown"
        }
    except TifaError as exc:
        return _error_page(view, exc)
    state = {"as_of": request.query_params.get("as_of", "")}
    context = {
        "title": f"{out.title} — Tifa series",
        "s": out,
        "anomalies": anomalies,
        "as_of_param": state["as_of"],
        "years_desc": list(reversed(out.years)),
        "api_url": view.api("get_series", state, series_id=out.id),
        "diff_url": lambda a, b: view.page(
            "series_diff", {"from": a, "to": b, **state}, series_id=out.id
        ),
        "anomalies_api": lambda y: view.api(
            "get_anomalies", {"year": y, **state}, series_id=out.id
        ),
    }
    return view.render("series.html", context)


# ---- diffs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    """One aligned pair of passages, each side cut into marked segments (None: absent)."""

    status: str
    a_number: int | None
    b_number: int | None
    a_label: str | None
    b_label: str | None
    a: list[Segment] | None
    b: list[Segment] | None
    similarity: float


def diff_rows(
    d: diff_api.StatementDiffOut, a_texts: Mapping[int, str], b_texts: Mapping[int, str]
) -> list[DiffRow]:
    """The diff's passages side by side, removed words marked `del` in A and added words
    `ins` in B, at the offsets the diff gives."""
    rows = []
    for p in d.passages:
        a_spans: list[tuple[int, int, str]] = []
        b_spans: list[tuple[int, int, str]] = []
        if p.status == "changed":
            for sent in p.sentences:
                if sent.status == "removed" and sent.a_span:
                    a_spans.append((sent.a_span[0], sent.a_span[1], "del"))
                elif sent.status == "added" and sent.b_span:
                    b_spans.append((sent.b_span[0], sent.b_span[1], "ins"))
                else:
                    for op in sent.ops:
                        if op.op in ("delete", "replace") and op.a_end > op.a_start:
                            a_spans.append((op.a_start, op.a_end, "del"))
                        if op.op in ("insert", "replace") and op.b_end > op.b_start:
                            b_spans.append((op.b_start, op.b_end, "ins"))
        a_text = a_texts.get(p.a_number) if p.a_number is not None else None
        b_text = b_texts.get(p.b_number) if p.b_number is not None else None
        rows.append(
            DiffRow(
                status=p.status,
                a_number=p.a_number,
                b_number=p.b_number,
                a_label=p.a_addressee,
                b_label=p.b_addressee,
                a=segments(a_text, a_spans) if a_text is not None else None,
                b=segments(b_text, b_spans) if b_text is not None else None,
                similarity=p.similarity,
            )
        )
    return rows


def _diff_context(request: Request, d: diff_api.StatementDiffOut) -> dict[str, Any]:
    backend = _search_layer(request).backend
    a, b = backend.statement(d.a.id), backend.statement(d.b.id)
    a_texts = {p.number: p.text for p in a.passages} if a else {}
    b_texts = {p.number: p.text for p in b.passages} if b else {}
    return {"d": d, "rows": diff_rows(d, a_texts, b_texts)}


@router.get("/diff", name="page_diff")
@router.get("/embed/diff", name="embed_diff")
def diff_page(request: Request) -> HTMLResponse:
    """Diff: two statements side by side, passages aligned, words added and removed
    marked, formulas added and dropped listed."""
    view = _view(request)
    a = request.query_params.get("a", "").strip()
    b = request.query_params.get("b", "").strip()
    context: dict[str, Any] = {
        "title": "Compare two statements — Tifa",
        "a": a,
        "b": b,
        "d": None,
        "error": None,
        "api_url": None,
    }
    if a and b:
        try:
            lexicon = formulas_api.get_lexicon(_corpus_dir(request))
            d = diff_api.diff(_search_layer(request), lexicon, a, b)
        except TifaError as exc:
            context["error"] = exc.detail
            context["status"] = exc.status
        else:
            context.update(_diff_context(request, d))
            context["title"] = f"{d.a.title or d.a.id} → {d.b.title or d.b.id} — Tifa diff"
            context["api_url"] = view.api("diff", {"a": a, "b": b})
    return view.render("diff.html", context, status=int(context.pop("status", 200)))


@router.get("/series/{series_id}/diff", name="page_series_diff")
@router.get("/embed/series/{series_id}/diff", name="embed_series_diff")
def series_diff_page(request: Request, series_id: str) -> HTMLResponse:
    """One season year of a series against another: levels, formulas, the main texts."""
    view = _view(request)
    search = _search_layer(request)
    qp = request.query_params
    try:
        as_of = _as_of(request)
        catalog = formulas_api.get_catalog(_corpus_dir(request))
        overview = series_api.get_series(series_id, search, catalog, as_of)
        years = [y.year for y in overview.years]
        year_to = _int(qp.get("to"), years[-1] if years else dt.date.today().year)
        year_from = _int(qp.get("from"), year_to - 1)
        d = series_api.get_series_diff(series_id, search, catalog, year_from, year_to, as_of)
    except TifaError as exc:
        return _error_page(view, exc)
    state = {"from": year_from, "to": year_to, "as_of": qp.get("as_of", "")}
    context: dict[str, Any] = {
        "title": f"{overview.title}: {year_from} → {year_to} — Tifa",
        "s": overview,
        "sd": d,
        "years": years,
        "year_from": year_from,
        "year_to": year_to,
        "as_of_param": state["as_of"],
        "api_url": view.api("get_series_diff", state, series_id=series_id),
        "d": None,
        "rows": [],
    }
    if d.statements is not None:
        context.update(_diff_context(request, d.statements))
    return view.render("series_diff.html", context)
