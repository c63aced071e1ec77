"""Three real nodes, two market ones and a cooperative one, publish their signed research figures;
``asasap research collect`` fetches them, checks them and compares the two settings (the counts are
perturbed by the cell key method: each within its documented error)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from node.research.cellkey import MAX_CHANGE
from tests.support.databases import DatabaseFactory
from tests.support.nodes import Node, running_nodes

pytestmark = pytest.mark.process

PUBLISH = {"ASASAP_RESEARCH_PUBLISH": "true"}
INSERT_PROPOSAL = (
    "INSERT INTO proposals (ap_id, origin, author_uri, purpose, title, description, category, commune_name,"
    " postal_code, departement, state, search_text, published_at, updated_at) VALUES (:ap, '', :author,"
    " 'request', 'Ménage', '', 'menage', '', '', '', 'closed', '', :at, :at)"
)
INSERT_AGREEMENT = (
    "INSERT INTO agreements (ap_id, origin, proposal_ap_id, provider_uri, requester_uri, price_amount,"
    " price_currency, price_basis, quantity_hours, state, late_cancellation, dispute_reason, created_at,"
    " updated_at) VALUES (:ap, '', :proposal, :provider, :requester, :price, :currency, 'per_hour', 2,"
    " :state, false, '', :at, :at)"
)


@pytest.fixture(scope="module")
def market_and_cooperative(
    tmp_path_factory: pytest.TempPathFactory, database_factories: dict[str, DatabaseFactory]
) -> Iterator[list[Node]]:
    with running_nodes(
        tmp_path_factory.mktemp("research"),
        database_factories,
        ["sqlite", "postgresql", "sqlite"],
        PUBLISH,
        each_env=[{"ASASAP_MODE": "market"}, {"ASASAP_MODE": "cooperative"}, {"ASASAP_MODE": "market"}],
    ) as nodes:
        yield nodes


def last_month() -> datetime:
    first = datetime.now(UTC).replace(day=1, hour=10, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=3)


def seed(node: Node, states: list[str], currency: str, price: str) -> None:
    """One demand and one agreement per state, each between two people of their own, last month."""
    at = last_month()
    engine = create_engine(node.process.database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            for i, state in enumerate(states):
                requester, provider = f"{node.url}/users/r{i}", f"{node.url}/users/p{i}"
                proposal = f"{node.url}/proposals/research-{i}"
                connection.execute(
                    text(INSERT_PROPOSAL),
                    {"ap": proposal, "author": requester, "at": at},
                )
                connection.execute(
                    text(INSERT_AGREEMENT),
                    {
                        "ap": f"{node.url}/agreements/research-{i}",
                        "proposal": proposal,
                        "provider": provider,
                        "requester": requester,
                        "price": price,
                        "currency": currency,
                        "state": state,
                        "at": at + timedelta(hours=3),
                    },
                )
    finally:
        engine.dispose()


def near(value: object, true: float, error: float) -> bool:
    return value is not None and abs(float(str(value)) - true) <= error


def test_collect_compares_market_and_cooperative_nodes(
    market_and_cooperative: list[Node], tmp_path: Path
) -> None:
    market, coop, other = market_and_cooperative
    seed(market, ["completed"] * 6, "EUR", "20")
    seed(other, ["completed"] * 7, "EUR", "30")
    seed(coop, ["completed"] * 6 + ["cancelled"] * 2 + ["disputed"] * 3, "HOUR", "1")
    urls = [market.url, coop.url, other.url]
    done = market.process.cli("research", "collect", *urls, "--format", "json")
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)
    assert {(n["node"], n["mode"]) for n in table["nodes"]} == {
        (market.domain, "market"),
        (other.domain, "market"),
        (coop.domain, "cooperative"),
    }
    rows = {(r["indicator"], r["breakdown"]): r for r in table["rows"]}
    completed = rows["agreement_outcomes", "completed"]
    change = MAX_CHANGE
    # Thirteen completed agreements on two market nodes, each node's count within the noise; every
    # agreement is completed there, so the part and the total have the same records, hence the same noise.
    assert completed["market_nodes"] == 2 and near(completed["market_value"], 13, 2 * change)
    assert completed["market_share"] == "1.0000" and near(completed["market_people"], 26, 2 * change)
    # Eleven agreements: two cancellations (four people) are withheld, and the disputes with them (the
    # total minus the shown cells would give them away); six completed of eleven are shown, with an
    # interval widened to hold the noise, which holds the true share.
    assert completed["cooperative_nodes"] == 1 and near(completed["cooperative_value"], 6, change)
    # each of the part and the total moved by at most the noise's largest change, independently
    share = float(str(completed["cooperative_share"]))
    assert (6 - change) / (11 + change) <= share <= (6 + change) / (11 - change)
    assert completed["cooperative_ci_low"] < 6 / 11 < completed["cooperative_ci_high"]
    for withheld in ("cancelled", "disputed"):  # last month's cell is missing, not counted as zero
        assert rows["agreement_outcomes", withheld]["cooperative_withheld"] == 1
        assert rows["agreement_outcomes", withheld]["cooperative_value"] == "0.00"
    assert completed["cooperative_withheld"] == 0
    # Quartiles are values, not perturbed: the market's median is the median of its nodes' medians.
    assert rows["price_eur_hour", "median"]["market_value"] == "25.00"
    assert rows["price_eur_hour", "median"]["market_nodes"] == 2
    assert rows["price_eur_hour", "median"]["cooperative_value"] is None
    assert rows["token_rate", "median"]["cooperative_value"] == "1.00"
    # A node that cannot be reached is named and left out; the others are still compared.
    partial = market.process.cli(
        "research", "collect", coop.url, "http://127.0.0.1:9", "--output", str(tmp_path / "t.csv")
    )
    assert partial.returncode == 1 and "refused http://127.0.0.1:9" in partial.stderr
    assert (tmp_path / "t.csv").read_text().startswith("indicator,breakdown,market_value")
