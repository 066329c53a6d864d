"""Opening an index written under an older schema rebuilds it in place from its stored
records, keeps every statement and answer, and survives a crash between its steps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from indexer.backends.embedded import SCHEMA_VERSION, EmbeddedBackend
from indexer.errors import EngineUnavailable
from indexer.query import Phrase
from tests.contract.test_contract import corpus


def _written(path: Path) -> tuple[set[str], list[tuple[int, int, int]]]:
    backend = EmbeddedBackend(path)
    backend.write(corpus())
    answer = _answer(backend)
    backend.close()
    return answer


def _answer(backend: EmbeddedBackend) -> tuple[set[str], list[tuple[int, int, int]]]:
    ids = {m.id for m in backend.statements()}
    counts = []
    for node in (
        Phrase(("strategic", "partnership")),
        Phrase(("взаимодействие",), lemma=True),
        Phrase(("партнер",), prefix=True, lemma=True),
    ):
        m = backend.match(node)
        counts.append((len(m), int(m.keys.sum() % 1_000_003), int(m.occurrences.sum())))
    return ids, counts


def _mark_version(path: Path, version: int) -> None:
    (path / "tifa-schema.json").write_text(json.dumps({"schema_version": version}))


@pytest.mark.parametrize("version", [2, 3, 4, 5])
def test_an_older_index_is_rebuilt_with_the_same_answers(tmp_path: Path, version: int) -> None:
    path = tmp_path / "index"
    before = _written(path)
    # The records an older schema kept are all an upgrade reads: an index marked as
    # an older version is rebuilt from them.
    _mark_version(path, version)
    backend = EmbeddedBackend(path)
    assert json.loads((path / "tifa-schema.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert _answer(backend) == before
    assert backend.statement("st-c") is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "index.upgrade.lock"]


def test_a_crash_between_the_renames_leaves_the_old_index_to_upgrade_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "index"
    before = _written(path)
    _mark_version(path, 2)
    # As after a crash between the two renames: the old index moved aside, the new one
    # not yet in place (here: a half-built one).
    path.rename(tmp_path / "index.old")
    (tmp_path / "index.upgrade").mkdir()
    (tmp_path / "index.upgrade" / "junk").write_text("half built")
    backend = EmbeddedBackend(path)
    assert _answer(backend) == before
    assert not (tmp_path / "index.old").exists()
    assert not (tmp_path / "index.upgrade").exists()


def test_a_crash_after_the_renames_only_leaves_the_old_copy_to_remove(tmp_path: Path) -> None:
    path = tmp_path / "index"
    before = _written(path)
    shutil.copytree(path, tmp_path / "index.old")
    assert _answer(EmbeddedBackend(path)) == before
    assert not (tmp_path / "index.old").exists()


@pytest.mark.parametrize("version", [1, 99])
def test_a_schema_nobody_can_upgrade_is_refused_by_name(tmp_path: Path, version: int) -> None:
    path = tmp_path / "index"
    _written(path)
    _mark_version(path, version)
    with pytest.raises(EngineUnavailable, match=f"schema version {version}.*delete it"):
        EmbeddedBackend(path)


def test_an_index_without_the_frequent_word_pairs_is_rebuilt_with_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema 6 indexes pairs of frequent content words ("human_rights"), and a two-word
    phrase of them is matched on that term alone: a schema-5 index, which lacks them,
    would answer nothing. Opening one rebuilds it, and the counts are the exact ones."""
    from indexer.backends import embedded
    from indexer.backends.pairs import COMMON, JOINER
    from indexer.model import statement_from_record
    from tests import bruteforce
    from tests.support.native import require_native

    require_native()
    texts = [
        "Human rights are universal.\n\nThe Council on human rights met; human-rights law.",
        "Security council reform. human\nrights",
        "No such phrase here: rights of humans.",
    ]
    statements = [
        statement_from_record(
            {"id": f"h{i}", "date": "2020-01-01", "text": t, "license": "CC0", "source": "t"}
        )
        for i, t in enumerate(texts)
    ]
    phrase = Phrase(("human", "rights"))
    exact = sum(
        bruteforce.occurrences(p.text, "human rights") for s in statements for p in s.passages
    )
    assert exact == 4

    def counted(backend: EmbeddedBackend) -> int:
        return int(backend.match(phrase).occurrences.sum())

    # Written as schema 5 wrote: pairs of function words only.
    with monkeypatch.context() as m:
        m.setattr(embedded, "GROUPS", (COMMON,))
        m.setattr(
            embedded,
            "pair_terms_for",
            lambda native: (
                lambda toks: " ".join(
                    a + JOINER + b
                    for a, b in zip(toks.split(), toks.split()[1:], strict=False)
                    if {a, b} <= COMMON
                )
            ),
        )
        path = tmp_path / "index"
        old = EmbeddedBackend(path)
        old.write(statements)
        old.close()
    # Read as if it were schema 6, it misses every occurrence: the upgrade is needed.
    stale = EmbeddedBackend(path)
    assert counted(stale) == 0
    stale.close()
    _mark_version(path, 5)
    upgraded = EmbeddedBackend(path)
    assert json.loads((path / "tifa-schema.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert counted(upgraded) == exact
    upgraded.close()
