"""The rendered-answer cache: bounded in bytes, least recently used dropped first, and one
per application (two apps over different indexes share generation numbers)."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.rendered import Rendered
from indexer.backends.embedded import EmbeddedBackend
from indexer.model import statement_from_record
from indexer.search import Search


def test_bounded_in_bytes_least_recently_used_first() -> None:
    cache = Rendered(max_bytes=800)
    for key in "abcd":
        cache.put(key, b"x" * 100)
    assert cache.get("a") == b"x" * 100  # a is now the most recent
    for key in "efgh":
        cache.put(key, b"y" * 100)
    assert len(cache) == 8
    cache.put("i", b"z" * 100)  # 900 bytes: the least recently used (b) goes
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 8
    cache.put("a", b"w" * 50)  # replacing a body counts only its new size
    cache.put("j", b"v" * 50)
    assert len(cache) == 9 and cache.get("c") is not None
    # An answer over an eighth of the budget is never kept: it would push out the rest.
    cache.put("huge", b"h" * 101)
    assert cache.get("huge") is None and len(cache) == 9


def test_two_apps_over_different_indexes_do_not_share_answers(
    slice_data_dir: Path, tmp_path: Path
) -> None:
    corpus = Path(__file__).parents[2] / "corpus"
    # Two copies of one index, each given a different statement by one write: the same
    # generation, different answers.
    apps = []
    for name, text in (("one", "A quokka spoke."), ("two", "A wombat spoke.")):
        shutil.copytree(slice_data_dir / "index", tmp_path / name / "index")
        backend = EmbeddedBackend(tmp_path / name / "index")
        backend.write([statement_from_record({"id": "r-1", "date": "2020-01-01", "text": text})])
        backend.close()
        apps.append(create_app(Settings(data_dir=tmp_path / name, corpus_dir=corpus)))
    params = {"q": "quokka"}
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        gens = [app.state.search.backend.generation() for app in apps]
        assert gens[0] == gens[1]
        assert one.get("/api/v1/search", params=params).json()["total"]["statements"] == 1
        assert two.get("/api/v1/search", params=params).json()["total"]["statements"] == 0


def test_a_stream_is_kept_only_when_read_to_its_end_and_small(tmp_path: Path) -> None:
    backend = EmbeddedBackend(tmp_path / "index")
    search = Search(backend)
    at = backend.generation()
    cache = Rendered(max_bytes=800)
    whole = cache.tee(search, "whole", iter(["a,b\n", "1,2\n"]))
    assert "".join(whole) == "a,b\n1,2\n" and cache.get(("whole", at)) == b"a,b\n1,2\n"
    assert cache.at_hand(search, "whole") == b"a,b\n1,2\n"
    left = cache.tee(search, "left", iter(["x" * 10, "y" * 10]))
    assert next(left) == "x" * 10
    left.close()  # the client went away part way
    assert cache.at_hand(search, "left") is None
    big = cache.tee(search, "big", iter(["z" * 60, "z" * 60]))  # over an eighth of the budget
    assert "".join(big) == "z" * 120 and cache.at_hand(search, "big") is None
    # After a commit the kept answer is out of reach.
    backend.write([statement_from_record({"id": "s", "date": "2020-01-01", "text": "x"})])
    assert backend.generation() != at and cache.at_hand(search, "whole") is None
    backend.close()
