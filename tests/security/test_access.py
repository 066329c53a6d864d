"""Access control: every write route refuses no key (401), a read key (403) and a revoked
key (401); reindex needs admin; reads are open or key-only as configured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import main
from tests.security.conftest import AppFactory, Keys

RECORD = [{"id": "access-1", "date": "2020-01-01", "text": "A statement about access."}]
WRITE_ROUTES = [
    ("POST", "/api/v1/statements", "write"),
    ("DELETE", "/api/v1/statements/access-1", "write"),
    ("POST", "/api/v1/reindex", "admin"),
]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> object:
    if method == "POST":
        return client.post(path, json=RECORD, headers=headers)
    return client.delete(path, headers=headers)


def _assert_problem(resp: object, status: int) -> None:
    from httpx import Response

    assert isinstance(resp, Response)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert set(body) >= {"type", "title", "status", "detail"}
    assert body["status"] == status


@pytest.mark.parametrize(("method", "path", "scope"), WRITE_ROUTES)
def test_write_routes_refuse_no_key(client: TestClient, method: str, path: str, scope: str) -> None:
    resp = _call(client, method, path, {})
    _assert_problem(resp, 401)
    assert resp.headers["www-authenticate"] == 'Bearer realm="tifa"'  # type: ignore[attr-defined]


@pytest.mark.parametrize(("method", "path", "scope"), WRITE_ROUTES)
@pytest.mark.parametrize(
    "header",
    ["Bearer nonsense", "Bearer tifa_000000000000_wrong", "Basic dXNlcjpwYXNz", "Bearer ", "tifa"],
)
def test_write_routes_refuse_invalid_keys(
    client: TestClient, method: str, path: str, scope: str, header: str
) -> None:
    resp = _call(client, method, path, {"Authorization": header})
    _assert_problem(resp, 401)
    assert resp.headers["www-authenticate"].startswith("Bearer")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("method", "path", "scope"), WRITE_ROUTES)
def test_write_routes_refuse_a_read_key(
    client: TestClient, keys: Keys, method: str, path: str, scope: str
) -> None:
    _assert_problem(_call(client, method, path, keys.auth("read")), 403)


@pytest.mark.parametrize(("method", "path", "scope"), WRITE_ROUTES)
def test_write_routes_refuse_a_revoked_key(
    client: TestClient, keys: Keys, method: str, path: str, scope: str
) -> None:
    # The revoked key had the admin scope: revocation, not scope, must refuse it.
    _assert_problem(_call(client, method, path, keys.auth("revoked")), 401)


def test_reindex_needs_admin_not_write(client: TestClient, keys: Keys) -> None:
    _assert_problem(client.post("/api/v1/reindex", headers=keys.auth("write")), 403)


def test_revocation_takes_effect_at_once(client: TestClient, data_dir: Path) -> None:
    from app.keys import KeyStore

    store = KeyStore(data_dir / "keys.sqlite")
    info, token = store.create("write")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/statements", json=RECORD, headers=auth).status_code == 200
    store.revoke(info.id)
    _assert_problem(client.post("/api/v1/statements", json=RECORD, headers=auth), 401)


def test_keys_are_stored_hashed(data_dir: Path, keys: Keys) -> None:
    raw = (data_dir / "keys.sqlite").read_bytes()
    for token in (keys.read, keys.write, keys.admin):
        # tifa_<id>_<secret>; the secret is URL-safe base64, which may hold "_" itself.
        secret = token.split("_", 2)[2]
        assert len(secret) >= 40 and secret.encode() not in raw


def test_reads_are_open_by_default(client: TestClient) -> None:
    assert client.get("/api/v1/search", params={"q": "peace"}).status_code == 200


def test_key_only_reads(make_client: AppFactory, keys: Keys) -> None:
    client = make_client(read_access="key")
    _assert_problem(client.get("/api/v1/search", params={"q": "peace"}), 401)
    _assert_problem(client.get("/metrics"), 401)
    _assert_problem(client.get("/api/v1/search", headers=keys.auth("revoked")), 401)
    for scope in ("read", "write", "admin"):
        resp = client.get("/api/v1/search", params={"q": "peace"}, headers=keys.auth(scope))
        assert resp.status_code == 200
        assert resp.headers["cache-control"] == "no-store"
    # Probes stay open for the orchestrator.
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    # A read key still cannot write.
    _assert_problem(client.post("/api/v1/statements", json=RECORD, headers=keys.auth("read")), 403)


def test_cli_keys_create_list_revoke(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TIFA_DATA_DIR", str(data_dir))
    assert main(["keys", "create", "--scope", "write", "--name", "ci bot"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("tifa_")
    key_id = token.split("_")[1]
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "write" in listing and "ci bot" in listing
    assert token.rsplit("_", 1)[1] not in listing
    assert main(["keys", "revoke", key_id]) == 0
    assert main(["keys", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "revoke", "nosuchkey"]) == 2


def test_cli_refuses_an_unknown_scope(data_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "keys", "create", "--scope", "root"],
        capture_output=True,
        text=True,
        env={"TIFA_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
