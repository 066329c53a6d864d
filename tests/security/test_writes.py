"""The write API: per-record results, idempotency by content hash and by Idempotency-Key,
NDJSON, delete, reindex (answers unchanged), and acknowledgement only after commit."""

from __future__ import annotations

import json
import threading

from fastapi.testclient import TestClient

from indexer.backends.embedded import EmbeddedBackend
from tests.security.conftest import AppFactory, Keys

A = {"id": "w-a", "date": "2021-05-01", "text": "First paragraph.\n\nSecond paragraph."}
B = {"id": "w-b", "date": "2021-05-02", "text": "Another statement.", "kind": "message"}


def _post(client: TestClient, keys: Keys, body: object, **headers: str) -> dict[str, object]:
    resp = client.post("/api/v1/statements", json=body, headers={**keys.auth("write"), **headers})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_per_record_results(client: TestClient, keys: Keys) -> None:
    bad = {"id": "w-bad", "date": "yesterday", "text": "x"}
    out = _post(client, keys, [A, B, bad, 42])
    assert out == {
        "total": {"created": 2, "updated": 0, "unchanged": 0, "rejected": 2},
        "results": [
            {"record": 1, "id": "w-a", "status": "created", "reason": None},
            {"record": 2, "id": "w-b", "status": "created", "reason": None},
            {
                "record": 3,
                "id": "w-bad",
                "status": "rejected",
                "reason": "'date' is not a YYYY-MM-DD date: 'yesterday'",
            },
            {
                "record": 4,
                "id": None,
                "status": "rejected",
                "reason": "a record must be a JSON object, not a number",
            },
        ],
    }
    # Re-sending the same batch changes nothing; a changed record is an update.
    again = _post(client, keys, [A, {**B, "title": "Now titled"}])
    assert [r["status"] for r in again["results"]] == ["unchanged", "updated"]  # type: ignore[index]
    got = client.get("/api/v1/statements/w-b").json()
    assert got["title"] == "Now titled" and got["kind"] == "message"
    assert len(client.get("/api/v1/statements/w-a").json()["passages"]) == 2


def test_ndjson_numbers_records_by_line(client: TestClient, keys: Keys) -> None:
    body = json.dumps(A) + "\n\n" + "{not json\n" + json.dumps({"id": "w-c"}) + "\n"
    resp = client.post(
        "/api/v1/statements",
        content=body.encode(),
        headers={**keys.auth("write"), "Content-Type": "application/x-ndjson"},
    )
    assert resp.status_code == 200
    results = resp.json()["results"]
    assert [(r["record"], r["status"]) for r in results] == [
        (1, "created"),
        (3, "rejected"),
        (4, "rejected"),
    ]
    assert results[1]["reason"].startswith("malformed JSON")
    assert results[2]["reason"] == "'text' is required and must be a non-empty string"


def test_same_id_twice_in_one_request_the_later_wins(client: TestClient, keys: Keys) -> None:
    out = _post(client, keys, [A, {**A, "title": "later"}])
    assert [r["status"] for r in out["results"]] == ["rejected", "created"]  # type: ignore[index]
    assert client.get("/api/v1/statements/w-a").json()["title"] == "later"


def test_bodies_that_are_not_a_batch(client: TestClient, keys: Keys) -> None:
    auth = keys.auth("write")
    for content, ctype, status in [
        (b'{"id": 1}', "application/json", 422),
        (b"[1, 2", "application/json", 422),
        (b"[NaN]", "application/json", 422),
        (b"\xff\xfe[]", "application/json", 422),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 422),
        (b"id,text\n1,x\n", "text/csv", 415),
    ]:
        resp = client.post(
            "/api/v1/statements", content=content, headers={**auth, "Content-Type": ctype}
        )
        assert resp.status_code == status, (content[:20], resp.text)
        assert resp.headers["content-type"] == "application/problem+json"


def test_idempotency_key_replays_and_conflicts(client: TestClient, keys: Keys) -> None:
    first = client.post(
        "/api/v1/statements", json=[A], headers={**keys.auth("write"), "Idempotency-Key": "k-1"}
    )
    assert first.json()["results"][0]["status"] == "created"
    # The same request again: the first answer, not "unchanged".
    replay = client.post(
        "/api/v1/statements", json=[A], headers={**keys.auth("write"), "Idempotency-Key": "k-1"}
    )
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    # The same key for another body: a conflict, and nothing written.
    other = client.post(
        "/api/v1/statements", json=[B], headers={**keys.auth("write"), "Idempotency-Key": "k-1"}
    )
    assert other.status_code == 409
    assert client.get("/api/v1/statements/w-b").status_code == 404
    # Keys are per API key: another client's "k-1" is its own.
    admin = client.post(
        "/api/v1/statements", json=[B], headers={**keys.auth("admin"), "Idempotency-Key": "k-1"}
    )
    assert admin.json()["results"][0]["status"] == "created"


