"""The README's examples work as written: its `curl` lines are run with the real curl
against a real `tifa serve` over the test slices (a new user copies them first)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.reliability.server import Server

ROOT = Path(__file__).parents[2]


def _readme_curls() -> list[str]:
    """The curl commands of the README's first shell block after 'Try, while'."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Try, while.*?```sh\n(.*?)```", text, re.S)
    assert block is not None, "the README's 'Try' block is gone"
    return [line for line in block.group(1).splitlines() if line.startswith("curl ")]


def test_the_readme_has_curl_examples() -> None:
    curls = _readme_curls()
    assert len(curls) >= 3
    assert any(re.search(r"[^\x00-\x7f]", c) for c in curls)  # a Chinese query among them


def test_the_readme_curl_examples_answer(tmp_path: Path, slice_data_dir: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("curl is not installed: the README's examples use it")
    data = tmp_path / "data"
    shutil.copytree(slice_data_dir, data)
    with Server(data) as server:
        for command in _readme_curls():
            # -f: an HTTP error (400 for a query the server cannot read) fails the command.
            line = command.replace("http://127.0.0.1:8000", server.url)
            line = line.replace("curl -s ", "curl -sS -f ", 1)
            run = subprocess.run(
                ["bash", "-c", line], cwd=tmp_path, capture_output=True, text=True, timeout=60
            )
            assert run.returncode == 0, f"{command}\n{run.stderr}"
    assert (tmp_path / "kwic.csv").read_text(encoding="utf-8").startswith("id,date,title")
