"""Searches running throughout a large ingest (a `tifa ingest` process writing the index a
running server reads) see no errors and never a half-written statement: every passage of
every statement holds the marker word once, so a hit's matching passages must equal one
of the statement's whole versions and its occurrences, and the totals must agree."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from tests.reliability.server import Server

SOAK = os.environ.get("TIFA_SOAK") == "1"
STATEMENTS = 3000 if SOAK else 400
MARK = "zqxmark"


def passages_a(i: int) -> int:
    return 1 + i % 7


def passages_b(i: int) -> int:
    return 9 + i % 5  # never equal to an A count, nor to A + B


def write_version(path: Path, version: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(STATEMENTS):
            n = passages_a(i) if version == "a" else passages_b(i)
            paras = [f"Paragraph {p} of {version} {i} says {MARK} once." for p in range(n)]
            rec = {"id": f"c-{i}", "date": f"{1990 + i % 30}-01-01", "text": "\n\n".join(paras)}
            f.write(json.dumps(rec) + "\n")


def test_searches_during_a_large_ingest(tmp_path: Path) -> None:
    expected = {f"c-{i}": {passages_a(i), passages_b(i)} for i in range(STATEMENTS)}
    errors: list[str] = []
    checked = 0
    done = threading.Event()

    def searcher(seed: int, url: str) -> None:
        nonlocal checked
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=60) as client:
            while not done.is_set():
                params = {
                    "q": MARK,
                    "limit": 200,
                    "snippets": 0,
                    "sort": rng.choice(["date", "-date", "relevance"]),
                }
                resp = client.get("/api/v1/search", params=params)
                if resp.status_code != 200:
                    errors.append(f"{resp.status_code} {resp.text[:200]}")
                    continue
                body = resp.json()
                total = body["total"]
                if total["passages"] != total["occurrences"]:
                    errors.append(f"totals disagree: {total}")
                for hit in body["results"]:
                    checked += 1
                    if hit["passages"] not in expected[hit["id"]] or (
                        hit["occurrences"] != hit["passages"]
                    ):
                        errors.append(f"half-written {hit['id']}: {hit['passages']} passages")
                if body["results"] and rng.random() < 0.2:
                    sid = rng.choice(body["results"])["id"]
                    st = client.get(f"/api/v1/statements/{sid}")
                    if st.status_code != 200 or len(st.json()["passages"]) not in expected[sid]:
                        errors.append(f"statement {sid}: {st.status_code}")

    src = tmp_path / "input.jsonl"
    env = {**os.environ, "TIFA_DATA_DIR": str(tmp_path)}
    ingest = [sys.executable, "-m", "app.cli", "ingest", str(src), "--quiet", "--batch-size", "50"]
    write_version(src, "a")
    subprocess.run([*ingest[:-2], "--batch-size", "5"], env=env, check=True, timeout=600)
    with Server(tmp_path) as server:
        threads = [threading.Thread(target=searcher, args=(s, server.url)) for s in range(4)]
        for t in threads:
            t.start()
        try:
            # Version B replaces every statement (more passages), then A comes back: each
            # statement is rewritten twice while the searchers run.
            for version in ("b", "a"):
                write_version(src, version)
                run = subprocess.run(ingest, env=env, capture_output=True, text=True, timeout=900)
                assert run.returncode == 0, run.stderr
        finally:
            done.set()
            for t in threads:
                t.join(timeout=120)
    assert not errors, errors[:10]
    assert checked > 1000, f"only {checked} hits were checked"
