"""The query language's surface syntax: text in, `indexer.query` AST out, and back.

This module owns tokenizing, the grammar, the limits a query must respect (length,
clauses, nesting, slop) and every message a user sees for a malformed query. What the
AST means lives in `indexer.query`; how words fold into tokens lives in `indexer.text`
(phrase tokens here are exactly what `terms()` gives, so backends never refold).

Grammar (precedence, tightest first: NEAR, NOT / "-", AND (explicit or implicit), OR):

    query   = [ or ] ;
    or      = and { "OR" and } ;
    and     = unary { [ "AND" ] unary } ;
    unary   = ( "NOT" | "-" ) unary | near ;
    near    = primary [ ( "NEAR" | "NEAR/" digits ) primary ] ;   (* phrases only *)
    primary = phrase | filter | "(" or ")" ;
    phrase  = [ "lemma:" ] ( '"' text '"' | word ) { "~" digits | "~morph" } ;
    filter  = text_field ":" ( value | '"' text '"' )
            | range_field ":" ( bound | bound ".." | ".." bound | bound ".." bound
                              | ( ">=" | ">" | "<=" | "<" ) bound ) ;

`parse_query` raises only `QueryError`, for any input: recursion is bounded by
MAX_DEPTH and every limit is checked before it could matter.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import re
from dataclasses import dataclass

from indexer.errors import QueryError
from indexer.query import (
    MAX_CLAUSES,
    MAX_QUERY_CHARS,
    RANGE_FILTER_FIELDS,
    TEXT_FILTER_FIELDS,
    And,
    DateRange,
    FieldIs,
    MatchAll,
    Near,
    Node,
    Not,
    Or,
    Phrase,
)
from indexer.text import HAN, terms, tokenize

# Parentheses plus NOT/"-" levels. Far beyond any real query, and low enough that the
# recursive descent (about five frames per level) never nears Python's recursion limit.
MAX_DEPTH = 32
MAX_SLOP = 50  # also the largest NEAR distance: wider windows are not "near" any more
DEFAULT_NEAR = 5  # `NEAR` without `/N`, as in most engines that have the operator
MIN_PREFIX_CHARS = 2  # `s*` would expand to a large part of the vocabulary

LEMMA_FIELD = "lemma"
KNOWN_FIELDS = (*TEXT_FILTER_FIELDS, *RANGE_FILTER_FIELDS, LEMMA_FIELD)

CLAUSE = "a word, phrase or '('"

# Only lowercase ASCII names count as fields, so `12:30`, `Note:` and URLs stay words.
_FIELD = re.compile(r"[a-z_]+:")
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: int() would also accept other scripts
_PERIOD = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_KEYWORDS = ("OR", "AND", "NOT")
_DELIMITERS = '()"'


def _is_word_char(c: str) -> bool:
    """Characters that belong to a bare word (anything but space, parens and quotes)."""
    return not c.isspace() and c not in _DELIMITERS


@dataclass(frozen=True, slots=True)
class _Tok:
    """A lexical token. `text` is as typed (for messages); atoms carry their node."""

    kind: str  # PHRASE FILTER LPAREN RPAREN OR AND NOT MINUS NEAR EOF
    pos: int
    text: str
    node: Phrase | FieldIs | DateRange | None = None
    distance: int = 0


# Tokens that can begin a clause (the `unary` rule).
_STARTS = frozenset({"PHRASE", "FILTER", "LPAREN", "NOT", "MINUS"})


class _Lexer:
    """Splits the query into tokens on demand, so errors surface in reading order."""

    def __init__(self, src: str) -> None:
        self.src = src
        self.i = 0

    def _fail(self, message: str, pos: int, expected: str) -> QueryError:
        return QueryError(message, position=pos, expected=expected)

    def _run_end(self, i: int) -> int:
        n = len(self.src)
        while i < n and _is_word_char(self.src[i]):
            i += 1
        return i

    def next(self) -> _Tok:
        src, n = self.src, len(self.src)
        i = self.i
        while i < n and src[i].isspace():
            i += 1
        if i >= n:
            self.i = n
            return _Tok("EOF", n, "")
        c = src[i]
        if c in "()":
            self.i = i + 1
            return _Tok("LPAREN" if c == "(" else "RPAREN", i, c)
        if c == '"':
            content, end = self._quoted(i, "phrase")
            node, self.i = self._phrase_after_quote(i, content, end, lemma=False)
            return _Tok("PHRASE", i, src[i : self.i], node)
        if c == "-":
            # `-x` excludes x; a dash standing alone is most likely punctuation typed as
            # text, and guessing either way would silently change the results.
            if i + 1 < n and not src[i + 1].isspace() and src[i + 1] != ")":
                self.i = i + 1
                return _Tok("MINUS", i, "-")
            raise self._fail(
                "'-' excludes what follows it directly; write -word or -(...)",
                i,
                "a word, phrase or '(' right after '-'",
            )
        j = self._run_end(i)
        word = src[i:j]
        if word in _KEYWORDS:
            self.i = j
            return _Tok(word, i, word)
        if word == "NEAR" or word.startswith("NEAR/"):
            self.i = j
            return _Tok("NEAR", i, word, distance=self._near_distance(word, i))
        m = _FIELD.match(word)
        if m:
            name = word[: m.end() - 1]
            if name in KNOWN_FIELDS:
                return self._field(name, i, i + m.end(), j)
            if not word.startswith("//", m.end()):  # `http://...` is text, not a field
                raise self._fail(
                    f"unknown field {name!r}; known fields: {', '.join(KNOWN_FIELDS)}",
                    i,
                    f"one of the fields {', '.join(KNOWN_FIELDS)}",
                )
        node, self.i = self._bare_phrase(word, i, lemma=False)
        return _Tok("PHRASE", i, word, node)

    def _near_distance(self, word: str, pos: int) -> int:
        if word == "NEAR":
            return DEFAULT_NEAR
        digits = word[len("NEAR/") :]
        if not _DIGITS.fullmatch(digits):
            raise self._fail(
                f"{word!r}: NEAR/ takes a whole number of words, like NEAR/3",
                pos + len("NEAR/"),
                "a whole number after 'NEAR/'",
            )
        return self._bounded(digits, pos + len("NEAR/"), "NEAR distance")

    def _bounded(self, digits: str, pos: int, what: str) -> int:
        # Length first: int() of a huge digit string is slow (and capped by Python).
        if len(digits) > 3 or int(digits) > MAX_SLOP:
            raise self._fail(
                f"{what} {digits} is too large (at most {MAX_SLOP})",
                pos,
                f"a number from 0 to {MAX_SLOP}",
            )
        return int(digits)

    def _quoted(self, start: int, what: str) -> tuple[str, int]:
        """The text between the quote at `start` and the next one, and the index after."""
        close = self.src.find('"', start + 1)
        if close < 0:
            raise self._fail(
                f"unclosed quote: the {what} opened at {start} never ends",
                len(self.src),
                f"'\"' to close the {what} opened at {start}",
            )
        return self.src[start + 1 : close], close + 1

    def _after_quote(self, end: int, *, suffix_ok: bool) -> int:
        """Check what follows a closing quote; return where its suffix run ends."""
        src = self.src
        if end >= len(src) or src[end].isspace() or src[end] in "()":
            return end
        if src[end] == "~" and suffix_ok:
            return self._run_end(end)
        if src[end] == "*":
            raise self._fail(
                "'*' goes inside the quotes, right after the last word: \"a b*\"",
                end,
                "a space, ')' or the end of the query after the closing quote",
            )
        if src[end] == "~":
            raise self._fail(
                "a filter value takes no '~' suffix",
                end,
                "a space, ')' or the end of the query after the closing quote",
            )
        raise self._fail(
            "a closing quote must be followed by a space, ')' or the end of the query",
            end,
            "a space, ')' or the end of the query after the closing quote",
        )

    def _phrase_after_quote(
        self, start: int, content: str, end: int, *, lemma: bool
    ) -> tuple[Phrase, int]:
        stop = self._after_quote(end, suffix_ok=True)
        node = _phrase(content, start + 1, start, self.src[end:stop], end, lemma=lemma)
        return node, stop

    def _bare_phrase(self, word: str, start: int, *, lemma: bool) -> tuple[Phrase, int]:
        tilde = word.find("~")
        if tilde == 0:
            raise self._fail(
                "'~' must follow a word or a closing quote directly",
                start,
                CLAUSE,
            )
        body, suffix = (word, "") if tilde < 0 else (word[:tilde], word[tilde:])
        node = _phrase(body, start, start, suffix, start + len(body), lemma=lemma)
        return node, start + len(word)

    def _field(self, name: str, start: int, value_start: int, run_end: int) -> _Tok:
        src = self.src
        quoted = value_start == run_end and run_end < len(src) and src[run_end] == '"'
        if value_start == run_end and not quoted:
            raise self._fail(
                f"'{name}:' needs a value right after the colon (no space)",
                value_start,
                f"a value right after '{name}:'",
            )
        if name == LEMMA_FIELD:
            if quoted:
                content, end = self._quoted(value_start, "phrase")
                node, self.i = self._phrase_after_quote(value_start, content, end, lemma=True)
            else:
                node, self.i = self._bare_phrase(src[value_start:run_end], value_start, lemma=True)
            return _Tok("PHRASE", start, src[start : self.i], node)
        if quoted:
            value, end = self._quoted(value_start, "value")
            self.i = self._after_quote(end, suffix_ok=False)
            value_pos = value_start + 1
        else:
            value, self.i, value_pos = src[value_start:run_end], run_end, value_start
        filt: FieldIs | DateRange
        if name in RANGE_FILTER_FIELDS:
            filt = _date_range(name, value.strip(), value_pos + len(value) - len(value.lstrip()))
        else:
            filt = self._text_filter(name, value, value_pos, quoted=quoted)
        return _Tok("FILTER", start, src[start : self.i], filt)

    def _text_filter(self, name: str, value: str, pos: int, *, quoted: bool) -> FieldIs:
        # Values are matched exactly as typed; only surrounding blanks (never meant)
        # are dropped.
        stripped = value.strip()
        if not stripped:
            raise self._fail(f"'{name}:' has an empty value", pos, f"a value for '{name}:'")
        if not quoted and stripped.endswith("*"):
            # Filters match whole values; a Lucene user's `speaker:Xi*` would silently
            # match nothing. Quoting keeps a literal '*' possible.
            raise self._fail(
                f"filters match whole values: '{name}:' does not take a '*' wildcard",
                pos + len(value) - 1,
                f"a complete value for '{name}:'",
            )
        return FieldIs(name, stripped)


def _phrase(
    text: str, text_pos: int, atom_pos: int, suffix: str, suffix_pos: int, *, lemma: bool
) -> Phrase:
    """A phrase from its text (quoted content or bare word) and its `~` suffixes."""
    body = text.rstrip()
    star = body.find("*")
    prefix = star >= 0
    if prefix:
        if star != len(body) - 1:
            raise QueryError(
                "'*' marks a prefix and may only end the last word",
                position=text_pos + star,
                expected="'*' only at the end of the last word",
            )
        body = body[:-1]
        toks = tokenize(body)
        if not toks or toks[-1].end != len(body):
            raise QueryError(
                "'*' must directly follow the beginning of a word, as in strateg*",
                position=text_pos + star,
                expected="a word prefix before '*'",
            )
    tokens = tuple(terms(body))
    if not tokens:
        raise QueryError(
            f"{text!r} holds no searchable words (only spaces or punctuation)",
            position=atom_pos,
            expected=CLAUSE,
        )
    if prefix:
        last = tokens[-1]
        if HAN.fullmatch(last):
            raise QueryError(
                "'*' cannot follow a Chinese character: each character is already a word",
                position=text_pos + star,
                expected="a phrase without '*'",
            )
        if len(last) < MIN_PREFIX_CHARS:
            raise QueryError(
                f"prefix {last + '*'!r} is too short: it would match too many words",
                position=text_pos + star,
                expected=f"a prefix of at least {MIN_PREFIX_CHARS} characters",
            )
    slop, lemma = _suffixes(suffix, suffix_pos, lemma=lemma)
    if slop is not None and len(tokens) < 2:
        raise QueryError(
            "'~N' sets how far apart the words of a phrase may be, so it needs two or "
            "more words; fuzzy matching of a single word is not supported",
            position=suffix_pos,
            expected="a phrase of two or more words before '~N'",
        )
    if prefix and lemma:
        raise QueryError(
            "a prefix ('*') cannot be combined with matching word forms (lemma/~morph)",
            position=atom_pos,
            expected="either '*' or lemma matching",
        )
    return Phrase(tokens, prefix=prefix, slop=slop or 0, lemma=lemma)


def _suffixes(suffix: str, pos: int, *, lemma: bool) -> tuple[int | None, bool]:
    """Parse `~3`, `~morph` or both (each at most once): (slop or None, lemma)."""
    slop: int | None = None
    morph_seen = False
    if not suffix:
        return None, lemma
    at = pos + 1
    for part in suffix[1:].split("~"):
        expected = f"a number from 0 to {MAX_SLOP} or 'morph' after '~'"
        if part == "morph" and not morph_seen:
            morph_seen = lemma = True
        elif _DIGITS.fullmatch(part) and slop is None:
            if len(part) > 3 or int(part) > MAX_SLOP:
                raise QueryError(
                    f"slop {part} is too large (at most {MAX_SLOP})",
                    position=at,
                    expected=f"a number from 0 to {MAX_SLOP}",
                )
            slop = int(part)
        elif part == "morph" or _DIGITS.fullmatch(part):
            raise QueryError(f"'~{part}' is given twice", position=at - 1, expected=expected)
        else:
            raise QueryError(
                f"'~{part}' is not a suffix: use ~N (words allowed in between) or ~morph",
                position=at,
                expected=expected,
            )
        at += len(part) + 1
    return slop, lemma


def _period(text: str, pos: int, *, year_only: bool) -> tuple[dt.date, dt.date]:
    """First and last day of a year (`2019`), month (`2019-12`) or day (`2019-12-01`)."""
    m = _PERIOD.fullmatch(text)
    expected = "a year (YYYY)" if year_only else "a date (YYYY-MM-DD, YYYY-MM or YYYY)"
    if m is None or (year_only and m.group(2) is not None):
        raise QueryError(f"{text!r} is not {expected}", position=pos, expected=expected)
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    try:
        if month is None:
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return dt.date(year, month, 1), dt.date(year, month, last)
        return dt.date(year, month, day), dt.date(year, month, day)
    except (ValueError, calendar.IllegalMonthError):
        raise QueryError(
            f"{text!r} is not a valid calendar date", position=pos, expected=expected
        ) from None


def _date_range(field: str, value: str, pos: int) -> DateRange:
    """`year:2016..2020`, `date:>=2019-12-01`, ...: inclusive date bounds.

    Every bound is widened to whole periods (`year:2016..2020` ends on 2020-12-31) and
    exclusive bounds become inclusive ones (`year:>2016` starts on 2017-01-01), so
    backends only ever see closed intervals of days.
    """
    year_only = field == "year"
    lo: dt.date | None
    hi: dt.date | None
    try:
        for op in (">=", "<=", ">", "<"):
            if value.startswith(op):
                first, last = _period(value[len(op) :], pos + len(op), year_only=year_only)
                if op == ">=":
                    lo, hi = first, None
                elif op == ">":
                    lo, hi = last + dt.timedelta(days=1), None
                elif op == "<=":
                    lo, hi = None, last
                else:
                    lo, hi = None, first - dt.timedelta(days=1)
                return DateRange(field, lo, hi)
    except OverflowError:
        raise QueryError(
            f"'{field}:{value}' lies outside the calendar (years 1 to 9999)",
            position=pos,
            expected="a bound within years 1 to 9999",
        ) from None
    if ".." not in value:
        lo, hi = _period(value, pos, year_only=year_only)
        return DateRange(field, lo, hi)
    start, end = value.split("..", 1)
    if not start and not end:
        raise QueryError(
            f"'{field}:..' needs at least one bound",
            position=pos,
            expected="a bound before or after '..'",
        )
    lo = _period(start, pos, year_only=year_only)[0] if start else None
    end_pos = pos + len(start) + 2
    hi = _period(end, end_pos, year_only=year_only)[1] if end else None
    if lo is not None and hi is not None and lo > hi:
        raise QueryError(
            f"'{field}:{value}' is empty: {start} comes after {end}",
            position=end_pos,
            expected=f"a bound not before {start}",
        )
    return DateRange(field, lo, hi)


class _Parser:
    """Recursive descent over `_Lexer` tokens, one token of lookahead."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lexer = _Lexer(text)
        self.prev: _Tok | None = None
        self.tok = self.lexer.next()
        self.depth = 0
        self.clauses = 0

    def advance(self) -> _Tok:
        tok = self.tok
        self.prev = tok
        self.tok = self.lexer.next()
        return tok

    def parse(self) -> Node:
        if self.tok.kind == "EOF":
            return MatchAll()
        node = self.or_()
        if self.tok.kind == "RPAREN":
            raise QueryError(
                "unmatched ')': no '(' is open here",
                position=self.tok.pos,
                expected="an operator, a clause or the end of the query",
            )
        return _well_defined(node)

    def or_(self) -> Node:
        children = [self.and_()]
        while self.tok.kind == "OR":
            self.advance()
            children.append(self.and_())
        return _flat(Or, children)

    def and_(self) -> Node:
        children = [self.unary()]
        while self.tok.kind in _STARTS or self.tok.kind == "AND":
            if self.tok.kind == "AND":
                self.advance()
            children.append(self.unary())
        return _flat(And, children)

    def unary(self) -> Node:
        if self.tok.kind in ("NOT", "MINUS"):
            self.enter(self.advance())
            child = self.unary()
            self.depth -= 1
            return Not(child)
        return self.near()

    def enter(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(
                f"the query nests too deeply (more than {MAX_DEPTH} levels of parentheses and NOT)",
                position=tok.pos,
                expected=f"at most {MAX_DEPTH} levels of nesting",
            )

    def near(self) -> Node:
        start = self.tok
        left = self.primary()
        if self.tok.kind == "NEAR":
            op = self.advance()
            if not isinstance(left, Phrase):
                raise QueryError(
                    f"'{op.text}' joins two words or phrases; a filter or a group cannot "
                    "stand on its left",
                    position=op.pos,
                    expected=f"a word or phrase before '{op.text}'",
                )
            right_tok = self.tok
            right = self.primary()
            if not isinstance(right, Phrase):
                raise QueryError(
                    f"'{op.text}' joins two words or phrases; a filter or a group cannot "
                    "stand on its right",
                    position=right_tok.pos,
                    expected=f"a word or phrase after '{op.text}'",
                )
            if self.tok.kind == "NEAR":
                raise QueryError(
                    "NEAR cannot be chained; join pairs with AND: a NEAR b AND b NEAR c",
                    position=self.tok.pos,
                    expected="AND, OR, ')' or the end of the query",
                )
            self.clauses -= 1  # the two phrases make one clause
            left = Near(left, right, op.distance)
        if self.clauses > MAX_CLAUSES:
            raise QueryError(
                f"too many clauses (at most {MAX_CLAUSES} words, phrases and filters)",
                position=start.pos,
                expected=f"at most {MAX_CLAUSES} clauses",
            )
        return left

    def primary(self) -> Node:
        tok = self.tok
        if tok.node is not None:  # PHRASE or FILTER
            self.advance()
            self.clauses += 1
            return tok.node
        if tok.kind == "LPAREN":
            self.enter(tok)
            self.advance()
            if self.tok.kind == "RPAREN":
                raise QueryError(
                    "empty parentheses", position=self.tok.pos, expected=f"{CLAUSE} inside"
                )
            node = self.or_()
            if self.tok.kind != "RPAREN":
                # and_() stops only at OR (consumed by or_), ')' or the end.
                raise QueryError(
                    f"unclosed '(' opened at {tok.pos}",
                    position=self.tok.pos,
                    expected=f"')' to close the '(' opened at {tok.pos}",
                )
            self.advance()
            self.depth -= 1
            return node
        where = "at the start of the query" if self.prev is None else f"after {self.prev.text!r}"
        if tok.kind == "EOF":
            message = f"the query ends too early: expected {CLAUSE} {where}"
        elif tok.kind == "RPAREN":
            message = f"expected {CLAUSE} {where}, before ')'"
        else:
            message = f"expected {CLAUSE} {where}, found {tok.text!r}"
        raise QueryError(message, position=tok.pos, expected=CLAUSE)


def _flat(kind: type[And] | type[Or], children: list[Node]) -> Node:
    """`kind` over `children`, splicing in children of the same kind: a (b c) = a b c."""
    if len(children) == 1:
        return children[0]
    out: list[Node] = []
    for child in children:
        if isinstance(child, kind):
            out.extend(child.children)
        else:
            out.append(child)
    return kind(tuple(out))


def _well_defined(node: Node, *, in_and: bool = False) -> Node:
    """Give every NOT a positive clause to subtract from.

    A NOT only means something inside a conjunction with at least one positive clause
    (`-china` alone, `a OR -b`, `-(-a)`); where it has none, MatchAll() is added as the
    first child, so every backend reads "everything except ...".
    """
    if isinstance(node, And):
        kids = tuple(_well_defined(c, in_and=True) for c in node.children)
        if all(isinstance(k, Not) for k in kids):
            kids = (MatchAll(), *kids)
        return And(kids)
    if isinstance(node, Or):
        return Or(tuple(_well_defined(c) for c in node.children))
    if isinstance(node, Not):
        negated = Not(_well_defined(node.child))
        return negated if in_and else And((MatchAll(), negated))
    return node


def parse_query(text: str) -> Node:
    """Parse a query; raise QueryError (with position and expectation) on bad input.

    The empty query is MatchAll(); otherwise see the module docstring for the grammar.
    """
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is too long ({len(text)} characters, at most {MAX_QUERY_CHARS})",
            position=MAX_QUERY_CHARS,
            expected=f"at most {MAX_QUERY_CHARS} characters",
        )
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------
# Printing back


