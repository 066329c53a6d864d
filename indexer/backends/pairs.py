"""Which adjacent word pairs the embedded index keeps as terms of their own.

A two-word phrase of common words ("of the", "it is", "в том", "human rights") matches
tens or hundreds of thousands of passages, and matching it on the positions of its
words walks every "of" and every "the". Indexed as one term (`of_the`, with its
frequency per passage, no positions), the same phrase is one short posting list whose
frequencies are the exact counts.

Two groups of words make pairs, each only within itself:
- `COMMON`, the function words of English and Russian: "of the", "в том";
- `FREQUENT`, the content words of at least 1% of the UN corpus's passages (a bundled
  list, `frequent_words.txt`): "human rights", "security council", "climate change".
A pair across the groups ("the council") is not kept: pairs within the groups are 18%
and 8% of a UN text's adjacent pairs, pairs of words of either group 61%, and a phrase
with a word outside both groups is already fast through that word's positions. Keeping
every pair of every passage, with positions, made the UN index half as large again.
Measured on the UN corpus, the content pairs cost 2% more index and about 9% more ingest
time (six alternating builds), and match a two-word formula 2-3 times faster than its
words' positions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

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


def _frequent() -> frozenset[str]:
    text = (Path(__file__).with_name("frequent_words.txt")).read_text(encoding="utf-8")
    return frozenset(w for w in text.split("\n") if w and not w.startswith("#")) - COMMON


FREQUENT = _frequent()
# The groups whose words pair, each within itself (disjoint).
GROUPS: tuple[frozenset[str], ...] = (COMMON, FREQUENT)
_GROUP_OF = {w: g for g, words in enumerate(GROUPS) for w in words}


def pair_terms(tokens: str) -> str:
    """The indexed pairs of a whitespace-separated token string: each two adjacent tokens
    of one group, joined ("of the human rights council" gives "of_the human_rights")."""
    toks = tokens.split()
    group = _GROUP_OF.get
    return " ".join(
        a + JOINER + b
        for a, b in itertools.pairwise(toks)
        if (g := group(a)) is not None and g == group(b)
    )


def pair_terms_for(native: bool) -> Callable[[str], str]:
    """`pair_terms`, from the native extension when `native` and it is installed (the
    same strings: a test holds them equal), else in Python."""
    from indexer.backends.native import pair_maker

    return (pair_maker(GROUPS, JOINER) if native else None) or pair_terms


def pair_of(tokens: Sequence[str]) -> str | None:
    """The pair term of a two-word phrase, when the index keeps such pairs; else None."""
    if len(tokens) == 2:
        g = _GROUP_OF.get(tokens[0])
        if g is not None and g == _GROUP_OF.get(tokens[1]):
            return tokens[0] + JOINER + tokens[1]
    return None
