"""The line the test run ends with: how many tests ran on PostgreSQL, in Chromium and with real node
processes, so that CI shows they were not skipped. Counted from the reports the terminal reporter
holds, which under pytest-xdist are the workers' reports as the controller received them: each test
once, whichever worker ran it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def summary_line(stats: Mapping[str, Sequence[Any]]) -> str:
    """``ran N tests: X on PostgreSQL, Y in Chromium, Z with real node processes; S skipped``."""
    reports = [r for key in ("passed", "failed") for r in stats.get(key, []) if r.when == "call"]
    postgres = sum(1 for r in reports if "[postgresql" in r.nodeid)
    browser = sum(1 for r in reports if "browser" in r.keywords)
    process = sum(1 for r in reports if "process" in r.keywords)
    skipped = len(stats.get("skipped", []))
    return (
        f"ran {len(reports)} tests: {postgres} on PostgreSQL, {browser} in Chromium, "
        f"{process} with real node processes; {skipped} skipped"
    )
