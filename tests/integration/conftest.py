"""Real nodes for the integration tests, started once per module: A and B on SQLite, and the last node
on PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set (as in CI), on SQLite otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.databases import DatabaseFactory
from tests.support.nodes import Node, running_nodes


@pytest.fixture(scope="module")
def two_nodes(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[list[Node]]:
    """Nodes A (SQLite) and B (PostgreSQL when configured)."""
    with running_nodes(
        tmp_path_factory.mktemp("nodes"), database_factories, ["sqlite", "postgresql"]
    ) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def three_nodes(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[list[Node]]:
    """Nodes A and B (SQLite) and C (PostgreSQL when configured)."""
    with running_nodes(
        tmp_path_factory.mktemp("nodes"), database_factories, ["sqlite", "sqlite", "postgresql"]
    ) as nodes:
        yield nodes
