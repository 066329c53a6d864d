"""Year-over-year diffs: two statements passage by passage, sentence by sentence and word
by word, plus the changes in their formulas, metadata and (for round-ups) addressees.

Words are compared under the matching model (`indexer.text`): folded tokens, each Han
character a token, punctuation and case invisible. Every word-level change carries
character offsets into the original passage texts, so a page can mark it in place.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal, Protocol

from indexer.text import Token, fold, terms, tokenize

OpKind = Literal["equal", "insert", "delete", "replace"]
Status = Literal["equal", "changed", "added", "removed"]

# Below these similarities two passages (tf-idf cosine) or two sentences (difflib ratio
# over folded tokens) are not taken for versions of each other.
PASSAGE_MIN_SIMILARITY = 0.3
SENTENCE_MIN_SIMILARITY = 0.4

# A sentence ends at CJK end punctuation, or at Latin end punctuation (with any closing
# quotes) followed by space and a capital, digit, opening quote or Han character.
_SENTENCE_END = re.compile(
    r"[。！？][”’」』）)]*|[.!?…][\"”’»)]*(?=\s+[\"“‘«(]?[A-ZА-ЯЁ0-9\u4e00-\u9fff])"
)


class PassageLike(Protocol):
    """What a diff needs of a passage (`indexer.model.Passage` fits)."""

    @property
    def number(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def addressee(self) -> str | None: ...


class EventLike(Protocol):
    """What `metadata_changes` needs: a date; other known fields are read if present."""

    @property
    def date(self) -> dt.date: ...


@dataclass(frozen=True, slots=True)
class WordOp:
    """One word-level operation. Offsets are [start, end) into the passage texts of A and
    B; an empty side (insert in A, delete in B) is a caret position: just after the
    preceding token, or the start of the first token when nothing precedes."""

    op: OpKind
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    a_text: str
    b_text: str


@dataclass(frozen=True, slots=True)
class SentenceDiff:
    """One sentence of A aligned with one of B (or added / removed), with its word ops.

    Sentence spans are [start, end) offsets into the passage texts; None for a side
    the sentence is absent from.
    """

    status: Status
    a_span: tuple[int, int] | None
    b_span: tuple[int, int] | None
    ops: tuple[WordOp, ...]


@dataclass(frozen=True, slots=True)
class PassageDiff:
    """One passage of A aligned with one of B (or added / removed).

    `aligned_by` says how the pair was made ('addressee' or 'similarity'; None for an
    added or removed passage); `similarity` is their tf-idf cosine (`passage_similarity`).
    """

    status: Status
    a_number: int | None
    b_number: int | None
    a_addressee: str | None
    b_addressee: str | None
    aligned_by: Literal["addressee", "similarity"] | None
    similarity: float
    sentences: tuple[SentenceDiff, ...]


@dataclass(frozen=True, slots=True)
class StatementDiff:
    """All passages of two statements in reading order (see `diff_statements`)."""

    passages: tuple[PassageDiff, ...]

    def count(self, status: Status) -> int:
        """How many passages have `status`."""
        return sum(1 for p in self.passages if p.status == status)


@dataclass(frozen=True, slots=True)
class FormulaCount:
    """A formula's occurrences in A and in B."""

    formula_id: str
    count_a: int
    count_b: int


@dataclass(frozen=True, slots=True)
class FormulaChanges:
    """Formulas in B only (added), in A only (dropped), and in both (kept); each sorted by id."""

    added: tuple[FormulaCount, ...]
    dropped: tuple[FormulaCount, ...]
    kept: tuple[FormulaCount, ...]


@dataclass(frozen=True, slots=True)
class MetadataChange:
    """A metadata field that differs between A and B, with a sentence saying how."""

    field: str
    a: str
    b: str
    description: str


@dataclass(frozen=True, slots=True)
class Addressee:
    """Someone greeted in a round-up: a name as printed, and a country when known."""

    name: str
    country: str | None = None


@dataclass(frozen=True, slots=True)
class AddresseeMatch:
    """The same addressee in A and B; `by` says whether the country or the name matched."""

    a: Addressee
    b: Addressee
    by: Literal["country", "name"]


@dataclass(frozen=True, slots=True)
class AddresseeComparison:
    """Who was greeted in A only, in B only, and in both (in A's order)."""

    only_a: tuple[Addressee, ...]
    only_b: tuple[Addressee, ...]
    both: tuple[AddresseeMatch, ...]


# ---------------------------------------------------------------------------------------
# Alignment


