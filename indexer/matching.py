"""Where a text clause occurs in a token list: the matching model applied to one passage.

Backends use it to verify candidates the engine cannot count exactly (proximity, NEAR),
and the search layer uses it to mark hits in snippets. Spans are [first, last] token
indexes, inclusive; each start position counts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from indexer.query import Leaf, Near, Phrase

Span = tuple[int, int]


@lru_cache(maxsize=1)
def _morph() -> object:
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=200_000)
def lemma(token: str) -> str:
    """The dictionary form of a folded token: Russian words by pymorphy3, others unchanged."""
    if not any("а" <= c <= "я" for c in token):
        return token
    parses = _morph().parse(token)  # type: ignore[attr-defined]
    return str(parses[0].normal_form).replace("ё", "е") if parses else token


def lemmas(tokens: Sequence[str]) -> list[str]:
    """Lemmas of folded tokens, one for one (so positions stay aligned)."""
    return [lemma(t) for t in tokens]


def _token_matches(token: str, wanted: str, prefix: bool) -> bool:
    return token.startswith(wanted) if prefix else token == wanted


def phrase_spans(tokens: Sequence[str], phrase: Phrase) -> list[Span]:
    """Occurrences of `phrase` in folded `tokens` (lemmatised first when phrase.lemma)."""
    want = list(phrase.tokens)
    if phrase.lemma:
        tokens = lemmas(tokens)
        want = lemmas(want)
    n = len(want)
    last = n - 1
    spans: list[Span] = []
    if phrase.slop == 0 and not phrase.prefix and n:
        # The common case, searched with list.index (a C loop) rather than token by token.
        words = tokens if isinstance(tokens, list) else list(tokens)
        first, i = want[0], -1
        try:
            while True:
                i = words.index(first, i + 1)
                if words[i : i + n] == want:
                    spans.append((i, i + last))
        except ValueError:
            return spans
    size = len(tokens)
    for i in range(size):
        if not _token_matches(tokens[i], want[0], phrase.prefix and last == 0):
            continue
        if phrase.slop == 0:
            if i + n > size:
                break
            if all(
                _token_matches(tokens[i + k], want[k], phrase.prefix and k == last)
                for k in range(1, n)
            ):
                spans.append((i, i + last))
            continue
        # In order, at most `slop` other tokens inside the whole match; the earliest
        # next token always gives the tightest match, so a greedy walk decides.
        pos = i
        ok = True
        for k in range(1, n):
            limit = i + k + phrase.slop
            nxt = pos + 1
            while (
                nxt < size
                and nxt <= limit
                and not _token_matches(tokens[nxt], want[k], phrase.prefix and k == last)
            ):
                nxt += 1
            if nxt >= size or nxt > limit:
                ok = False
                break
            pos = nxt
        if ok:
            spans.append((i, pos))
    return spans


def near_spans(tokens: Sequence[str], near: Near) -> list[Span]:
    """Occurrences of `left NEAR/d right`: each start of `left` with an occurrence of
    `right` on either side, not overlapping it, at most `d` tokens away."""
    right = phrase_spans(tokens, near.right)
    if not right:
        return []
    out: list[Span] = []
    for ls, le in phrase_spans(tokens, near.left):
        best: Span | None = None
        for rs, re_ in right:
            if rs > le:
                gap = rs - le - 1
            elif re_ < ls:
                gap = ls - re_ - 1
            else:
                continue
            if gap <= near.distance:
                cand = (min(ls, rs), max(le, re_))
                if best is None or cand[1] - cand[0] < best[1] - best[0]:
                    best = cand
        if best is not None:
            out.append(best)
    return out


def spans(tokens: Sequence[str], leaf: Leaf) -> list[Span]:
    """Occurrences of a text clause in folded `tokens`."""
    if isinstance(leaf, Near):
        return near_spans(tokens, leaf)
    return phrase_spans(tokens, leaf)


def exact_in_engine(leaf: Leaf) -> bool:
    """True when an engine's own phrase/term frequency equals our occurrence count
    (plain consecutive phrases); otherwise candidates are verified with `spans`."""
    return isinstance(leaf, Phrase) and leaf.slop == 0
