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
from json.encoder import encode_basestring
from typing import Any

import orjson

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

    def header(self) -> dict[str, Any]:
        """The canonical record's fields other than meta, text and passages, in its order."""
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
        }

    def to_record(self) -> dict[str, Any]:
        """The canonical JSON object for this statement (passages included)."""
        return {
            **self.header(),
            "meta": dict(self.meta),
            "text": self.text,
            "passages": [
                {"number": p.number, "text": p.text, "addressee": p.addressee}
                for p in self.passages
            ],
        }

    def content_hash(self) -> str:
        """A stable digest of everything indexed, so re-ingesting unchanged input is a no-op:
        blake2b-128 of `json.dumps(self.to_record(), sort_keys=True, ensure_ascii=False)`."""
        if self._digest is None:
            self._cache_digest(_canonical(self, *_pieces(self)))
        assert self._digest is not None
        return self._digest

    def record_json(self) -> bytes:
        """`json.dumps(self.to_record(), ensure_ascii=False)` in UTF-8 (the form engines
        store), built with the content hash from the same pieces, caching that hash."""
        pieces = _pieces(self)
        if self._digest is None:
            self._cache_digest(_canonical(self, *pieces))
        return _stored(self, *pieces)

    def _cache_digest(self, canonical: bytes) -> None:
        digest = hashlib.blake2b(canonical, digest_size=16).hexdigest()
        # Frozen, but the digest is a pure function of the fields: cache it.
        object.__setattr__(self, "_digest", digest)


# The record's JSON forms are assembled, in UTF-8, from pieces so that the long strings
# (the text and every passage) are encoded once for both forms. orjson writes a string as
# json.dumps(ensure_ascii=False) does, byte for byte (the same escapes, in the same lower
# case hex; the tests hold them to it), in one call: half the CPU of encoding and escaping
# with bytes methods, which took about a tenth of ingest's main thread.
_Pieces = list[tuple[bytes, bytes, bytes]]  # each passage's number, text and addressee


def _json(value: Any) -> bytes:
    """`json.dumps(value, ensure_ascii=False).encode("utf-8")`, fast for strings."""
    if type(value) is str:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            # A lone surrogate: refused as json.dumps's UTF-8 is, with the same error.
            return encode_basestring(value).encode("utf-8")
    if value is None:
        return b"null"
    if type(value) is int:
        return b"%d" % value
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _dumps(value: dict[str, Any], *, sort_keys: bool = False) -> bytes:
    return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False).encode("utf-8")


def _pieces(st: Statement) -> tuple[dict[str, Any], bytes, _Pieces]:
    """The header, the text as JSON, and each passage's values as JSON."""
    passages = [
        (b"%d" % p.number, _json(p.text), b"null" if p.addressee is None else _json(p.addressee))
        for p in st.passages
    ]
    return st.header(), _json(st.text), passages


def _canonical(st: Statement, header: dict[str, Any], text: bytes, passages: _Pieces) -> bytes:
    """`json.dumps(st.to_record(), sort_keys=True, ensure_ascii=False)`, in UTF-8."""
    # Sorted, "passages" falls between "meta" and "published" and "text" between
    # "speakers" and "title": the short fields are dumped in three sorted runs around them.
    head = {k: header[k] for k in ("date", "id", "kind", "language", "license")}
    head["meta"] = dict(st.meta)
    mid = {k: header[k] for k in ("published", "series", "source", "speakers")}
    tail = {k: header[k] for k in ("title", "url")}
    items = b", ".join(
        b'{"addressee": %s, "number": %s, "text": %s}' % (addressee, number, body)
        for number, body, addressee in passages
    )
    return b"".join(
        (
            _dumps(head, sort_keys=True)[:-1],
            b', "passages": [',
            items,
            b"], ",
            _dumps(mid, sort_keys=True)[1:-1],
            b', "text": ',
            text,
            b", ",
            _dumps(tail, sort_keys=True)[1:],
        )
    )


def _stored(st: Statement, header: dict[str, Any], text: bytes, passages: _Pieces) -> bytes:
    """`json.dumps(st.to_record(), ensure_ascii=False)`, in UTF-8."""
    items = b", ".join(
        b'{"number": %s, "text": %s, "addressee": %s}' % (number, body, addressee)
        for number, body, addressee in passages
    )
    front = _dumps({**header, "meta": dict(st.meta)})[:-1]
    return b"".join((front, b', "text": ', text, b', "passages": [', items, b"]}"))


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