def _similarity(a: Sequence[str], b: Sequence[str], floor: float) -> float:
    """difflib ratio of two token lists; 0.0 when the cheap upper bounds rule out `floor`."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    return matcher.ratio()


def _align(
    n: int, m: int, sim: Callable[[int, int], float], floor: float
) -> list[tuple[int | None, int | None, float]]:
    """Order-preserving alignment of n items with m items maximising the summed similarity
    of paired items (pairs below `floor` are not allowed; gaps cost nothing).

    Returns (i, j, similarity) in order; i or j is None for an unpaired item.
    """
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    sims: dict[tuple[int, int], float] = {}
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best = max(score[i - 1][j], score[i][j - 1])
            s = sim(i - 1, j - 1)
            if s >= floor:
                sims[(i - 1, j - 1)] = s
                best = max(best, score[i - 1][j - 1] + s)
            score[i][j] = best
    out: list[tuple[int | None, int | None, float]] = []
    i, j = n, m
    while i > 0 or j > 0:
        hit = sims.get((i - 1, j - 1))
        if i > 0 and j > 0 and hit is not None and score[i][j] == score[i - 1][j - 1] + hit:
            out.append((i - 1, j - 1, hit))
            i, j = i - 1, j - 1
        elif i > 0 and (j == 0 or score[i][j] == score[i - 1][j]):
            out.append((i - 1, None, 0.0))
            i -= 1
        else:
            out.append((None, j - 1, 0.0))
            j -= 1
    out.reverse()
    return out


# ---------------------------------------------------------------------------------------
# Words and sentences


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of `text`, trimmed of surrounding space.

    Splits after 。！？ (Chinese needs no space), and after . ! ? … followed by space and
    a capital, digit or opening quote; spans that hold no token are dropped.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        chunk = text[s:e]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk) - len(chunk.rstrip())
        if terms(chunk):
            out.append((s + lead, e - trail))
    return out


def _caret(tokens: Sequence[Token], index: int) -> int:
    if index > 0:
        return tokens[index - 1].end
    return tokens[0].start if tokens else 0


def _span(tokens: Sequence[Token], i1: int, i2: int) -> tuple[int, int]:
    if i1 == i2:
        pos = _caret(tokens, i1)
        return pos, pos
    return tokens[i1].start, tokens[i2 - 1].end


def word_ops(
    a_text: str,
    b_text: str,
    a_tokens: Sequence[Token] | None = None,
    b_tokens: Sequence[Token] | None = None,
) -> list[WordOp]:
    """Word-level operations turning `a_text` into `b_text` (difflib over folded tokens).

    Pass `a_tokens` / `b_tokens` (slices of `tokenize()` of a larger text that `a_text`
    and `b_text` are) to get offsets into that larger text; by default the texts are
    tokenized whole. Returns ops covering every token of both sides, in order; an empty
    list when neither side holds a token.
    """
    ta = list(a_tokens) if a_tokens is not None else tokenize(a_text)
    tb = list(b_tokens) if b_tokens is not None else tokenize(b_text)
    matcher = SequenceMatcher(None, [t.text for t in ta], [t.text for t in tb], autojunk=False)
    ops: list[WordOp] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        a_start, a_end = _span(ta, i1, i2)
        b_start, b_end = _span(tb, j1, j2)
        ops.append(
            WordOp(
                op=tag,
                a_start=a_start,
                a_end=a_end,
                b_start=b_start,
                b_end=b_end,
                a_text=a_text[a_start:a_end],
                b_text=b_text[b_start:b_end],
            )
        )
    return ops


def _sentence_tokens(
    tokens: Sequence[Token], spans: Sequence[tuple[int, int]]
) -> list[list[Token]]:
    return [[t for t in tokens if s <= t.start < e] for s, e in spans]


def diff_sentences(a_text: str, b_text: str) -> tuple[SentenceDiff, ...]:
    """Align the sentences of two passage texts and diff aligned sentences word by word.

    Offsets in the result point into `a_text` and `b_text`. An unaligned sentence is
    'removed' (one delete op) or 'added' (one insert op).
    """
    ta, tb = tokenize(a_text), tokenize(b_text)
    sa, sb = sentence_spans(a_text), sentence_spans(b_text)
    toks_a, toks_b = _sentence_tokens(ta, sa), _sentence_tokens(tb, sb)
    words_a = [[t.text for t in ts] for ts in toks_a]
    words_b = [[t.text for t in ts] for ts in toks_b]
    pairs = _align(
        len(sa),
        len(sb),
        lambda i, j: _similarity(words_a[i], words_b[j], SENTENCE_MIN_SIMILARITY),
        SENTENCE_MIN_SIMILARITY,
    )
    out: list[SentenceDiff] = []
    # Carets for a sentence missing on one side: the end of that side's previous sentence.
    a_caret = ta[0].start if ta else 0
    b_caret = tb[0].start if tb else 0
    for i, j, _ in pairs:
        if i is not None and j is not None:
            ops = word_ops(a_text, b_text, toks_a[i], toks_b[j])
            status: Status = "equal" if words_a[i] == words_b[j] else "changed"
            out.append(SentenceDiff(status, sa[i], sb[j], tuple(ops)))
            a_caret, b_caret = toks_a[i][-1].end, toks_b[j][-1].end
        elif i is not None:
            start, end = toks_a[i][0].start, toks_a[i][-1].end
            op = WordOp("delete", start, end, b_caret, b_caret, a_text[start:end], "")
            out.append(SentenceDiff("removed", sa[i], None, (op,)))
            a_caret = end
        elif j is not None:
            start, end = toks_b[j][0].start, toks_b[j][-1].end
            op = WordOp("insert", a_caret, a_caret, start, end, "", b_text[start:end])
            out.append(SentenceDiff("added", None, sb[j], (op,)))
            b_caret = end
    return tuple(out)


# ---------------------------------------------------------------------------------------
# Passages


def _addressee_key(addressee: str | None) -> str | None:
    if addressee is None:
        return None
    key = " ".join(terms(addressee))
    return key or None


def _pair(
    a: PassageLike, b: PassageLike, by: Literal["addressee", "similarity"], similarity: float
) -> PassageDiff:
    return PassageDiff(
        status="equal" if terms(a.text) == terms(b.text) else "changed",
        a_number=a.number,
        b_number=b.number,
        a_addressee=a.addressee,
        b_addressee=b.addressee,
        aligned_by=by,
        similarity=similarity,
        sentences=diff_sentences(a.text, b.text),
    )


def _removed(a: PassageLike) -> PassageDiff:
    return PassageDiff("removed", a.number, None, a.addressee, None, None, 0.0, ())


def _added(b: PassageLike) -> PassageDiff:
    return PassageDiff("added", None, b.number, None, b.addressee, None, 0.0, ())


def _weighted(words: Sequence[str], idf: Mapping[str, float]) -> tuple[dict[str, float], float]:
    vector = {w: n * idf[w] for w, n in Counter(words).items()}
    return vector, math.sqrt(sum(v * v for v in vector.values()))


def passage_similarity(
    a: Sequence[PassageLike], b: Sequence[PassageLike]
) -> Callable[[int, int], float]:
    """A function (i, j) → cosine similarity of passage a[i] and passage b[j], in [0, 1].

    Passages are tf-idf vectors of their folded tokens, idf taken over the passages of
    both statements and smoothed as ln((1 + N) / (1 + df)) + 1. A passage rewritten from
    one year to the next keeps its rare words (a country, a project, an anniversary)
    while its wording and word order change, which a sequence ratio would punish; the
    boilerplate every passage shares weighs little.
    """
    words_a = [terms(p.text) for p in a]
    words_b = [terms(p.text) for p in b]
    df: Counter[str] = Counter()
    for words in (*words_a, *words_b):
        df.update(set(words))
    n = len(words_a) + len(words_b)
    idf = {w: math.log((1 + n) / (1 + k)) + 1 for w, k in df.items()}
    vec_a = [_weighted(w, idf) for w in words_a]
    vec_b = [_weighted(w, idf) for w in words_b]

    def cosine(i: int, j: int) -> float:
        (va, na), (vb, nb) = vec_a[i], vec_b[j]
        if not na or not nb:
            return 0.0
        if len(vb) < len(va):
            va, vb = vb, va
        return min(1.0, sum(x * vb.get(w, 0.0) for w, x in va.items()) / (na * nb))

    return cosine


def _match(
    rows: Sequence[int], cols: Sequence[int], sim: Callable[[int, int], float], floor: float
) -> list[tuple[int, int, float]]:
    """One-to-one pairs of rows and columns, most similar first (greedy), none below `floor`.

    Order is not imposed: a passage that moved (round-ups reorder their addressees)
    still finds its counterpart. Ties go to the earlier passages.
    """
    scored = sorted(
        ((s, i, j) for i in rows for j in cols if (s := sim(i, j)) >= floor),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    used_i: set[int] = set()
    used_j: set[int] = set()
    out: list[tuple[int, int, float]] = []
    for s, i, j in scored:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j, s))
    return out


def diff_statements(
    a: Sequence[PassageLike],
    b: Sequence[PassageLike],
    *,
    keys: tuple[Sequence[str | None], Sequence[str | None]] | None = None,
) -> StatementDiff:
    """Diff two statements given as their passages (A the earlier, B the later).

    When both statements have addressed passages (round-ups), passages with the same
    addressee (compared as folded tokens) are paired whatever their text, and only the
    passages without an addressee are paired by similarity; an addressee found on one
    side only makes an added or removed passage. Otherwise all passages are paired by
    similarity (`passage_similarity`), most similar first, one to one, without
    requiring the same order; pairs under PASSAGE_MIN_SIMILARITY are not made. `keys`
    replaces the addressees as what pairs passages (e.g. the addressee's country, so that
    "President of Armenia Serzh Sargsyan" pairs with "Armenian President Armen Sarkissian"). Paired
    passages are diffed sentence by sentence and word by word. The result follows B's
    order; a removed passage of A comes right after the pair holding A's previous
    passage (first if there is none), before passages added there.
    """
    sim = passage_similarity(a, b)
    if keys is not None:
        keys_a = [_addressee_key(k) for k in keys[0]]
        keys_b = [_addressee_key(k) for k in keys[1]]
    else:
        keys_a = [_addressee_key(p.addressee) for p in a]
        keys_b = [_addressee_key(p.addressee) for p in b]
    pairs: list[tuple[int, int, Literal["addressee", "similarity"], float]] = []
    if any(keys_a) and any(keys_b):
        b_by_key: dict[str, list[int]] = {}
        for j, key in enumerate(keys_b):
            if key:
                b_by_key.setdefault(key, []).append(j)
        for i, key in enumerate(keys_a):
            if key and b_by_key.get(key):
                j = b_by_key[key].pop(0)
                pairs.append((i, j, "addressee", sim(i, j)))
        rest_a = [i for i, key in enumerate(keys_a) if key is None]
        rest_b = [j for j, key in enumerate(keys_b) if key is None]
    else:
        rest_a, rest_b = list(range(len(a))), list(range(len(b)))
    pairs += [
        (i, j, "similarity", s) for i, j, s in _match(rest_a, rest_b, sim, PASSAGE_MIN_SIMILARITY)
    ]

    paired_a = {i: (j, by, s) for i, j, by, s in pairs}
    paired_b = {j: i for i, j, _, _ in pairs}
    # A removed passage follows the pair holding the nearest earlier passage of A (or
    # opens the diff), before any passage added there: deletions first, as in a diff.
    after: dict[int, list[int]] = {}
    for i in range(len(a)):
        if i not in paired_a:
            before = [k for k in paired_a if k < i]
            after.setdefault(max(before) if before else -1, []).append(i)
    out: list[PassageDiff] = [_removed(a[i]) for i in after.get(-1, [])]
    for j in range(len(b)):
        if j not in paired_b:
            out.append(_added(b[j]))
            continue
        i = paired_b[j]
        _, by, s = paired_a[i]
        out.append(_pair(a[i], b[j], by, s))
        out.extend(_removed(a[k]) for k in after.get(i, []))
    return StatementDiff(tuple(out))


# ---------------------------------------------------------------------------------------
# Formulas, metadata, addressees


def formula_changes(counts_a: Mapping[str, int], counts_b: Mapping[str, int]) -> FormulaChanges:
    """Compare formula occurrence counts (formula id → count) of two statements or years.

    A count of 0 is the same as absence. Returns the formulas added (in B only),
    dropped (in A only) and kept (in both), each sorted by id. Raises ValueError on a
    negative count.
    """
    for side, counts in (("A", counts_a), ("B", counts_b)):
        for fid, n in counts.items():
            if n < 0:
                raise ValueError(f"negative count {n} for formula {fid!r} in {side}")
    added: list[FormulaCount] = []
    dropped: list[FormulaCount] = []
    kept: list[FormulaCount] = []
    for fid in sorted(set(counts_a) | set(counts_b)):
        ca, cb = counts_a.get(fid, 0), counts_b.get(fid, 0)
        if ca and cb:
            kept.append(FormulaCount(fid, ca, cb))
        elif cb:
            added.append(FormulaCount(fid, ca, cb))
        elif ca:
            dropped.append(FormulaCount(fid, ca, cb))
    return FormulaChanges(tuple(added), tuple(dropped), tuple(kept))


_SCALAR_FIELDS = ("occasion", "level", "channel", "initiated_by", "kind", "language", "source")
_SET_FIELDS = ("participants", "speakers")


def _day_shift(a: dt.date, b: dt.date) -> int:
    """Days from a's month-day to b's, the short way round the year (Dec 31 → Jan 2 is +2)."""
    if a.year == b.year:
        return (b - a).days
    try:
        moved = b.replace(year=a.year)
    except ValueError:  # Feb 29 in a common year
        moved = dt.date(a.year, 3, 1)
    shift = (moved - a).days
    if shift > 182:
        shift -= 365
    elif shift < -182:
        shift += 365
    return shift


def metadata_changes(a: EventLike, b: EventLike) -> list[MetadataChange]:
    """What differs between two events or statements (A the earlier) apart from their text.

    Reads `date` and, where the objects have them, occasion, level, channel,
    initiated_by, kind, language, source (compared as values) and participants,
    speakers (compared as sets). Dates in different years are compared by day of the
    year, since a year-over-year comparison expects the year to change. Returns one
    MetadataChange per differing field, in that order.
    """
    out: list[MetadataChange] = []
    shift = _day_shift(a.date, b.date)
    if shift:
        days = abs(shift)
        when = f"{days} day{'s' if days != 1 else ''} {'later' if shift > 0 else 'earlier'}"
        out.append(
            MetadataChange(
                "date",
                a.date.isoformat(),
                b.date.isoformat(),
                f"{when} ({a.date:%b} {a.date.day} → {b.date:%b} {b.date.day})",
            )
        )
    for name in _SCALAR_FIELDS:
        va, vb = getattr(a, name, None), getattr(b, name, None)
        if va != vb and (va is not None or vb is not None):
            sa, sb = "" if va is None else str(va), "" if vb is None else str(vb)
            out.append(MetadataChange(name, sa, sb, f"{name}: {sa or '(none)'} → {sb or '(none)'}"))
    for name in _SET_FIELDS:
        va, vb = getattr(a, name, None), getattr(b, name, None)
        if va is None and vb is None:
            continue
        set_a, set_b = set(va or ()), set(vb or ())
        if set_a == set_b:
            continue
        parts = []
        if set_b - set_a:
            parts.append("now " + ", ".join(sorted(set_b - set_a)))
        if set_a - set_b:
            parts.append("no longer " + ", ".join(sorted(set_a - set_b)))
        out.append(
            MetadataChange(
                name, ", ".join(va or ()), ", ".join(vb or ()), f"{name}: " + "; ".join(parts)
            )
        )
    return out


def _name_key(text: str) -> str:
    return " ".join(terms(text))


def addressees_of(passages: Sequence[PassageLike]) -> list[Addressee]:
    """The addressees of a round-up's passages, in order, without countries."""
    return [Addressee(p.addressee) for p in passages if p.addressee]


