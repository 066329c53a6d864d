"""Which adjacent word pairs the embedded index keeps as terms of their own.

A two-word phrase of very common words ("of the", "it is", "в том") matches hundreds of
thousands of passages, and matching it on the positions of its words walks every "of"
and every "the". Indexed as one term (`of_the`, with its frequency per passage, no
positions), the same phrase is one short posting list whose frequencies are the exact
counts. Only pairs of two words from the fixed list below are kept: every pair of every
passage, with positions, made the UN index half as large again, while a phrase with a
rarer word is already fast through that word's positions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

JOINER = "_"  # tokens are letters, marks and digits: a joined pair is unambiguous

# Function words of English and Russian (folded: lower case, ё as е), the words whose
# pairs are common enough to be slow on positions.
_WORDS = """
a about above after again against all also am among an and any are as at be because
been before being below between both but by can could did do does doing down during
each either even ever every few for from further had has have having he her here hers
him his how i if in into is it its itself just may me might more most must my neither
no nor not now of off on once one only or other our ours out over own same shall she
should since so some such than that the their theirs them then there these they this
those through thus to too under until up upon us very was we were what when where
whether which while who whom whose why will with within without would yet you your
а без бы в во вот все всех да для до его ее если же за и из или им их к как ко ли мы
на над не него нет ни но о об один он она они от по под при с со так также то того
только у что чтобы эти это этого я
"""
COMMON = frozenset(_WORDS.split())


def pair_terms(tokens: str) -> str:
    """The indexed pairs of a whitespace-separated token string: each two adjacent tokens
    that are both common words, joined ("of the people" gives "of_the")."""
    toks = tokens.split()
    return " ".join(
        a + JOINER + b for a, b in itertools.pairwise(toks) if a in COMMON and b in COMMON
    )


def pair_terms_for(native: bool) -> Callable[[str], str]:
    """`pair_terms`, from the native extension when `native` and it is installed (the
    same strings: a test holds them equal), else in Python."""
    from indexer.backends.native import pair_maker

    return (pair_maker(COMMON, JOINER) if native else None) or pair_terms


def pair_of(tokens: Sequence[str]) -> str | None:
    """The pair term of a two-word phrase, when the index keeps such pairs; else None."""
    if len(tokens) == 2 and tokens[0] in COMMON and tokens[1] in COMMON:
        return tokens[0] + JOINER + tokens[1]
    return None
