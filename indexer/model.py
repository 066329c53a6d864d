"""The domain values: statements, passages, rejections, and the canonical record format.

A statement is one document (a readout, message, speech, report...). It is split into
passages (paragraphs, or one addressed message inside a round-up); every count and
every hit is per passage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "readout",
    "message",
    "call",
    "statement",
    "speech",
    "report",
    "commentary",
    "news",
    "other",
)

ID_MAX_LEN = 200
TEXT_MAX_CHARS = 5_000_000


class RecordError(ValueError):
    """A record that cannot be taken, with the reason in words a user can act on."""


@dataclass(frozen=True, slots=True)
class Passage:
    """One paragraph (or one addressed message) of a statement, in original text."""

    number: int
    text: str
    addressee: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """One official statement in the canonical shape (see README, "Input format")."""

    id: str
    date: dt.date
    text: str
    title: str = ""
    published: dt.date | None = None
    source: str = ""
    url: str | None = None
    license: str = ""
    language: str = "en"
    kind: str = "other"
    speakers: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    passages: tuple[Passage, ...] = ()
    _digest: str | None = field(default=None, compare=False, repr=False)

    @property
    def published_on(self) -> dt.date:
        """When it became public: `published`, or `date` where that is unknown."""
        return self.published or self.date

    def to_record(self) -> dict[str, Any]:
        """The canonical JSON object for this statement (passages included)."""
        return {
            "id": self.id,
            "title": self.title,
            "date": self.date.isoformat(),
            "published": self.published_on.isoformat(),
            "source": self.source,
            "url": self.url,
            "license": self.license,
            "language": self.language,
            "kind": self.kind,
            "speakers": list(self.speakers),
            "series": list(self.series),
            "meta": dict(self.meta),
            "text": self.text,
            "passages": [
                {"number": p.number, "text": p.text, "addressee": p.addressee}
                for p in self.passages
            ],
        }

    def content_hash(self) -> str:
        """A stable digest of everything indexed, so re-ingesting unchanged input is a no-op."""
        if self._digest is None:
            blob = json.dumps(self.to_record(), sort_keys=True, ensure_ascii=False)
            digest = hashlib.blake2b(blob.encode("utf-8"), digest_size=16).hexdigest()
            # Frozen, but the digest is a pure function of the fields: cache it.
            object.__setattr__(self, "_digest", digest)
        assert self._digest is not None
        return self._digest


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record the indexer refused: where it was and why."""

    file: str
    record: int
    reason: str
    id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.record}"
        who = f" (id {self.id})" if self.id else ""
        return f"{where}{who}: {self.reason}"


def parse_date(value: Any, field_name: str) -> dt.date:
    """Parse a YYYY-MM-DD date; raise RecordError naming the field otherwise."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"'{field_name}' is required as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise RecordError(f"'{field_name}' is not a YYYY-MM-DD date: {value!r}") from None


def _str_list(value: Any, field_name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"'{field_name}' must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _opt_str(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise RecordError(f"'{key}' must be a string")
    return value


def statement_from_record(
    record: Mapping[str, Any], passages: tuple[Passage, ...] | None = None
) -> Statement:
    """Validate one canonical record (a JSON object) and build a Statement.

    Passages are split from `text` unless given. Raises RecordError with the reason.
    """
    from indexer.text import split_passages  # text depends on model, not the reverse

    if not isinstance(record, Mapping):
        raise RecordError("a record must be a JSON object")
    raw_id = record.get("id")
    if isinstance(raw_id, bool) or raw_id is None or raw_id == "":
        raise RecordError("'id' is required")
    if not isinstance(raw_id, (str, int)):
        raise RecordError("'id' must be a string or an integer")
    sid = str(raw_id).strip()
    if not sid or len(sid) > ID_MAX_LEN or any(c in sid for c in "\n\r\t"):
        raise RecordError(f"'id' must be 1-{ID_MAX_LEN} characters without line breaks")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RecordError("'text' is required and must be a non-empty string")
    if len(text) > TEXT_MAX_CHARS:
        raise RecordError(f"'text' is longer than {TEXT_MAX_CHARS} characters")
    date = parse_date(record.get("date"), "date")
    published = parse_date(record["published"], "published") if record.get("published") else None
    kind = _opt_str(record, "kind") or "other"
    if kind not in KINDS:
        raise RecordError(f"'kind' must be one of {', '.join(KINDS)}; got {kind!r}")
    language = (_opt_str(record, "language") or "en").strip().lower()
    if not language.isascii() or not 2 <= len(language) <= 12:
        raise RecordError(
            f"'language' must be a language code such as en, zh, ru; got {language!r}"
        )
    meta = record.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise RecordError("'meta' must be a JSON object")
    if passages is None:
        passages = split_passages(text)
    if not passages:
        raise RecordError("'text' holds no words")
    return Statement(
        id=sid,
        date=date,
        text=text,
        title=(_opt_str(record, "title") or "").strip(),
        published=published,
        source=(_opt_str(record, "source") or "").strip(),
        url=_opt_str(record, "url") or None,
        license=(_opt_str(record, "license") or "").strip(),
        language=language,
        kind=kind,
        speakers=_str_list(record.get("speakers"), "speakers"),
        series=_str_list(record.get("series"), "series"),
        meta=dict(meta),
        passages=passages,
    )


def statement_from_stored(record: Mapping[str, Any]) -> Statement:
    """Rebuild a Statement from `to_record()` output (trusted: it was validated on the way in)."""
    return Statement(
        id=record["id"],
        date=dt.date.fromisoformat(record["date"]),
        text=record["text"],
        title=record.get("title", ""),
        published=dt.date.fromisoformat(record["published"]) if record.get("published") else None,
        source=record.get("source", ""),
        url=record.get("url"),
        license=record.get("license", ""),
        language=record.get("language", "en"),
        kind=record.get("kind", "other"),
        speakers=tuple(record.get("speakers", ())),
        series=tuple(record.get("series", ())),
        meta=record.get("meta", {}),
        passages=tuple(
            Passage(p["number"], p["text"], p.get("addressee")) for p in record.get("passages", ())
        ),
    )
