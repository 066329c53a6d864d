"""Discovery: phrases that recur across the years of a series (n-grams by year), and the
words that set one body of statements apart from another (keyness).

Inputs are token lists and token counts already made under the matching model, so a
phrase found here is one the search can find again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from indexer.text import HAN

# Hardie (2014) log ratio is undefined when a side has zero occurrences; like CQPweb we
# put 0.5 in place of a zero frequency, which keeps the value finite and conservative.
ZERO_FREQUENCY = 0.5


@dataclass(frozen=True, slots=True)
class RecurringNgram:
    """An n-gram found in `support` distinct years; `per_year` holds (year, count) pairs
    in year order and `total` their sum."""

    tokens: tuple[str, ...]
    support: int
    per_year: tuple[tuple[int, int], ...]
    total: int

    @property
    def text(self) -> str:
        """The n-gram as a phrase: Han characters joined without spaces, words with."""
        return join_tokens(self.tokens)


@dataclass(frozen=True, slots=True)
class KeyTerm:
    """A term's keyness in a target corpus against a reference corpus.

    `freq_*` are raw counts, `per_10k_*` relative frequencies per 10,000 tokens,
    `log_likelihood` the G2 statistic (always >= 0; `direction` gives its sign) and
    `log_ratio` the binary log of the ratio of relative frequencies (positive when
    more frequent in the target).
    """

    term: str
    freq_target: int
    freq_reference: int
    per_10k_target: float
    per_10k_reference: float
    log_likelihood: float
    log_ratio: float
    direction: Literal["over", "under"]


def join_tokens(tokens: Sequence[str]) -> str:
    """Join tokens for display: no space between two Han characters, a space otherwise."""
    out = ""
    for i, tok in enumerate(tokens):
        if i and not (HAN.fullmatch(tokens[i - 1]) and HAN.fullmatch(tok)):
            out += " "
        out += tok
    return out


def recurring_ngrams(
    documents: Sequence[tuple[int, Sequence[str]]],
    *,
    min_years: int = 2,
    min_n: int = 2,
    max_n: int = 7,
) -> list[RecurringNgram]:
    """N-grams of `min_n`..`max_n` tokens found in at least `min_years` distinct years.

    `documents` are (year, tokens) pairs; several documents may share a year. An
    n-gram contained in a longer reported n-gram with the same support is dropped (it
    adds nothing: "strategic partnership of" under "comprehensive strategic
    partnership of coordination"). Counting is level-wise: an n-gram is only counted
    if both its (n-1)-token sub-grams recur, which is exact because support can only
    shrink as an n-gram grows. Sorted by support, then length, then total count (all
    descending), then tokens. Raises ValueError on bad bounds.
    """
    if min_years < 1:
        raise ValueError(f"min_years must be at least 1, got {min_years}")
    if not 1 <= min_n <= max_n:
        raise ValueError(f"need 1 <= min_n <= max_n, got {min_n} and {max_n}")
    found: dict[tuple[str, ...], dict[int, int]] = {}
    frequent: set[tuple[str, ...]] | None = None
    for n in range(1, max_n + 1):
        per_gram: dict[tuple[str, ...], Counter[int]] = {}
        for year, tokens in documents:
            for i in range(len(tokens) - n + 1):
                gram = tuple(tokens[i : i + n])
                if frequent is not None and (gram[:-1] not in frequent or gram[1:] not in frequent):
                    continue
                per_gram.setdefault(gram, Counter())[year] += 1
        level = {g: c for g, c in per_gram.items() if len(c) >= min_years}
        if not level:
            break
        frequent = set(level)
        if n >= min_n:
            found.update({g: dict(c) for g, c in level.items()})
    subsumed: set[tuple[str, ...]] = set()
    for gram, years in found.items():
        # Checking one-token extensions suffices: supports in between can only be equal.
        for sub in (gram[:-1], gram[1:]):
            if sub in found and len(found[sub]) == len(years):
                subsumed.add(sub)
    out = [
        RecurringNgram(
            tokens=gram,
            support=len(years),
            per_year=tuple(sorted(years.items())),
            total=sum(years.values()),
        )
        for gram, years in found.items()
        if gram not in subsumed
    ]
    out.sort(key=lambda r: (-r.support, -len(r.tokens), -r.total, r.tokens))
    return out


def _xlnx(observed: float, expected: float) -> float:
    return observed * math.log(observed / expected) if observed > 0 else 0.0


def log_likelihood(
    a: int, b: int, c: int, d: int, *, variant: Literal["2-term", "4-term"] = "2-term"
) -> float:
    """G2 for a term seen `a` times in a target of `c` tokens and `b` times in a
    reference of `d` tokens.

    '2-term' is Rayson & Garside's form (the UCREL log-likelihood calculator, AntConc's
    default): 2 * (a ln(a/E1) + b ln(b/E2)), E1 = c(a+b)/(c+d), E2 = d(a+b)/(c+d).
    '4-term' is Dunning's full 2x2 contingency table, adding the cells of the other
    tokens (c-a, d-b). Raises ValueError if a count is negative, a > c, b > d, or both
    corpora are empty.
    """
    if min(a, b, c, d) < 0 or a > c or b > d:
        raise ValueError(f"inconsistent counts: a={a}, b={b}, c={c}, d={d}")
    total = c + d
    if total == 0:
        raise ValueError("both corpora are empty")
    e1 = c * (a + b) / total
    e2 = d * (a + b) / total
    g2 = _xlnx(a, e1) + _xlnx(b, e2)
    if variant == "4-term":
        rest = total - a - b
        g2 += _xlnx(c - a, c * rest / total) + _xlnx(d - b, d * rest / total)
    elif variant != "2-term":
        raise ValueError(f"variant must be '2-term' or '4-term', got {variant!r}")
    return max(0.0, 2.0 * g2)


def log_ratio(a: int, b: int, c: int, d: int) -> float:
    """Hardie's Log Ratio: log2((a/c) / (b/d)), with ZERO_FREQUENCY (0.5) standing in
    for a zero count on either side. Raises ValueError if either corpus is empty or a
    count is negative."""
    if c <= 0 or d <= 0:
        raise ValueError("both corpora must hold tokens")
    if a < 0 or b < 0:
        raise ValueError("counts must not be negative")
    fa = a if a > 0 else ZERO_FREQUENCY
    fb = b if b > 0 else ZERO_FREQUENCY
    return math.log2((fa / c) / (fb / d))


def keyness(
    target: Mapping[str, int],
    reference: Mapping[str, int],
    *,
    min_freq: int = 5,
    min_log_likelihood: float = 0.0,
    direction: Literal["over", "under", "both"] = "over",
    variant: Literal["2-term", "4-term"] = "2-term",
    target_tokens: int | None = None,
    reference_tokens: int | None = None,
) -> list[KeyTerm]:
    """Key terms of `target` against `reference` (term → count in each corpus).

    A term is considered when its count in both corpora together is at least
    `min_freq`, and kept when its G2 reaches `min_log_likelihood` (3.84 is p < 0.05,
    6.63 p < 0.01, 10.83 p < 0.001, 15.13 p < 0.0001, one degree of freedom) and its
    direction ('over': more frequent in the target; 'under': less) is wanted. Corpus
    sizes default to the sums of the counts; pass them when the mappings hold only
    some terms. Sorted by G2 descending, then |log ratio| descending, then term.
    Raises ValueError if a corpus is empty or smaller than its counts.
    """
    c = sum(target.values()) if target_tokens is None else target_tokens
    d = sum(reference.values()) if reference_tokens is None else reference_tokens
    if c <= 0 or d <= 0:
        raise ValueError("both corpora must hold tokens")
    out: list[KeyTerm] = []
    for term in set(target) | set(reference):
        a, b = target.get(term, 0), reference.get(term, 0)
        if a + b < min_freq:
            continue
        g2 = log_likelihood(a, b, c, d, variant=variant)
        lr = log_ratio(a, b, c, d)
        way: Literal["over", "under"] = "over" if a / c >= b / d else "under"
        if g2 < min_log_likelihood or (direction != "both" and way != direction):
            continue
        out.append(KeyTerm(term, a, b, a * 10_000 / c, b * 10_000 / d, g2, lr, way))
    out.sort(key=lambda k: (-k.log_likelihood, -abs(k.log_ratio), k.term))
    return out
