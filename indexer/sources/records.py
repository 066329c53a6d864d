"""From a raw input record to a Statement or a Rejection: field mapping, defaults, the
optional canonical `passages` field, and the one place where RecordError becomes a Rejection.

Every reader funnels its records through `build`, so the rules are the same for all shapes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from indexer.errors import InvalidInput
from indexer.model import Passage, RecordError, Rejection, Statement, statement_from_record

CANONICAL_FIELDS = (
    "id",
    "title",
    "date",
    "published",
    "source",
    "url",
    "license",
    "language",
    "kind",
    "speakers",
    "text",
    "series",
    "meta",
    "passages",
)

RawRecord = Mapping[str, Any]
CanonicalRecord = dict[str, Any]
# A preset turns one raw record of a known corpus into a canonical record and, when the
# corpus knows better than blank lines, its passages. It raises RecordError for bad data.
Preset = Callable[[RawRecord], tuple[CanonicalRecord, tuple[Passage, ...] | None]]


def check_mapping(mapping: Mapping[str, str] | None) -> dict[str, str]:
    """Validate a `canonical field -> input field` mapping; raise InvalidInput if malformed.

    Keys are canonical field names or `meta.NAME`; values are input field names.
    """
    if mapping is None:
        return {}
    out: dict[str, str] = {}
    for key, source in mapping.items():
        if not isinstance(key, str) or not isinstance(source, str) or not source:
            raise InvalidInput(f"mapping entries must be 'field': 'input field'; got {key!r}")
        if key not in CANONICAL_FIELDS and not (key.startswith("meta.") and len(key) > 5):
            raise InvalidInput(
                f"mapping key {key!r} is not a canonical field "
                f"({', '.join(CANONICAL_FIELDS)}) or meta.NAME"
            )
        out[key] = source
    return out


def apply_mapping(raw: RawRecord, mapping: Mapping[str, str]) -> dict[str, Any]:
    """The raw record with canonical fields read from their mapped input fields.

    Unmapped fields keep their own names; `meta.NAME` keys add to (a copy of) `meta`.
    """
    if not mapping:
        return dict(raw)
    record = dict(raw)
    meta_extra: dict[str, Any] = {}
    for key, source in mapping.items():
        if key.startswith("meta."):
            if source in raw:
                meta_extra[key[5:]] = raw[source]
        elif source in raw:
            record[key] = raw[source]
        else:
            # A mapped field that is absent must not fall back to a same-named input field.
            record.pop(key, None)
    if meta_extra:
        meta = record.get("meta")
        record["meta"] = {**meta, **meta_extra} if isinstance(meta, Mapping) else meta_extra
    return record


def apply_defaults(record: dict[str, Any], defaults: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fill fields that are missing or empty in `record` from `defaults`."""
    if defaults:
        for key, value in defaults.items():
            if record.get(key) in (None, "", [], {}):
                record[key] = value
    return record


def passages_field(record: RawRecord) -> tuple[Passage, ...] | None:
    """The canonical optional `passages` field as Passage values, or None when absent.

    Each item is {"text": str, "addressee": str | null} (a `number`, if given, must be its
    position). When present it defines the passages instead of splitting `text`.
    """
    value = record.get("passages")
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise RecordError("'passages' must be a non-empty list of objects")
    out: list[Passage] = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise RecordError(f"'passages[{i}]' must be an object")
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RecordError(f"'passages[{i}].text' is required and must be a non-empty string")
        addressee = item.get("addressee")
        if addressee is not None and not isinstance(addressee, str):
            raise RecordError(f"'passages[{i}].addressee' must be a string or null")
        number = item.get("number", i)
        if number != i or isinstance(number, bool):
            raise RecordError(f"'passages[{i}].number' must be {i}")
        out.append(Passage(i, text, (addressee or "").strip() or None))
    return tuple(out)


def known_id(record: Any) -> str | None:
    """The record's id as text when it has a usable one, for naming it in a rejection."""
    if isinstance(record, Mapping):
        value = record.get("id")
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            text = str(value).strip()
            if text and len(text) <= 200 and "\n" not in text:
                return text
    return None


def json_safe(value: Any) -> Any:
    """`value` with dates turned into ISO strings, so meta read from YAML stays JSON."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def build(
    file: str,
    number: int,
    raw: Any,
    *,
    mapping: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    preset: Preset | None = None,
) -> Statement | Rejection:
    """Turn one raw record into a Statement, or a Rejection naming `file`:`number` and why.

    Order: mapping, then the preset, then defaults, then validation. Never raises for bad data.
    """
    if not isinstance(raw, Mapping):
        return Rejection(file, number, f"a record must be a JSON object, not {_json_type(raw)}")
    record: dict[str, Any] = apply_mapping(raw, mapping or {})
    try:
        passages: tuple[Passage, ...] | None
        if preset is not None:
            record, passages = preset(record)
        else:
            passages = passages_field(record)
        apply_defaults(record, defaults)
        return statement_from_record(record, passages=passages)
    except RecordError as exc:
        return Rejection(file, number, str(exc), known_id(record) or known_id(raw))
    except RecursionError:
        return Rejection(file, number, "record is nested too deeply", known_id(raw))


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__