def format_query(node: Node) -> str:
    """`node` in the query language, in canonical form.

    For any tree `parse_query` returns, `parse_query(format_query(node)) == node`. Trees
    the parser cannot produce (an empty phrase, an open-ended year range written with
    mid-year dates, MatchAll() beside positive clauses) raise ValueError.
    """
    if isinstance(node, MatchAll):
        return ""
    return _fmt(node)


def _fmt(node: Node) -> str:
    if isinstance(node, Phrase):
        return _fmt_phrase(node)
    if isinstance(node, Near):
        distance = "" if node.distance == DEFAULT_NEAR else f"/{node.distance}"
        return f"{_fmt_phrase(node.left)} NEAR{distance} {_fmt_phrase(node.right)}"
    if isinstance(node, FieldIs):
        return f"{node.field}:{_fmt_value(node.value)}"
    if isinstance(node, DateRange):
        return _fmt_range(node)
    if isinstance(node, Not):
        inner = _fmt(node.child)
        return f"-({inner})" if isinstance(node.child, (And, Or)) else f"-{inner}"
    if isinstance(node, And):
        # MatchAll() only ever stands beside NOTs, where parsing adds it back.
        kids = [c for c in node.children if not isinstance(c, MatchAll)]
        if not kids or len(kids) < len(node.children) - 1:
            raise ValueError(f"cannot print {node!r}")
        if len(kids) < len(node.children) and not all(isinstance(k, Not) for k in kids):
            raise ValueError(f"cannot print {node!r}: MatchAll() beside a positive clause")
        return " ".join(f"({_fmt(k)})" if isinstance(k, Or) else _fmt(k) for k in kids)
    if isinstance(node, Or):
        return " OR ".join(_fmt(k) for k in node.children)
    raise ValueError(f"cannot print {node!r} inside a query")


