"""Ingestion through the real CLI: reports, idempotency, bad records, and crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from indexer.backends.embedded import EmbeddedBackend
from tests.conftest import DATA


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "TIFA_DATA_DIR": str(data_dir)}


# tests/data/bad.jsonl, line by line: what each bad line must be rejected for.
BAD_LINES = {
    3: "malformed JSON",
    4: "'id' is required",
    6: "'date'",
    7: "'text'",
    8: "object",
    9: "'kind'",
    11: "passages",
    12: "NaN",
    14: "nested too deeply",
}
GOOD_IDS = {"good-1", "good-2", "roundup-10", "good-13", "日本-15"}


def test_malformed_lines_are_reported_and_the_rest_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIFA_DATA_DIR", str(tmp_path))
    assert main(["ingest", str(DATA / "bad.jsonl")]) == 1
    out = capsys.readouterr().out
    rejected = {
        int(line.split("bad.jsonl:")[1].split(":")[0].split(" ")[0]): line
        for line in out.splitlines()
        if "rejected" in line and "bad.jsonl:" in line
    }
    assert set(rejected) == set(BAD_LINES)
    for number, reason in BAD_LINES.items():
        assert reason in rejected[number], rejected[number]
    assert f"accepted {len(GOOD_IDS)}, updated 0, unchanged 0, rejected {len(BAD_LINES)}" in out
    backend = EmbeddedBackend(tmp_path / "index")
    assert {m.id for m in backend.statements()} == GOOD_IDS


def test_reingest_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIFA_DATA_DIR", str(tmp_path))
    path = str(DATA / "ungdc_slice.jsonl")
    assert main(["ingest", path, "--preset", "ungdc", "--quiet"]) == 0
    first = capsys.readouterr().out
    backend = EmbeddedBackend(tmp_path / "index")
    before = {m.id: m.hash for m in backend.statements()}
    generation = backend.generation()
    assert main(["ingest", path, "--preset", "ungdc", "--quiet"]) == 0
    second = capsys.readouterr().out
    assert f"accepted {len(before)}," in first
    assert f"accepted 0, updated 0, unchanged {len(before)}, rejected 0" in second
    assert {m.id: m.hash for m in backend.statements()} == before
    assert backend.generation() == generation  # nothing was even committed


def test_update_and_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIFA_DATA_DIR", str(tmp_path))
    src = tmp_path / "in.jsonl"
    rec = {"id": "x1", "date": "2020-12-31", "text": "A new era of friendship."}
    src.write_text(json.dumps(rec) + "\n")
    assert main(["ingest", str(src), "--quiet"]) == 0
    rec["text"] = "An old era."
    src.write_text(json.dumps(rec) + "\n")
    assert main(["ingest", str(src), "--quiet"]) == 0
    assert "accepted 0, updated 1, unchanged 0" in capsys.readouterr().out
    backend = EmbeddedBackend(tmp_path / "index")
    st = backend.statement("x1")
    assert st is not None and st.text == "An old era."
    assert main(["delete", "x1"]) == 0
    assert backend.statement("x1") is None


def _big_input(path: Path, copies: int) -> list[str]:
    """Many distinct statements made from the real UNGDC slice (new ids, same texts)."""
    with (DATA / "ungdc_slice.jsonl").open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    ids = []
    with path.open("w", encoding="utf-8") as f:
        for c in range(copies):
            for r in records:
                rec = {
                    "id": f"{r['id']}-copy{c}",
                    "date": f"{r['year']}-09-15",
                    "text": r["text"],
                    "kind": "speech",
                    "source": r["source"],
                    "license": r["license"],
                }
                ids.append(rec["id"])
                f.write(json.dumps(rec) + "\n")
    return ids


def test_sigkill_mid_run_loses_no_committed_batch(tmp_path: Path) -> None:
    src = tmp_path / "big.jsonl"
    ids = _big_input(src, copies=6)
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "ingest",
        str(src),
        "--batch-size",
        "25",
        "--log-batches",
        "--quiet",
    ]
    committed: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=_env(tmp_path)) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                committed.extend(json.loads(line)["ids"])
            if len(committed) >= 100:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert len(committed) < len(ids)  # it really died mid-run

    backend = EmbeddedBackend(tmp_path / "index")  # the index opens
    stored = {m.id for m in backend.statements()}
    assert set(committed) <= stored
    for sid in committed[:5]:
        assert backend.statement(sid) is not None
    backend.close()

    rerun = subprocess.run(
        [*cmd[:-2], "--quiet"], capture_output=True, text=True, env=_env(tmp_path), timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    backend = EmbeddedBackend(tmp_path / "index")
    assert {m.id for m in backend.statements()} == set(ids)
