"""Series definitions (`corpus/series/*.yaml`) and their facts files (JSONL, one event a
line), read and validated into SeriesDef and Event values.

Every problem is a ValueError naming the file (and series id or line) and the field,
in words an editor of the data can act on.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from app.analysis.series import CHANNELS, LEVELS, Event, Report
from indexer.model import KINDS

_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_SERIES_KEYS = {
    "id",
    "title",
    "description",
    "occasion",
    "facts",
    "filter",
    "formulas",
    "usual_month_day",
}
_FILTER_KEYS = {"query", "kinds", "speakers"}
_EVENT_KEYS = {
    "date",
    "occasion",
    "level",
    "channel",
    "participants",
    "summary",
    "reported_by",
    "note",
    "initiated_by",
    "published",
    "statement_ids",
}
_REPORT_KEYS = {"outlet", "url", "language"}


@dataclass(frozen=True, slots=True)
class SeriesFilter:
    """Which statements belong to a series: a query in Tifa's language plus filters."""

    query: str
    kinds: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SeriesDef:
    """A recurring exchange: what it is, how to find its statements, which formulas to
    track, and (optionally) the facts file of its events, relative to the definition.

    `usual_month_day` ('MM-DD') is informative only: norms are learned from the facts.
    """

    id: str
    title: str
    description: str
    occasion: str
    filter: SeriesFilter
    formulas: tuple[str, ...]
    facts: str | None = None
    usual_month_day: str | None = None
    path: str = ""

    def facts_path(self) -> Path | None:
        """The facts file's path (next to the definition), or None if it has none."""
        if self.facts is None:
            return None
        return Path(self.path).parent / self.facts


