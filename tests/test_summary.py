"""The closing line of a test run counts each test once, alone and spread over pytest-xdist workers:
a real pytest run over a small suite of tests marked as ours are."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
import pytest

@pytest.mark.process
@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"])
def test_node(database_url):
    pass

@pytest.mark.browser
@pytest.mark.process
def test_page():
    pass

@pytest.mark.parametrize("n", range(6))
def test_plain(n):
    pass

@pytest.mark.process
def test_that_fails():
    assert False

@pytest.mark.skip(reason="not here")
def test_skipped():
    pass
"""

CONFTEST = """
from tests.support.summary import summary_line

def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(summary_line(terminalreporter.stats))
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_summary_counts_each_test_once(tmp_path: Path, workers: str) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    browser: b\n    process: p\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", workers, "-p", "no:cacheprovider", "-q", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 1, run.stdout + run.stderr  # the failing test
    lines = run.stdout.splitlines()
    assert "ran 10 tests: 1 on PostgreSQL, 1 in Chromium, 4 with real node processes; 1 skipped" in lines, (
        run.stdout
    )
    assert any(line.startswith("1 failed, 9 passed, 1 skipped") for line in lines), run.stdout
