"""Regenerate `indexer/backends/frequent_words.txt`: the content words whose adjacent
pairs the embedded index keeps as terms (see `indexer/backends/pairs.py`).

A word is listed when it is in at least 1% of the passages of the UN General Debate
corpus (English), is not one of the function words `pairs.COMMON` already lists, and
holds a letter. Tokens are Tifa's own (`indexer.text.joined_terms`), so the list holds
exactly the strings the index and the queries use.

    .venv/bin/python tools/frequent_words.py ../shared/corpora/ungdc_en.jsonl.gz

Changing the list changes which terms an index holds: bump `SCHEMA_VERSION` in
`indexer/backends/embedded.py` with it, so that older indexes are rebuilt on opening.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indexer.backends.pairs import COMMON  # noqa: E402
from indexer.model import Statement  # noqa: E402
from indexer.sources import read  # noqa: E402
from indexer.text import joined_terms  # noqa: E402

OUT = REPO / "indexer" / "backends" / "frequent_words.txt"
SHARE = 0.01  # of the passages


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path, help="ungdc_en.jsonl.gz")
    a = ap.parse_args()
    df: collections.Counter[str] = collections.Counter()
    passages = 0
    for st in read(a.corpus, preset="ungdc"):
        if not isinstance(st, Statement):
            continue  # a record the reader refused: it is in no index either
        for p in st.passages:
            passages += 1
            df.update(set(joined_terms(p.text)[0].split()))
    least = int(SHARE * passages)
    words = sorted(
        w for w, n in df.items() if n >= least and w not in COMMON and any(c.isalpha() for c in w)
    )
    header = (
        f"# Content words in at least {SHARE:.0%} of the {passages:,} passages of the UN "
        "General Debate corpus\n"
        "# (ungdc_en, CC0 1.0: Baturo, Dasandi & Mikhaylov 2017, Research & Politics), "
        "less the\n# function words"
        " of pairs.COMMON. Made by tools/frequent_words.py; see indexer/backends/pairs.py.\n"
    )
    OUT.write_text(header + "\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} words (at least {least:,} of {passages:,} passages) -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