def _str(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ValueError(f"{where}: '{key}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _str_tuple(value: Any, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _check_query(query: str, where: str) -> None:
    # The full parser belongs to the indexer; here only what an editor gets wrong most.
    if query.count('"') % 2:
        raise ValueError(f"{where}: 'filter.query' has an unclosed double quote")
    depth = 0
    for ch in query:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth:
        raise ValueError(f"{where}: 'filter.query' has unbalanced parentheses")


def series_from_mapping(
    data: Any, path: str = "<series>", known_formulas: Collection[str] | None = None
) -> SeriesDef:
    """Validate one series definition (a parsed YAML mapping) and build a SeriesDef.

    `known_formulas`, when given, are the formula ids the definition may track.
    Raises ValueError naming `path`, the series id and the field.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: a series definition must be a mapping")
    where = f"{path}: series {data.get('id')!r}" if data.get("id") else path
    unknown = set(data) - _SERIES_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    sid = _str(data, "id", where)
    assert sid is not None
    if not _ID.match(sid):
        raise ValueError(f"{where}: 'id' must be a lowercase slug (a-z, 0-9, '-' or '_')")
    facts = _str(data, "facts", where, required=False)
    if facts is not None:
        pure = PurePosixPath(facts)
        if pure.is_absolute() or ".." in pure.parts or pure.suffix != ".jsonl":
            raise ValueError(
                f"{where}: 'facts' must be a relative .jsonl path inside the series folder"
            )
    raw_filter = data.get("filter")
    if not isinstance(raw_filter, Mapping):
        raise ValueError(f"{where}: 'filter' is required: a mapping with 'query'")
    if set(raw_filter) - _FILTER_KEYS:
        raise ValueError(
            f"{where}: unknown keys in 'filter': {sorted(set(raw_filter) - _FILTER_KEYS)}"
        )
    query = _str(raw_filter, "query", f"{where}: filter")
    assert query is not None
    _check_query(query, where)
    kinds = _str_tuple(raw_filter.get("kinds"), "filter.kinds", where)
    bad_kinds = [k for k in kinds if k not in KINDS]
    if bad_kinds:
        raise ValueError(f"{where}: unknown kinds {bad_kinds}; known: {', '.join(KINDS)}")
    formulas = _str_tuple(data.get("formulas"), "formulas", where)
    if len(set(formulas)) != len(formulas):
        raise ValueError(f"{where}: 'formulas' lists an id twice")
    if known_formulas is not None:
        missing = [f for f in formulas if f not in known_formulas]
        if missing:
            raise ValueError(f"{where}: formulas not in the lexicon: {missing}")
    usual = data.get("usual_month_day")
    if usual is not None and (not isinstance(usual, str) or not _MONTH_DAY.match(usual)):
        raise ValueError(f"{where}: 'usual_month_day' must be 'MM-DD' in quotes, e.g. '12-31'")
    return SeriesDef(
        id=sid,
        title=_str(data, "title", where) or "",
        description=_str(data, "description", where, required=False) or "",
        occasion=_str(data, "occasion", where) or "",
        filter=SeriesFilter(
            query=query,
            kinds=kinds,
            speakers=_str_tuple(raw_filter.get("speakers"), "filter.speakers", where),
        ),
        formulas=formulas,
        facts=facts,
        usual_month_day=usual,
        path=path,
    )


def load_series(
    directory: str | Path, known_formulas: Collection[str] | None = None
) -> list[SeriesDef]:
    """Read every `*.yaml` definition in `directory` (sorted by file name).

    Raises ValueError on unreadable YAML, an invalid definition (see
    `series_from_mapping`) or two definitions with one id; FileNotFoundError when the
    directory does not exist.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"series folder not found: {folder}")
    out: list[SeriesDef] = []
    seen: dict[str, str] = {}
    for file in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ValueError(f"{file}: not valid YAML: {exc}") from None
        series = series_from_mapping(data, str(file), known_formulas)
        if series.id in seen:
            raise ValueError(
                f"{file}: series id {series.id!r} already defined in {seen[series.id]}"
            )
        seen[series.id] = str(file)
        out.append(series)
    return out


def _date(value: Any, key: str, where: str) -> dt.date:
    if not isinstance(value, str):
        raise ValueError(f"{where}: '{key}' is required as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: '{key}' is not a YYYY-MM-DD date: {value!r}") from None


def event_from_mapping(data: Any, where: str = "<event>") -> Event:
    """Validate one facts record (a parsed JSON object) and build an Event.

    Raises ValueError naming `where` and the field.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: an event must be a JSON object")
    unknown = set(data) - _EVENT_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
    level = data.get("level")
    if level not in LEVELS:
        raise ValueError(f"{where}: 'level' must be one of {', '.join(LEVELS)}; got {level!r}")
    channel = data.get("channel")
    if channel not in CHANNELS:
        raise ValueError(
            f"{where}: 'channel' must be one of {', '.join(CHANNELS)}; got {channel!r}"
        )
    participants = _str_tuple(data.get("participants"), "participants", where)
    if not participants:
        raise ValueError(f"{where}: 'participants' must name at least one person")
    reports: list[Report] = []
    raw_reports = data.get("reported_by") or []
    if not isinstance(raw_reports, list):
        raise ValueError(f"{where}: 'reported_by' must be a list of {{outlet, url, language}}")
    for k, r in enumerate(raw_reports):
        rw = f"{where}: reported_by[{k}]"
        if not isinstance(r, Mapping) or set(r) - _REPORT_KEYS:
            raise ValueError(f"{rw}: must be an object with outlet, url, language")
        outlet = _str(r, "outlet", rw)
        url = r.get("url")
        if url is not None and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            raise ValueError(f"{rw}: 'url' must be an http(s) URL or null")
        reports.append(
            Report(outlet=outlet or "", url=url, language=_str(r, "language", rw) or "en")
        )
    published = data.get("published")
    return Event(
        date=_date(data.get("date"), "date", where),
        level=str(level),
        channel=str(channel),
        participants=participants,
        occasion=_str(data, "occasion", where, required=False) or "new-year",
        summary=_str(data, "summary", where, required=False) or "",
        reported_by=tuple(reports),
        initiated_by=_str(data, "initiated_by", where, required=False),
        published=_date(published, "published", where) if published is not None else None,
        statement_ids=_str_tuple(data.get("statement_ids"), "statement_ids", where),
        note=_str(data, "note", where, required=False),
    )


def load_facts(path: str | Path) -> list[Event]:
    """Read a facts file (JSONL, one event per line; blank lines skipped) into Events,
    in file order. Raises ValueError naming the file and line of the first bad record;
    FileNotFoundError when the file does not exist."""
    file = Path(path)
    events: list[Event] = []
    with file.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{file}:{n}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON: {exc.msg}") from None
            events.append(event_from_mapping(data, where))
    return events
