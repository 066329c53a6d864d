"""Input readers: every supported file shape in, a stream of Statements and Rejections out.

`read` is the one entry point. It picks a reader by extension (or `fmt`), walks
directories, and applies a field mapping or a corpus preset. Bad records become
Rejections in the stream; only a missing path, an unknown format or an unknown preset
raise (InvalidInput), and they do so when `read` is called, before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from indexer.errors import InvalidInput
from indexer.model import Rejection, Statement
from indexer.sources.csv import read_csv
from indexer.sources.frontmatter import read_frontmatter
from indexer.sources.html import read_html
from indexer.sources.jsonl import read_jsonl
from indexer.sources.presets import PRESETS, get_preset
from indexer.sources.records import CANONICAL_FIELDS, Preset, check_mapping

__all__ = ["CANONICAL_FIELDS", "FORMATS", "PRESETS", "detect_format", "read"]

Item = Statement | Rejection
Reader = Callable[..., Iterator[Item]]

FORMATS: Mapping[str, Reader] = {
    "jsonl": read_jsonl,
    "csv": read_csv,
    "frontmatter": read_frontmatter,
    "html": read_html,
}
_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonl.gz": "jsonl",
    ".ndjson.gz": "jsonl",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".md": "frontmatter",
    ".markdown": "frontmatter",
    ".txt": "frontmatter",
    ".html": "html",
    ".htm": "html",
}
# Presets transform records; only the record-per-line shapes carry the corpora's records.
_PRESET_FORMATS = frozenset({"jsonl", "csv"})


def detect_format(path: Path) -> str | None:
    """The format of `path` from its extension (".jsonl.gz" counts as jsonl), or None."""
    name = path.name.lower()
    for ext in sorted(_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext) and len(name) > len(ext):
            return _EXTENSIONS[ext]
    return None


def _files(path: Path, fmt: str | None) -> list[tuple[Path, str]]:
    if path.is_dir():
        found = []
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            detected = detect_format(child)
            if detected is not None and (fmt is None or detected == fmt):
                found.append((child, detected))
        return found
    chosen = fmt or detect_format(path)
    if chosen is None:
        raise InvalidInput(
            f"cannot tell the format of {path}: use one of the extensions "
            f"{', '.join(sorted(_EXTENSIONS))} or pass fmt ({', '.join(FORMATS)})"
        )
    return [(path, chosen)]


def read(
    path: Path | str,
    *,
    fmt: str | None = None,
    mapping: dict[str, str] | None = None,
    preset: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Iterator[Statement | Rejection]:
    """Stream the statements in `path` (a file or a directory, read recursively, sorted).

    - `fmt`: "jsonl", "csv", "frontmatter" or "html"; by extension when None.
    - `mapping`: canonical field -> input field (`{"text": "content"}`, `"meta.x": "col"`).
    - `preset`: "kremlin", "ungdc", "govzh" or "canonical" (jsonl and csv inputs).
    - `defaults`: values for canonical fields a record leaves missing or empty.

    Yields a Statement per good record and a Rejection (file, 1-based line or record
    number, reason) per bad one; never raises for bad data. Raises InvalidInput, before
    reading, for a missing path, an unknown format or preset, or a malformed mapping.
    """
    source = Path(path)
    if not source.exists():
        raise InvalidInput(f"no such file or directory: {source}")
    if fmt is not None and fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    transform: Preset | None = get_preset(preset) if preset is not None else None
    fields = check_mapping(mapping)
    files = _files(source, fmt)
    if transform is not None:
        for file, kind in files:
            if kind not in _PRESET_FORMATS:
                raise InvalidInput(f"preset {preset!r} applies to jsonl or csv input, not {file}")
    return _stream(files, fields, defaults, transform)


def _stream(
    files: list[tuple[Path, str]],
    mapping: Mapping[str, str],
    defaults: Mapping[str, Any] | None,
    preset: Preset | None,
) -> Iterator[Item]:
    for file, kind in files:
        try:
            yield from FORMATS[kind](file, mapping=mapping, defaults=defaults, preset=preset)
        except OSError as exc:
            # The file vanished or became unreadable between listing and reading.
            yield Rejection(str(file), 0, f"file cannot be read: {exc}")
