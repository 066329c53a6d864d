"""Crash safety: the ingest process SIGKILLed at random moments (3 times in CI, 20 in the
soak run), and the server SIGKILLed mid-POST. Every acknowledged statement is there
afterwards, the index opens, and a rerun completes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from app.keys import KeyStore
from indexer.backends.embedded import EmbeddedBackend
from tests.conftest import DATA
from tests.reliability.server import Server

SOAK = os.environ.get("TIFA_SOAK") == "1"
KILLS = 20 if SOAK else 3


def big_input(path: Path, copies: int, version: str = "") -> list[str]:
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
                    "text": r["text"] + version,
                    "kind": "speech",
                    "source": r["source"],
                    "license": r["license"],
                }
                ids.append(rec["id"])
                f.write(json.dumps(rec) + "\n")
    return ids


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "TIFA_DATA_DIR": str(data_dir)}


def _ingest_cmd(src: Path) -> list[str]:
    return [sys.executable, "-m", "app.cli", "ingest", str(src), "--batch-size", "20"]


def test_ingest_killed_at_random_moments(tmp_path: Path) -> None:
    src = tmp_path / "big.jsonl"
    ids = big_input(src, copies=4)
    rng = random.Random(int(os.environ.get("TIFA_SOAK_SEED", "20240601")))
    acknowledged: set[str] = set()
    for kill in range(KILLS):
        # The version suffix makes every round rewrite statements, so kills land in
        # updates as well as in first writes.
        big_input(src, copies=4, version=f"\n\nRound {kill}.")
        cmd = [*_ingest_cmd(src), "--log-batches", "--quiet"]
        lines: list[str] = []
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=_env(tmp_path)) as proc:
            out = proc.stdout
            assert out is not None
            reader = threading.Thread(target=lines.extend, args=(out,))
            reader.start()
            time.sleep(rng.uniform(1.0, 6.0))  # a random point: a batch, a commit, startup
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            reader.join(timeout=60)
        for line in lines:
            if line.startswith("{"):
                acknowledged.update(json.loads(line)["ids"])
        backend = EmbeddedBackend(tmp_path / "index")  # the index opens
        stored = {m.id for m in backend.statements()}
        assert acknowledged <= stored, f"kill {kill}: lost {sorted(acknowledged - stored)[:5]}"
        for meta in list(backend.statements())[:20]:
            st = backend.statement(meta.id)
            assert st is not None and len(st.passages) == meta.passages  # whole statements
        backend.close()
    rerun = subprocess.run(
        [*_ingest_cmd(src), "--quiet"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=900,
    )
    assert rerun.returncode == 0, rerun.stderr
    backend = EmbeddedBackend(tmp_path / "index")
    assert {m.id for m in backend.statements()} == set(ids)
    backend.close()


def test_server_killed_mid_post_loses_nothing_acknowledged(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.sqlite")
    _, token = store.create("write")
    store.close()
    auth = {"Authorization": f"Bearer {token}"}
    src = tmp_path / "big.jsonl"
    big_input(src, copies=3)
    records = [json.loads(line) for line in src.read_text().splitlines()]
    batches = [records[i : i + 25] for i in range(0, len(records), 25)]
    rng = random.Random(7)
    acknowledged: set[str] = set()
    for round_ in range(KILLS):
        with Server(tmp_path) as server:
            killer = threading.Timer(rng.uniform(0.5, 3.0), server.kill)
            killer.start()
            try:
                with httpx.Client(base_url=server.url, timeout=60) as client:
                    for batch in batches:
                        resp = client.post("/api/v1/statements", json=batch, headers=auth)
                        if resp.status_code == 200:
                            acknowledged.update(r["id"] for r in resp.json()["results"])
            except httpx.HTTPError:
                pass  # the crash: this batch was never acknowledged
            killer.join()
        backend = EmbeddedBackend(tmp_path / "index")
        stored = {m.id for m in backend.statements()}
        backend.close()
        assert acknowledged <= stored, f"round {round_}: lost {sorted(acknowledged - stored)[:5]}"
    # A restarted server takes the rest (everything already there is "unchanged").
    with Server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=120) as client:
        for batch in batches:
            resp = client.post("/api/v1/statements", json=batch, headers=auth)
            assert resp.status_code == 200
            assert resp.json()["total"]["rejected"] == 0
        assert client.get("/readyz").json()["statements"] == len(records)


@pytest.mark.soak
def test_soak_marker_is_registered() -> None:
    """Keeps `-m soak` meaningful in this package even when nothing else is selected."""
