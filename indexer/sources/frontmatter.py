"""Markdown or plain-text files with YAML front matter: one statement per file.

The front matter (between `---` lines at the top) gives the metadata under canonical
names; the body is the text. A missing `id` falls back to the file's stem.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from indexer.model import Rejection, Statement
from indexer.sources.records import Preset, build, json_safe

MAX_FILE_BYTES = 50_000_000
_FENCES = ("---", "...")


def split_front_matter(text: str) -> tuple[str, str] | None:
    """(front matter, body) of `text`, or None when it does not open with a `---` line."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() in _FENCES:
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :])
    return None


def parse(path: Path, text: str) -> dict[str, Any]:
    """The raw record of one front-matter document; raise ValueError with the reason."""
    parts = split_front_matter(text.replace("\r\n", "\n"))
    if parts is None:
        raise ValueError("no front matter: the file must start with a '---' line and close it")
    head, body = parts
    try:
        meta = yaml.safe_load(head) if head.strip() else {}
    except yaml.YAMLError as exc:
        raise ValueError(f"front matter is not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ValueError("front matter is nested too deeply") from None
    if not isinstance(meta, Mapping):
        raise ValueError("front matter must be a YAML mapping of field: value")
    record: dict[str, Any] = {str(k): v for k, v in meta.items()}
    for key in ("date", "published"):
        # YAML turns 2017-12-30 into a date already; the model accepts either.
        if key in record and not isinstance(record[key], str):
            record[key] = json_safe(record[key])
    if "meta" in record:
        record["meta"] = json_safe(record["meta"])
    record.setdefault("id", path.stem)
    record["text"] = body.strip("\n")
    return record


def read_frontmatter(
    path: Path,
    *,
    mapping: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    preset: Preset | None = None,
) -> Iterator[Statement | Rejection]:
    """The one Statement (or Rejection, as record 1) in a front-matter file."""
    file = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            yield Rejection(file, 1, f"file is larger than {MAX_FILE_BYTES} bytes")
            return
        data = path.read_bytes()
    except OSError as exc:
        yield Rejection(file, 1, f"file cannot be read: {exc}")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Rejection(file, 1, f"file is not valid UTF-8 ({exc.reason} at byte {exc.start + 1})")
        return
    try:
        record = parse(path, text)
    except ValueError as exc:
        yield Rejection(file, 1, str(exc), path.stem)
        return
    yield build(file, 1, record, mapping=mapping, defaults=defaults, preset=preset)
