"""The repository stands on its own: nothing in it reads a path outside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {
    ".git",
    ".venv",
    "var",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "build",
    "dist",
}
# A relative path to a sibling "shared" folder, or Path pieces climbing out of the repository to it.
OUTSIDE = re.compile(r"\.\.[/\\]shared\b|[\"']\.\.[\"']\s*/\s*[\"']shared[\"']")


def _files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        if path.is_file() and not SKIPPED.intersection(path.relative_to(ROOT).parts):
            found.append(path)
    return found


def test_no_file_reads_outside_the_repository() -> None:
    offenders = []
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary data (the gazetteer, images)
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_check_finds_what_it_looks_for() -> None:
    climbing = "VECTORS = ROOT / " + '".."' + ' / "shared" / "vectors"'
    assert OUTSIDE.search(climbing)
    assert OUTSIDE.search("see " + ".." + "/shared/vectors/README.md")
    assert not OUTSIDE.search("endpoints.sharedInbox and a shared inbox")
