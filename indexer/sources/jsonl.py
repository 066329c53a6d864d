"""JSON Lines input: one JSON object per line, gzip or not, streamed line by line.

Owns JSON decoding problems (malformed, non-standard, too deep); everything after the
decode goes through `records.build`, so mapping, presets and validation are shared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from indexer.model import Rejection, Statement
from indexer.sources.lines import Unreadable, iter_lines
from indexer.sources.records import Preset, build


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; taking them would poison every later json.dumps.
    raise ValueError(f"{name} is not valid JSON")


def decode_line(line: str) -> Any:
    """Decode one JSON line; raise ValueError (with the parser's message) or RecursionError."""
    return json.loads(line, parse_constant=_refuse_constant)


def iter_raw(path: Path) -> Iterator[tuple[int, Any] | Rejection]:
    """Yield (line number, decoded JSON value) per non-blank line, or a Rejection for a line
    that is not readable JSON. Raises OSError only if the file cannot be opened."""
    file = str(path)
    for number, line in iter_lines(path):
        if isinstance(line, Unreadable):
            yield Rejection(file, number, line.reason)
            if line.fatal:
                return
            continue
        if not line.strip():
            continue
        try:
            value = decode_line(line)
        except RecursionError:
            yield Rejection(file, number, "malformed JSON: nested too deeply")
            continue
        except ValueError as exc:
            yield Rejection(file, number, f"malformed JSON: {exc}")
            continue
        yield number, value


def read_jsonl(
    path: Path,
    *,
    mapping: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    preset: Preset | None = None,
) -> Iterator[Statement | Rejection]:
    """Statements (or Rejections, by 1-based line number) from a JSON Lines file."""
    file = str(path)
    for item in iter_raw(path):
        if isinstance(item, Rejection):
            yield item
        else:
            number, value = item
            yield build(file, number, value, mapping=mapping, defaults=defaults, preset=preset)
