"""The Elasticsearch node killed mid-bulk: the ingest retries, then fails with a clear
message (no traceback); nothing it had acknowledged is lost once the node is back, and a
rerun completes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.reliability.test_crash import big_input

pytestmark = pytest.mark.elastic


@pytest.fixture
def node(tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.support.esnode import EsNode, java_available

    ok, why = java_available()
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a real Elasticsearch node: {why}")
        pytest.skip(f"Elasticsearch tier skipped: {why}")
    with EsNode(tmp_path / "es") as n:
        yield n


def test_node_killed_mid_bulk(tmp_path: Path, node) -> None:  # type: ignore[no-untyped-def]
    from indexer.backends.elastic.backend import ElasticBackend

    src = tmp_path / "big.jsonl"
    ids = big_input(src, copies=4)
    index = f"tifa-crash-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "TIFA_DATA_DIR": str(tmp_path),
        "TIFA_BACKEND": "elasticsearch",
        "TIFA_ES_URL": node.url,
        "TIFA_ES_INDEX": index,
    }
    cmd = [sys.executable, "-m", "app.cli", "ingest", str(src), "--batch-size", "10"]
    acknowledged: list[str] = []
    lines: list[str] = []
    with subprocess.Popen(
        [*cmd, "--log-batches", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        out, err = proc.stdout, proc.stderr
        assert out is not None and err is not None
        errors: list[str] = []
        err_reader = threading.Thread(target=errors.extend, args=(err,))
        err_reader.start()
        for line in out:
            lines.append(line)
            if line.startswith("{"):
                acknowledged.extend(json.loads(line)["ids"])
            if len(acknowledged) >= 60:
                killed_at = time.monotonic()
                node.kill()  # mid-run: the next bulk finds no node
                break
        lines.extend(out)
        proc.wait(timeout=300)
        err_reader.join(timeout=60)
    failed_after = time.monotonic() - killed_at
    for line in lines:
        if line.startswith("{") and json.loads(line)["ids"][0] not in acknowledged:
            acknowledged.extend(json.loads(line)["ids"])
    stderr = "".join(errors)
    assert proc.returncode == 2, stderr
    assert "Elasticsearch cannot be reached" in stderr, stderr
    assert "Traceback" not in stderr
    assert failed_after < 240
    assert len(acknowledged) < len(ids)

    node.restart()
    backend = ElasticBackend(node.url, index=index)
    stored = {m.id for m in backend.statements()}
    assert set(acknowledged) <= stored, sorted(set(acknowledged) - stored)[:5]
    backend.close()

    rerun = subprocess.run([*cmd, "--quiet"], env=env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    backend = ElasticBackend(node.url, index=index)
    assert {m.id for m in backend.statements()} == set(ids)
    backend.drop()
    backend.close()
