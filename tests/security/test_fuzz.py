"""Property tests that try to break the normaliser and the readers: offsets always
valid, folding idempotent; any bytes in any supported shape give Statements or
Rejections, never an exception; the same for request bodies of the write API."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.writes import parse_body
from indexer.errors import InvalidInput
from indexer.model import Rejection, Statement
from indexer.sources import read
from indexer.text import fold, terms, tokenize

# More examples in the soak run (HYPOTHESIS_PROFILE is not used: one knob, one place).
EXAMPLES = int(os.environ.get("TIFA_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that reaches the awkward corners: combining marks, ligatures, Han, Cyrillic ё,
# fullwidth forms, the Turkish dotted I, ß, NFKC-expanding characters and surrogates.
AWKWARD = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("ﬁﬀİıßẞёЁ̈́㎏①Ⅻ½ǅﬆ中国新时代ｱＡ\u0301\u0308\u200b\u00a0\u3000\n\r\t-’'\""),
    ),
    max_size=200,
)


@FUZZ
@given(AWKWARD)
def test_fold_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once


@FUZZ
@given(AWKWARD)
def test_token_offsets_are_valid_and_ordered(text: str) -> None:
    tokens = tokenize(text)
    for before, tok in zip([None, *tokens], tokens, strict=False):
        assert 0 <= tok.start < tok.end <= len(text)
        assert tok.text, "no empty tokens"
        # The original span folds to text holding the token (more, when a ligature or a
        # cluster is split between tokens).
        assert tok.text in fold(text[tok.start : tok.end])
        if before is not None:
            assert before.start <= tok.start
    assert [t.text for t in tokens] == terms(text)


@FUZZ
@given(AWKWARD)
def test_tokens_are_folded(text: str) -> None:
    for tok in tokenize(text):
        assert fold(tok.text) == tok.text


# ---- readers -----------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
RECORDISH = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=30), st.integers(), st.booleans(), st.none()),
        "date": st.one_of(st.dates().map(str), st.text(max_size=12), st.integers()),
        "published": st.one_of(st.dates().map(str), st.text(max_size=12)),
        "text": st.one_of(AWKWARD, st.integers(), st.lists(st.text(max_size=5), max_size=3)),
        "kind": st.one_of(st.sampled_from(["speech", "call", "x"]), st.integers()),
        "language": st.one_of(st.sampled_from(["en", "zh", "ru", "", "x" * 20]), st.none()),
        "speakers": st.one_of(st.lists(st.text(max_size=10), max_size=3), st.text(max_size=5)),
        "meta": JSON_VALUES,
        "passages": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {"text": AWKWARD},
                    optional={"addressee": st.one_of(st.text(max_size=10), st.integers())},
                ),
                max_size=3,
            ),
            JSON_VALUES,
        ),
    },
)


def _only_items(path: Path, **kwargs: object) -> list[Statement | Rejection]:
    items = list(read(path, **kwargs))  # type: ignore[arg-type]
    for item in items:
        assert isinstance(item, (Statement, Rejection))
    return items


@FUZZ
@given(data=st.binary(max_size=2000), fmt=st.sampled_from(["jsonl", "csv", "frontmatter", "html"]))
def test_random_bytes_in_every_format(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, fmt: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "input"
    path.write_bytes(data)
    _only_items(path, fmt=fmt)


@FUZZ
@given(records=st.lists(st.one_of(RECORDISH, JSON_VALUES), max_size=5))
def test_arbitrary_json_records(
    tmp_path_factory: pytest.TempPathFactory, records: list[object]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "input.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    items = _only_items(path)
    assert len(items) == sum(1 for r in records)


@FUZZ
@given(
    records=st.lists(RECORDISH, min_size=1, max_size=4),
    encoding=st.sampled_from(["utf-16", "utf-16-be", "latin-1", "cp1251", "gb18030", "utf-32"]),
)
def test_wrong_encodings(
    tmp_path_factory: pytest.TempPathFactory, records: list[object], encoding: str
) -> None:
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    path = tmp_path_factory.mktemp("fuzz") / "input.jsonl"
    path.write_bytes(text.encode(encoding, errors="replace"))
    _only_items(path)


@FUZZ
@given(records=st.lists(RECORDISH, min_size=1, max_size=4), cut=st.floats(0, 1))
def test_truncated_gzip(
    tmp_path_factory: pytest.TempPathFactory, records: list[object], cut: float
) -> None:
    blob = gzip.compress("\n".join(json.dumps(r) for r in records).encode())
    path = tmp_path_factory.mktemp("fuzz") / "input.jsonl.gz"
    path.write_bytes(blob[: int(len(blob) * cut)])
    _only_items(path)


@pytest.mark.parametrize("depth", [10, 1000, 100_000])
def test_deeply_nested_json(tmp_path: Path, depth: int) -> None:
    deep = "[" * depth + "]" * depth
    meta = '{"a":' * depth + "1" + "}" * depth
    path = tmp_path / "deep.jsonl"
    path.write_text(
        deep + "\n" + f'{{"id": "d", "date": "2020-01-01", "text": "t", "meta": {meta}}}\n'
    )
    items = _only_items(path)
    assert len(items) == 2


def test_huge_line_and_huge_text(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    big = "word " * 1_100_000  # over 5,000,000 characters
    with path.open("w") as f:
        f.write(json.dumps({"id": "big", "date": "2020-01-01", "text": big}) + "\n")
        f.write(json.dumps({"id": "ok", "date": "2020-01-01", "text": "fine"}) + "\n")
    items = _only_items(path)
    assert isinstance(items[0], Rejection) and "longer than" in items[0].reason
    assert isinstance(items[1], Statement)


# ---- request bodies ------------------------------------------------------------------------


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=1000),
        st.lists(st.one_of(RECORDISH, JSON_VALUES), max_size=4).map(
            lambda rs: json.dumps(rs).encode()
        ),
        st.lists(st.one_of(RECORDISH, JSON_VALUES), max_size=4).map(
            lambda rs: "\n".join(json.dumps(r) for r in rs).encode()
        ),
    ),
    media_type=st.sampled_from(["application/json", "application/x-ndjson"]),
)
def test_request_bodies(body: bytes, media_type: str) -> None:
    try:
        records = parse_body(body, media_type)
    except InvalidInput:
        assert media_type == "application/json"  # NDJSON rejects line by line instead
        return
    for number, item in records:
        assert number >= 1
        assert isinstance(item, (Statement, Rejection))
