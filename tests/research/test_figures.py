"""Figures from a real database (SQLite and PostgreSQL): what is read, opting out, the exports, the
signed document and its checks, and the pages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.accounts.models import Role, User
from node.activitypub.actors import local
from node.core.db import session_scope
from node.market.models import Agreement, Bid, Evaluation, Proposal
from node.research import collect, document, export, figures, views
from node.research.cellkey import MAX_CHANGE
from node.research.cells import Key
from node.research.document import DocumentRefused
from node.research.records import PeriodError
from node.settings import Settings
from tests.support.accounts import PASSWORD, make_user
from tests.support.pages import login, post_form

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
NOV = datetime(2026, 11, 3, 10, tzinfo=UTC)


def seed(engine: Engine, settings: Settings, people: int = 7) -> list[User]:
    """``people`` requesters each with a demand in November, answered by one provider, agreed at 20 €/h
    (one at 40 €/h), completed, and evaluated 5 by the requester."""
    users = [make_user(engine, f"req{i}") for i in range(people)]
    provider = make_user(engine, "prov")
    prov_uri = local.person(settings, provider).uri
    with session_scope(engine, write=True) as session:
        for i, user in enumerate(users):
            uri = local.person(settings, user).uri
            p = Proposal(
                ap_id=settings.url(f"/proposals/{i}"),
                author_uri=uri,
                local_author_id=user.id,
                purpose="request",
                title="Ménage",
                category="menage",
                published_at=NOV + timedelta(hours=i),
            )
            session.add(p)
            session.flush()
            assert p.id is not None
            session.add(
                Bid(
                    ap_id=settings.url(f"/bids/{i}"),
                    proposal_id=p.id,
                    bidder_uri=prov_uri,
                    local_bidder_id=provider.id,
                    created_at=NOV + timedelta(hours=i + 2),
                )
            )
            a = Agreement(
                ap_id=settings.url(f"/agreements/{i}"),
                proposal_id=p.id,
                proposal_ap_id=p.ap_id,
                provider_uri=prov_uri,
                requester_uri=uri,
                local_provider_id=provider.id,
                local_requester_id=user.id,
                price_amount=Decimal(40 if i == 0 else 20),
                price_currency="EUR",
                price_basis="per_hour",
                quantity_hours=Decimal(2),
                state="completed",
                created_at=NOV + timedelta(hours=i + 5),
            )
            session.add(a)
            session.flush()
            session.add(
                Evaluation(
                    ap_id=settings.url(f"/evaluations/{i}"),
                    agreement_id=a.id,
                    agreement_ap_id=a.ap_id,
                    evaluator_uri=uri,
                    evaluated_uri=prov_uri,
                    evaluated_role="provider",
                    overall=5,
                    state="published",
                    published_at=NOV + timedelta(days=2),
                )
            )
    return users


def cells_of(engine: Engine, settings: Settings) -> dict[Key, Any]:
    with session_scope(engine) as session:
        computed = figures.compute(session, settings, ["2026-11"], now=NOW)
    return {c.key: c for c in computed.cells}


def key(indicator: str, breakdown: str) -> Key:
    return Key("2026-11", "local", indicator, breakdown)


def near(published: object, true: int) -> bool:
    """A published count is the true one moved by the cell key method's noise, at most MAX_CHANGE."""
    return published is not None and abs(Decimal(str(published)) - true) <= MAX_CHANGE


def test_figures_from_the_database(engine: Engine, settings: Settings) -> None:
    seed(engine, settings, people=7)
    cells = cells_of(engine, settings)
    assert near(cells[key("proposals", "request:menage")].value, 7)
    assert near(cells[key("demand_answers", "answered")].value, 7)
    assert cells[key("first_answer_hours", "median")].value == 2  # quartiles are values, not perturbed
    completed = cells[key("agreement_outcomes", "completed")]
    assert near(completed.value, 7) and completed.share == 1
    assert completed.value == cells[key("agreement_outcomes", "*")].value  # same records, same key
    assert cells[key("price_eur_hour", "median")].value == 20
    # The quartiles carry the published count of their population.
    assert cells[key("price_eur_hour", "median")].items == cells[key("agreement_pricing", "euros")].value
    assert near(cells[key("evaluations", "provider:5")].value, 7)
    assert near(cells[key("evaluations", "provider:5")].people, 8)  # seven evaluators and the provider
    assert cells == cells_of(engine, settings)  # the same records give the same figures, every time


