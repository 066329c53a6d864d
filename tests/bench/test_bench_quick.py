"""The benchmark's correctness gate in quick mode on the slices in tests/data: proves the
benchmark code (datasets, child-process ingest, exact scan, gate) works, with no timing
assertions."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import main

DATA = Path(__file__).resolve().parents[1] / "data"


def test_quick_gate_passes_on_the_test_slices(tmp_path: Path) -> None:
    code = main(["--quick", "--gate-only", "--shared", str(DATA), "--var", str(tmp_path / "bench")])
    assert code == 0


def test_gate_fails_on_a_wrong_count(tmp_path: Path) -> None:
    from bench.baselines import ExactScan
    from bench.datasets import Table
    from bench.workloads import GateResult, Q, gate
    from indexer.backends.embedded import EmbeddedBackend
    from indexer.ingest import ingest
    from tests.conftest import make_statement

    backend = EmbeddedBackend(tmp_path / "index")
    ingest(backend, [make_statement("a", "of the of the of the", "2020-01-01")])
    # The table claims one more occurrence than the index holds: the gate must say so.
    table = Table(["a", "a"], [2020, 2020], ["x", "y"], ["of the of the of the", "of the"], 1)
    result = GateResult()
    gate("test", backend, ExactScan(table), [Q("of the", "common pair")], result)
    backend.close()
    assert not result.ok
    assert "totals" in result.failures[0]
