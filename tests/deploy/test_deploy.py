"""The deployment files run what the tests run: the Dockerfile's and compose's commands are
parsed and executed here for real (no Docker engine on these machines), and `./run serve`
uses the same ones."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).parents[2]


def _dockerfile_commands() -> list[list[str]]:
    cmd_line = next(
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD")
    )
    argv = json.loads(cmd_line[len("CMD") :])
    assert argv[:2] == ["sh", "-c"]
    commands = []
    for part in argv[2].split("&&"):
        words = shlex.split(part.replace("exec ", ""))
        commands.append(words)
    return commands


def test_dockerfile_runs_the_readme_commands() -> None:
    ingest, serve = _dockerfile_commands()
    assert ingest == ["tifa", "ingest", "corpus/statements", "--if-changed", "--quiet"]
    assert serve[:2] == ["tifa", "serve"]
    run = (ROOT / "run").read_text()
    assert ".venv/bin/tifa ingest corpus/statements --if-changed --quiet" in run
    assert "exec .venv/bin/tifa serve" in run
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER tifa" in dockerfile and "HEALTHCHECK" in dockerfile and "/readyz" in dockerfile


def test_compose_wires_elasticsearch_ingest_and_api() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"elasticsearch", "ingest", "api"}
    assert services["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/")
    for name in ("ingest", "api"):
        env = services[name]["environment"]
        assert env["TIFA_BACKEND"] == "elasticsearch"
        assert env["TIFA_ES_URL"] == "http://elasticsearch:9200"
    assert services["ingest"]["command"][:3] == ["tifa", "ingest", "corpus/statements"]
    assert services["api"]["command"][:2] == ["tifa", "serve"]
    assert services["api"]["depends_on"]["ingest"]["condition"] == (
        "service_completed_successfully"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_image_commands_serve_the_bundled_corpus(tmp_path: Path) -> None:
    """Run the Dockerfile's two commands as the image would (here with the venv's tifa):
    ingest the whole bundled corpus, then serve it with uvicorn and ask it."""
    ingest, serve = _dockerfile_commands()
    tifa = str(Path(sys.executable).with_name("tifa"))
    port = _free_port()
    env = {
        **os.environ,
        "TIFA_DATA_DIR": str(tmp_path),
        "TIFA_HOST": "127.0.0.1",
        "TIFA_PORT": str(port),
    }
    done = subprocess.run(
        [tifa, *ingest[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rejected 0" in done.stdout
    again = subprocess.run(
        [tifa, *ingest[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert "unchanged since the last ingest" in again.stdout
    argv = [tifa, "serve", "--host", "127.0.0.1", "--port", str(port)]
    assert serve[2] == "--host"
    with subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as server:
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the service never became ready"
                time.sleep(0.3)
            r = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/search",
                params={"q": '"strategic partnership"'},
                timeout=60,
            )
            body = r.json()
            assert r.status_code == 200 and body["total"]["statements"] > 100
            kremlin = [h for h in body["results"] if h["id"].startswith("kremlin-")]
            assert kremlin and all(h["url"] and "CC BY 4.0" in h["license"] for h in kremlin)
        finally:
            server.terminate()
            server.wait(timeout=30)
