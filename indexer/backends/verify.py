"""What engines share once they have candidate passages: reading passage texts from the
stored records, counting clauses an engine cannot count exactly, and settling each row's
match with those counts. Engines differ only in how they fetch a record by key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from indexer import matching
from indexer.backends.base import StatementMeta
from indexer.filtering import evaluate
from indexer.query import Leaf, Node
from indexer.text import terms

RecordOf = Callable[[int], dict[str, Any] | None]


def passage_texts(
    record_of: RecordOf, wanted: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], str]:
    """Original texts of the (statement key, passage number) pairs asked for."""
    out: dict[tuple[int, int], str] = {}
    for key in {k for k, _ in wanted}:
        record = record_of(key)
        if record is None:
            continue
        texts = {p["number"]: p["text"] for p in record["passages"]}
        for k, n in wanted:
            if k == key and n in texts:
                out[(k, n)] = texts[n]
    return out


def count_by_scan(
    record_of: RecordOf,
    leaf: Leaf,
    keys: npt.NDArray[np.int64],
    pnos: npt.NDArray[np.int32],
    out: npt.NDArray[np.int32],
) -> None:
    """Occurrences of `leaf` in each row's passage text (rows grouped by statement)."""
    current: int | None = None
    texts: dict[int, str] = {}
    for i, (key, pno) in enumerate(zip(keys.tolist(), pnos.tolist(), strict=True)):
        if key != current:
            current = key
            record = record_of(key)
            texts = {p["number"]: p["text"] for p in record["passages"]} if record else {}
        text = texts.get(pno)
        if text is not None:
            out[i] = len(matching.spans(terms(text), leaf))


def settle(
    record_of: RecordOf,
    by_key: Mapping[int, StatementMeta],
    query: Node,
    clause_list: list[Leaf],
    keys: npt.NDArray[np.int64],
    pnos: npt.NDArray[np.int32],
    occ: npt.NDArray[np.int32],
) -> npt.NDArray[np.bool_]:
    """Which candidate rows really match `query`, given exact clause counts (filters are
    re-evaluated the way engines apply them; negated clauses are read from the text)."""
    keep = np.zeros(len(keys), dtype=np.bool_)
    position = {leaf: j for j, leaf in enumerate(clause_list)}
    for i, (key, pno) in enumerate(zip(keys.tolist(), pnos.tolist(), strict=True)):
        record, meta = record_of(key), by_key.get(key)
        if record is None or meta is None:
            continue
        passage = next((p for p in record["passages"] if p["number"] == pno), None)
        if passage is None:
            continue
        counts = [int(c) for c in occ[i]]
        words: list[str] | None = None

        def truth(leaf: Leaf, counts: list[int] = counts, text: str = passage["text"]) -> bool:
            nonlocal words
            if leaf in position:
                return counts[position[leaf]] > 0
            if words is None:
                words = terms(text)
            return bool(matching.spans(words, leaf))

        keep[i] = evaluate(query, meta, passage.get("addressee"), truth)
    return keep
