"""Schemathesis against the OpenAPI schema: generated requests to every operation must
never get a 5xx, and every response must match what the schema declares (status, media
type, body). A few hundred requests in CI; thousands in the soak run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.main import create_app
from tests.security.conftest import CORPUS, Keys, make_keys

SOAK = os.environ.get("TIFA_SOAK") == "1"
PER_OPERATION = int(os.environ.get("TIFA_SCHEMATHESIS_EXAMPLES", "200" if SOAK else "25"))
# A whole-corpus n-gram scan (`/discover?mode=ngrams`) takes 14-46 s on the test slices:
# past the deadline it answers 504 by design, and its abandoned work would slow every
# later request of a short run. The soak run includes it and tolerates deadline 504s.
SKIP_IN_CI = {"GET /api/v1/discover"}
DEADLINE_S = 3.0


DEADLINE_HITS: list[str] = []
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, slice_data_dir: Path) -> tuple[object, Keys]:
    import shutil

    data_dir = tmp_path_factory.mktemp("schemathesis")
    shutil.copytree(slice_data_dir / "index", data_dir / "index")
    keys = make_keys(data_dir)
    app = create_app(Settings(data_dir=data_dir, corpus_dir=CORPUS, request_timeout_s=DEADLINE_S))
    return app, keys


def test_api_conforms_and_never_fails(api: tuple[object, Keys]) -> None:
    # Schemathesis's own pytest plugin does not run under this pytest; its Python API
    # does, one Hypothesis run per operation.
    app, keys = api
    # A write key: writes are exercised for real (on a private copy of the index);
    # reindex answers 403 to it, which keeps the expensive rebuild out of the loop.
    auth = keys.auth("write")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: dict[str, str] = {}
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not SOAK and operation.label in SKIP_IN_CI:
            continue

        @settings(
            max_examples=PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            response = case.call(headers=auth)
            if response.status_code == 504 and "took longer than" in response.text:
                # The deadline answered, as designed (see SKIP_IN_CI); counted, reported.
                DEADLINE_HITS.append(case.operation.label)
                return
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as exc:
            failures[operation.label] = str(exc)[:2000]
    print(
        f"schemathesis: {calls} requests; deadline 504s: {len(DEADLINE_HITS)} {set(DEADLINE_HITS)}"
    )
    assert calls >= PER_OPERATION * 5
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