def test_opting_out_recomputes_without_the_person_and_withholds_what_becomes_small(
    engine: Engine, settings: Settings
) -> None:
    users = seed(engine, settings, people=5)
    assert cells_of(engine, settings)[key("price_eur_hour", "median")].value == 20
    with session_scope(engine, write=True) as session:
        figures.set_opt_out(session, users[0].pk, True)
    cells = cells_of(engine, settings)
    # Five requesters and a provider: without one, 4 + 1 = 5 people still, the counts lose one each.
    assert near(cells[key("agreement_outcomes", "completed")].value, 4)
    assert cells[key("price_eur_hour", "median")].shown is False  # quartiles need k = 5 values
    with session_scope(engine, write=True) as session:
        figures.set_opt_out(session, users[1].pk, True)
        assert figures.is_opted_out(session, users[1].pk)
    cells = cells_of(engine, settings)
    # Three requesters and the provider: fewer than 5 people, every count of November withheld.
    assert not cells[key("agreement_outcomes", "completed")].shown
    assert not cells[key("agreement_outcomes", "*")].shown
    assert not cells[key("proposals", "request:menage")].shown


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-13", "2026-11", "not a month"),
        ("2026-11", "2026-01", "reversed"),
        ("1990-01", "2026-11", "at most"),
        ("2026-11", "2027-02", "after the current month"),
        ("", "2026-11", "not a month"),
    ],
)
def test_bad_periods_are_refused(first: str, last: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        figures.period(first, last, now=NOW)


def test_the_default_period_is_the_last_twelve_months() -> None:
    months = figures.period(None, None, now=NOW)
    assert months[0] == "2026-01" and months[-1] == "2026-12" and len(months) == 12


def test_exports_carry_the_dictionary(engine: Engine, settings: Settings) -> None:
    seed(engine, settings)
    with session_scope(engine) as session:
        computed = figures.compute(session, settings, ["2026-11"], now=NOW)
    data = export.to_json(computed)
    assert data["k"] == 5 and data["mode"] == "market"
    assert {entry["name"] for entry in data["dictionary"]} >= {"price_eur_hour", "agreement_outcomes"}
    assert all(entry["unit"] and entry["population"] and entry["suppression"] for entry in data["dictionary"])
    lines = export.figures_csv(computed).splitlines()
    assert lines[0] == ",".join(export.COLUMNS)
    assert any(line.startswith("2026-11,local,price_eur_hour,median,20.00,,") for line in lines)
    assert data["noise"]["method"] == "cell-key" and data["noise"]["maxChange"] == MAX_CHANGE
    assert (
        export.dictionary_csv(5)
        .splitlines()[0]
        .startswith("name,title,definition_fr,definition,unit,population")
    )


def test_the_signed_document_verifies_and_tampering_is_refused(engine: Engine, settings: Settings) -> None:
    seed(engine, settings)
    with session_scope(engine, write=True) as session:
        signed = document.build(session, settings, now=NOW)
        node = local.node_actor(settings)
        key_pem = local.private_key(settings, node, session=session).public_key()
    from cryptography.hazmat.primitives import serialization

    pem = key_pem.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    actor_key = (node.key_id, pem)
    document.check_signature(signed, settings.base_url, actor_key)
    assert document.check_figures(signed)
    assert signed["from"] == "2025-12" and signed["to"] == "2026-11"
    tampered = json.loads(json.dumps(signed))
    cell = next(
        c for c in tampered["figures"] if c["indicator"] == "price_eur_hour" and c["breakdown"] == "median"
    )
    cell["value"] = "25.00"
    with pytest.raises(DocumentRefused, match="signature"):
        document.check_signature(tampered, settings.base_url, actor_key)
    with pytest.raises(DocumentRefused, match="another node"):
        document.check_signature({**signed, "node": "elsewhere.example"}, settings.base_url, actor_key)
    # Figures that fail their own totals, or show a cell from fewer than k people, are refused.
    broken = json.loads(json.dumps(signed))
    total = next(
        c
        for c in broken["figures"]
        if c["indicator"] == "agreement_outcomes" and c["breakdown"] == "*" and c["month"] == "2026-11"
    )
    total["value"] = "100"  # beyond what the declared noise allows
    with pytest.raises(DocumentRefused, match="add up"):
        document.check_figures(broken)
    small = json.loads(json.dumps(signed))
    small["figures"][0] = {**small["figures"][0], "value": "1", "people": 2, "suppressed": None}
    with pytest.raises(DocumentRefused, match="fewer than k"):
        document.check_figures(small)
    with pytest.raises(DocumentRefused, match="noise"):  # noise so large that figures mean nothing
        document.check_figures({**signed, "noise": {"method": "cell-key", "maxChange": 50}})


def test_pages(engine: Engine, settings: Settings, client: TestClient) -> None:
    users = seed(engine, settings)
    page = client.get("/research")
    assert page.status_code == 200 and "<svg" in page.text
    assert client.get("/research/figures").status_code == 404  # the node does not publish
    login(client, users[0].username, PASSWORD)
    assert client.get("/research/coordination").status_code == 403
    assert client.get("/settings/research").status_code == 200
    answer = post_form(client, "/settings/research", {"opt_out": "on"})
    assert answer.status_code == 303
    with session_scope(engine) as session:
        assert figures.is_opted_out(session, users[0].pk)
    assert "checked" in client.get("/settings/research").text
    # The choice is in the person's export of their data.
    exported = client.get("/settings/export").json()["research_figures"]
    assert exported["opted_out"] is True and exported["opted_out_at"]
    post_form(client, "/settings/research", {})
    with session_scope(engine) as session:
        assert not figures.is_opted_out(session, users[0].pk)


def test_coordinators_export_and_bad_ranges_change_nothing(
    engine: Engine, settings: Settings, client: TestClient
) -> None:
    seed(engine, settings)
    make_user(engine, "coord", Role.COORDINATOR)
    login(client, "coord", PASSWORD)
    page = client.get("/research/coordination?from=2026-11&to=2026-11")
    assert page.status_code == 200 and "price_eur_hour" in page.text
    csv_file = client.get("/research/export?format=csv&from=2026-11&to=2026-11")
    assert csv_file.status_code == 200 and csv_file.text.startswith("month,scope,indicator")
    data = client.get("/research/export?format=json&from=2026-11&to=2026-11").json()
    assert data["dictionary"] and data["from"] == "2026-11"
    assert client.get("/research/export?format=dictionary").text.startswith("name,title")
    assert client.get("/research/export?from=2026-11&to=2026-01").status_code == 400
    assert client.get("/research/export?format=xml").status_code == 400
    assert client.get("/research/coordination?from=2026-11&to=2026-01").status_code == 400


def test_researchers_read_the_exports(engine: Engine, settings: Settings, client: TestClient) -> None:
    make_user(engine, "chercheuse", Role.RESEARCHER)
    login(client, "chercheuse", PASSWORD)
    assert client.get("/research/coordination").status_code == 200
    assert client.get("/research/export?format=dictionary").status_code == 200


def test_a_publishing_node_links_its_figures_from_nodeinfo(engine: Engine, settings: Settings) -> None:
    from node.app import create_app

    publishing = settings.replace(research_publish=True)
    with TestClient(create_app(publishing, engine=engine), base_url="http://testserver") as client:
        info = client.get("/nodeinfo/2.1").json()
        assert info["metadata"]["researchFigures"] == "http://testserver/research/figures"
        signed = client.get("/research/figures", headers={"Accept": "application/activity+json"})
        assert signed.status_code == 200 and signed.json()["proof"]["proofValue"]


def test_an_opt_out_on_the_page_shows_at_once_despite_the_cache(
    engine: Engine, settings: Settings, client: TestClient
) -> None:
    users = seed(engine, settings, people=5)
    make_user(engine, "coord", Role.COORDINATOR)
    login(client, "coord", PASSWORD)
    url = "/research/export?format=json&from=2026-11&to=2026-11"

    def median_price() -> object:
        cells = client.get(url).json()["figures"]
        return next(
            c.get("suppressed") or c["value"]
            for c in cells
            if c["indicator"] == "price_eur_hour" and c["breakdown"] == "median" and c["scope"] == "local"
        )

    assert median_price() == "20.00"
    with TestClient(client.app, base_url="http://testserver", follow_redirects=False) as person:
        login(person, users[0].username, PASSWORD)
        assert post_form(person, "/settings/research", {"opt_out": "on"}).status_code == 303
    assert median_price() == "primary"  # computed afresh without them: four prices are too few


def test_the_cache_keeps_figures_for_a_while() -> None:
    computed = figures.Figures("n.example", "market", 5, ["2026-11"], [], NOW)
    cache = figures.Cache(seconds=60)
    assert cache.get(["2026-11"]) is None
    cache.put(computed)
    assert cache.get(["2026-11"]) is computed and cache.get(["2026-10"]) is None
    cache.clear()
    assert cache.get(["2026-11"]) is None
    expired = figures.Cache(seconds=-1)
    expired.put(computed)
    assert expired.get(["2026-11"]) is None


def test_an_opted_out_person_is_in_no_month_at_all(engine: Engine, settings: Settings) -> None:
    """Leaving applies to every month, those before the choice included, so no month of an export keeps
    them while another leaves them out (subtracting one month from another isolates nobody)."""
    from node.research import indicators, reading

    users = seed(engine, settings, people=6)
    leaver = local.person(settings, users[0]).uri
    with session_scope(engine, write=True) as session:
        october = Proposal(
            ap_id=settings.url("/proposals/october"),
            author_uri=leaver,
            local_author_id=users[0].id,
            purpose="offer",
            title="Repassage",
            category="repassage",
            published_at=NOV - timedelta(days=30),
        )
        session.add(october)
    with session_scope(engine) as session:
        before = reading.read(session, settings, datetime(2026, 12, 1, tzinfo=UTC))
    raw = indicators.compute(before, ["2026-10", "2026-11"], cooperative=False)
    assert {c.key.month for c in raw if leaver in c.people} == {"2026-10", "2026-11"}
    with session_scope(engine, write=True) as session:
        figures.set_opt_out(session, users[0].pk, True)
    with session_scope(engine) as session:
        after = reading.read(session, settings, datetime(2026, 12, 1, tzinfo=UTC))
    raw = indicators.compute(after, ["2026-10", "2026-11"], cooperative=False)
    assert not [c.key for c in raw if leaver in c.people]
    assert len(after.agreements) == len(before.agreements) - 1
    assert len(after.evaluations) == len(before.evaluations) - 1
    assert not any(leaver in (p.author, *(who for who, _ in p.answers)) for p in after.proposals)


def collected(node: str, mode: str, completed: int, total: int) -> collect.Collected:
    def cell(breakdown: str, value: int) -> dict[str, Any]:
        return {
            "month": "2026-11",
            "scope": "local",
            "indicator": "agreement_outcomes",
            "breakdown": breakdown,
            "value": str(value),
            "items": value,
            "people": 2 * value,
            "suppressed": None,
        }

    cells = [cell("completed", completed), cell("*", total)]
    return collect.Collected(f"https://{node}", node, mode, node.upper(), cells, max_change=2)


def test_the_pages_compare_market_and_cooperative_nodes(
    engine: Engine, settings: Settings, client: TestClient
) -> None:
    """What ``collect --save`` kept is shown side by side, with the share's interval (widened for the
    noise), the nodes and person-months behind it; without it, the pages say nothing of a comparison."""
    seed(engine, settings)
    assert "rs-compare" not in client.get("/research").text
    found = [collected("a.example", "market", 30, 40), collected("b.example", "market", 20, 30)]
    found.append(collected("c.example", "cooperative", 45, 50))
    rows = collect.compare(found)
    collect.save(settings.data_dir, found, rows, "2026-12-07T09:00:00Z")
    page = client.get("/research")
    assert page.status_code == 200 and 'id="rs-compare"' in page.text
    comparison = views.comparison(collect.load(settings.data_dir))
    assert comparison is not None and comparison.modes == ["market", "cooperative"]
    (row,) = [r for r in comparison.rows if r.indicator.name == "agreement_outcomes"]
    market, cooperative = row.sides
    assert market.value == "50.00" and market.share == 0.7143 and market.nodes == 2 and market.people == 100
    assert market.low is not None and market.high is not None and market.low < 0.7143 < market.high
    assert cooperative.share == 0.9 and cooperative.nodes == 1
    assert "A.EXAMPLE" in page.text and "C.EXAMPLE" in page.text
    (settings.data_dir / collect.COMPARISON_FILE).write_text("not json", encoding="utf-8")
    assert client.get("/research").status_code == 200  # a damaged file is no comparison, not an error
