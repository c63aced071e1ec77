"""The tests' own layout: what test modules share lives in ``tests/support`` (and fixtures in
``conftest.py`` files); no test module imports another, so that each can move or be rewritten alone."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SHARED = ("tests.support", "tests.conftest")


def imported_test_modules(source: str) -> list[str]:
    """The ``tests.*`` modules ``source`` imports, other than the shared ones."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [
        name
        for name in names
        if (name == "tests" or name.startswith("tests."))
        and not any(name == shared or name.startswith(shared + ".") for shared in SHARED)
    ]


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if (found := imported_test_modules(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_check_finds_what_it_looks_for() -> None:
    assert imported_test_modules("from tests.integration.test_federation_nodes import Node") == [
        "tests.integration.test_federation_nodes"
    ]
    assert imported_test_modules("import tests.market.evaluations.test_service as s") == [
        "tests.market.evaluations.test_service"
    ]
    assert imported_test_modules("from tests.support.nodes import Node\nfrom tests.conftest import x") == []
    assert imported_test_modules("from tests.supporting import x") == ["tests.supporting"]