def _join_tokens(tokens: tuple[str, ...]) -> str:
    # Chinese is written without spaces; everything else needs one between tokens.
    out = tokens[0]
    for before, token in itertools.pairwise(tokens):
        both_han = HAN.fullmatch(before) and HAN.fullmatch(token)
        out += token if both_han else " " + token
    return out


def _fmt_phrase(node: Phrase) -> str:
    if not node.tokens:
        raise ValueError("cannot print a phrase without tokens")
    text = _join_tokens(node.tokens) + ("*" if node.prefix else "")
    # Bare when it reads back as one word: a single token, or a run of Han characters.
    joined = text.removesuffix("*")
    bare = (
        " " not in joined
        and terms(joined) == list(node.tokens)
        and joined not in (*_KEYWORDS, "NEAR")
    )
    out = text if bare else f'"{text}"'
    if node.lemma:
        out = f"{LEMMA_FIELD}:{out}"
    if node.slop:
        out += f"~{node.slop}"
    return out


def _fmt_value(value: str) -> str:
    if '"' in value:
        raise ValueError(f"cannot print a filter value holding '\"': {value!r}")
    if value and all(_is_word_char(c) for c in value) and not value.endswith("*"):
        return value
    return f'"{value}"'


def _fmt_range(node: DateRange) -> str:
    lo, hi = node.lo, node.hi
    if node.field == "year":
        if (lo is not None and (lo.month, lo.day) != (1, 1)) or (
            hi is not None and (hi.month, hi.day) != (12, 31)
        ):
            raise ValueError(f"cannot print {node!r}: year bounds must be whole years")
        lo_s = f"{lo.year:04d}" if lo else ""
        hi_s = f"{hi.year:04d}" if hi else ""
    else:
        lo_s = lo.isoformat() if lo else ""
        hi_s = hi.isoformat() if hi else ""
    if lo_s and hi_s:
        value = lo_s if lo_s == hi_s else f"{lo_s}..{hi_s}"
    elif lo_s:
        value = f">={lo_s}"
    elif hi_s:
        value = f"<={hi_s}"
    else:
        raise ValueError(f"cannot print {node!r}: no bounds")
    return f"{node.field}:{value}"