def compare_addressees(
    a: Sequence[Addressee | str], b: Sequence[Addressee | str]
) -> AddresseeComparison:
    """Who was greeted in round-up A only, in B only, and in both.

    Addressees that both carry a country are matched by country (folded), so a new
    leader of the same country counts as the same addressee (`by='country'`); the rest
    are matched by name (folded tokens). Each addressee is matched at most once.
    """
    la = [x if isinstance(x, Addressee) else Addressee(x) for x in a]
    lb = [x if isinstance(x, Addressee) else Addressee(x) for x in b]
    matched_a: dict[int, tuple[int, Literal["country", "name"]]] = {}
    used_b: set[int] = set()

    def match(key: Callable[[Addressee], str | None], by: Literal["country", "name"]) -> None:
        free_b: dict[str, list[int]] = {}
        for j, x in enumerate(lb):
            k = key(x)
            if j not in used_b and k:
                free_b.setdefault(k, []).append(j)
        for i, x in enumerate(la):
            k = key(x)
            if i in matched_a or not k or not free_b.get(k):
                continue
            j = free_b[k].pop(0)
            used_b.add(j)
            matched_a[i] = (j, by)

    match(lambda x: fold(x.country).strip() if x.country else None, "country")
    match(lambda x: _name_key(x.name) or None, "name")
    both = tuple(AddresseeMatch(la[i], lb[j], by) for i, (j, by) in sorted(matched_a.items()))
    only_a = tuple(x for i, x in enumerate(la) if i not in matched_a)
    only_b = tuple(x for j, x in enumerate(lb) if j not in used_b)
    return AddresseeComparison(only_a, only_b, both)