def test_a_failed_request_frees_its_idempotency_key(client: TestClient, keys: Keys) -> None:
    headers = {**keys.auth("write"), "Idempotency-Key": "k-2", "Content-Type": "text/plain"}
    assert client.post("/api/v1/statements", content=b"[]", headers=headers).status_code == 415
    headers["Content-Type"] = "application/json"
    assert client.post("/api/v1/statements", content=b"[]", headers=headers).status_code == 200


def test_delete(client: TestClient, keys: Keys) -> None:
    _post(client, keys, [A])
    resp = client.delete("/api/v1/statements/w-a", headers=keys.auth("write"))
    assert resp.json() == {"id": "w-a", "status": "deleted"}
    assert client.get("/api/v1/statements/w-a").status_code == 404
    assert client.delete("/api/v1/statements/w-a", headers=keys.auth("write")).status_code == 404


def _answer(client: TestClient, q: str) -> tuple[object, object]:
    # Scores are BM25 over the engine's segment statistics, which a rewrite changes (the
    # old documents are only marked deleted until merged); the counts must not change.
    body = client.get("/api/v1/search", params={"q": q, "limit": 200, "sort": "date"}).json()
    hits = sorted((h["id"], h["occurrences"], h["passages"]) for h in body["results"])
    return body["total"], hits


def test_reindex_keeps_every_answer(client: TestClient, keys: Keys) -> None:
    queries = ['"strategic partnership"', "peace", "中国", "year:2000..2010 cooperation"]
    before = [_answer(client, q) for q in queries]
    n = client.get("/readyz").json()["statements"]
    resp = client.post("/api/v1/reindex", headers=keys.auth("admin"))
    assert resp.status_code == 200
    out = resp.json()
    assert out["backend"] == "embedded" and out["statements"] == n and out["passages"] > n
    after = [_answer(client, q) for q in queries]
    assert after == before


def test_acknowledged_means_committed_on_disk(
    client: TestClient, keys: Keys, data_dir: object
) -> None:
    from pathlib import Path

    assert isinstance(data_dir, Path)
    _post(client, keys, [A, B])
    # Another process's view: a fresh backend over the same files sees both at once.
    other = EmbeddedBackend(data_dir / "index")
    assert other.statement("w-a") is not None and other.statement("w-b") is not None
    other.close()


def test_the_cli_can_write_beside_a_serving_app(
    client: TestClient, keys: Keys, data_dir: object
) -> None:
    from pathlib import Path

    assert isinstance(data_dir, Path)
    _post(client, keys, [A])
    # The service let go of the index's write lock after its write.
    other = EmbeddedBackend(data_dir / "index")
    other.write([])
    other.close()


def test_concurrent_writes_of_one_id_are_classified_once(
    make_client: AppFactory, keys: Keys
) -> None:
    client = make_client()
    statuses: list[str] = []

    def post() -> None:
        resp = client.post("/api/v1/statements", json=[A], headers=keys.auth("write"))
        statuses.append(resp.json()["results"][0]["status"])

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == ["created"] + ["unchanged"] * 5


def _counts(client: TestClient, q: str) -> tuple[object, object]:
    search = client.get("/api/v1/search", params={"q": q}).json()["total"]
    rows = client.get("/api/v1/timeline", params={"q": q}).json()["series"][0]["rows"]
    export = client.get("/api/v1/search", params={"q": q, "format": "csv"}).text
    # The export's rows (after its header) are the occurrences.
    assert len(export.splitlines()) - 1 == search["occurrences"]
    return search, {r["period"]: r["occurrences"] for r in rows if r["occurrences"]}


def test_repeated_answers_follow_writes_by_this_app_and_by_another_process(
    client: TestClient, keys: Keys, data_dir: object
) -> None:
    """A search or timeline asked again is answered from the rendered cache, but never
    across a commit: not the app's own, nor another writer's on the same index."""
    from pathlib import Path

    from indexer.model import statement_from_record

    assert isinstance(data_dir, Path)
    q = '"zanzibar quokka"'
    empty = ({"statements": 0, "passages": 0, "occurrences": 0}, {})
    assert _counts(client, q) == _counts(client, q) == empty
    _post(client, keys, [{**A, "text": "A zanzibar quokka. Zanzibar quokka again."}])
    assert _counts(client, q) == (
        {"statements": 1, "passages": 1, "occurrences": 2},
        {"2021": 2},
    )
    first = client.get("/api/v1/statements/w-a").json()
    assert first["text"] == "A zanzibar quokka. Zanzibar quokka again."
    _post(client, keys, [{**A, "text": "A zanzibar quokka. Zanzibar quokka again. Twice."}])
    assert client.get("/api/v1/statements/w-a").json()["text"].endswith("Twice.")
    assert client.get("/api/v1/statements/w-other").status_code == 404
    other = EmbeddedBackend(data_dir / "index")
    record = {"id": "w-other", "date": "2019-03-01", "text": "The zanzibar quokka, once more."}
    other.write([statement_from_record(record)])
    other.close()
    assert _counts(client, q) == (
        {"statements": 2, "passages": 2, "occurrences": 3},
        {"2019": 1, "2021": 2},
    )
    assert client.get("/api/v1/statements/w-other").json()["date"] == "2019-03-01"
