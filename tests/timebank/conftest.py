"""After every time-bank test that has a node's database, the zero-sum check runs on it (the entries
sum to zero, each balance is the sum of its entries, holds match the transfers in flight, every
balance within its limits)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from node.settings import Settings
from tests.support.timebank import assert_ledger_ok, cooperative


@pytest.fixture
def coop(settings: Settings) -> Settings:
    """The test node, cooperative."""
    return cooperative(settings)


@pytest.fixture(autouse=True)
def zero_sum(request: pytest.FixtureRequest) -> Iterator[None]:
    if "engine" not in request.fixturenames or "settings" not in request.fixturenames:
        yield
        return
    # Asked for before the test runs, so that they are torn down after this check.
    engine: Engine = request.getfixturevalue("engine")
    settings: Settings = request.getfixturevalue("settings")
    yield
    assert_ledger_ok(engine, cooperative(settings))
