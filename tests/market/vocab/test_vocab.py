"""FEP-0837 documents and our extensions: the FEP's own examples, round trips, tolerance, refusals."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from node.activitypub import vocab as as_vocab
from node.market.lifecycles import ProposalState
from node.market.money import Price
from node.market.schedule import TimeWindow, WeeklyRecurrence
from node.market.vocab import (
    CONTEXT,
    EURO,
    TIME_TOKEN,
    AgreementDoc,
    AgreementEvent,
    BidAccept,
    BidOffer,
    BidReject,
    BidWithdrawal,
    CommuneRef,
    EvaluationDoc,
    ProposalDoc,
    ProposalLink,
    Receipt,
    VocabError,
    accept_from_json,
    accept_to_json,
    agreement_event_from_json,
    agreement_event_to_json,
    classify_activity,
    evaluation_from_json,
    evaluation_to_json,
    offer_from_json,
    offer_to_json,
    proposal_from_json,
    proposal_link_to_json,
    proposal_links_from_actor,
    proposal_to_json,
    receipt_from_json,
    receipt_to_json,
    reject_from_json,
    reject_to_json,
    withdrawal_from_json,
    withdrawal_to_json,
)
from node.places.gazetteer import default_gazetteer
from tests.support.data import FEP_0837

VECTORS = FEP_0837
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
FEP_PROPOSAL = "https://market.example/proposals/ddde9d6f-6f3b-4770-a966-3a18ef006930"
FEP_OFFER = "https://social.example/objects/fc4af0d2-c3a1-409b-947c-3c5be29f49b0/offer"
FEP_AGREEMENT = "https://market.example/agreements/edc374aa-e580-4a58-9404-f3e8bf8556b2"

A = "https://montreuil.example"
B = "https://bagnolet.example"
ALICE = f"{A}/users/alice"
BOB = f"{B}/users/bob"
PROPOSAL = f"{A}/proposals/5b7c1d2e"
AGREEMENT = f"{A}/agreements/9f3a"
T0 = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

Change = Callable[[dict[str, Any]], object]

# ActivityStreams terms we use, defined by the remote context everybody already knows.
AS_TERMS = {
    "@context",
    "type",
    "id",
    "actor",
    "object",
    "result",
    "attributedTo",
    "context",
    "name",
    "content",
    "mediaType",
    "published",
    "updated",
    "location",
    "latitude",
    "longitude",
    "startTime",
    "endTime",
    "to",
    "cc",
    "href",
    "rel",
}


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _keys(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "@context":
                continue
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def assert_wire_ready(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-serialisable, with the inline context defining every term that is not ActivityStreams'."""
    assert data["@context"][0] == "https://www.w3.org/ns/activitystreams"
    inline = data["@context"][1]
    assert isinstance(inline, dict) and len(data["@context"]) == 2  # no remote context of ours
    for key in _keys(data):
        assert key in AS_TERMS or key in inline, key
    decoded: dict[str, Any] = json.loads(json.dumps(data))
    return decoded


# --- the FEP's own examples ---------------------------------------------------------------------


def test_all_seven_examples_are_present() -> None:
    assert sorted(p.name for p in VECTORS.iterdir() if p.suffix == ".json") == [
        "accept-agreement.json",
        "actor-payment-link.json",
        "offer-agreement.json",
        "proposal-full.json",
        "proposal-minimal.json",
        "receipt.json",
        "reject.json",
    ]


def test_minimal_proposal() -> None:
    doc = proposal_from_json(load("proposal-minimal.json"))
    assert doc == ProposalDoc(
        id=FEP_PROPOSAL, attributed_to="https://market.example/users/alice", purpose="offer", to=(PUBLIC,)
    )
    assert doc.category is None and doc.schedule is None and doc.quantity is None and doc.price is None
    assert doc.state is ProposalState.OPEN and doc.raw["type"] == "Proposal"


def test_full_proposal() -> None:
    doc = proposal_from_json(load("proposal-full.json"))
    assert doc.name == "Offering used bike"
    assert doc.content == "Blue one-speed bike, 15 years old, some rust"
    assert doc.published == datetime(2023, 6, 18, 19, 22, 3, 918737, tzinfo=UTC)
    assert doc.commune == CommuneRef(name="", latitude=25.0, longitude=-71.0)
    # A bike counted in "one" and a price in US dollars (Q4917): nothing we can hold as hours or euros.
    assert doc.quantity is None and doc.price is None and doc.currency is None
    assert doc.reciprocal_intent is None


def test_offer_agreement() -> None:
    offer = offer_from_json(load("offer-agreement.json"))
    expected = AgreementDoc(
        primary_intent=FEP_PROPOSAL + "#primary", reciprocal_intent=FEP_PROPOSAL + "#reciprocal"
    )
    assert offer == BidOffer(
        id=FEP_OFFER,
        actor="https://social.example/users/bob",
        agreement=expected,
        to=("https://market.example/users/alice",),
    )
    assert offer.agreement.proposal == FEP_PROPOSAL
    # The proposal's node knows its currency; the commitment does not say it.
    priced = offer_from_json(load("offer-agreement.json"), default_currency="EUR")
    assert priced.agreement.price == Price(Decimal("30"), "EUR", "total")


def test_accept_agreement() -> None:
    accept = accept_from_json(load("accept-agreement.json"), default_currency="EUR")
    assert isinstance(accept, BidAccept)
    assert accept.id == "https://market.example/activities/059f08fa-31b1-4136-8d76-5987d705a0ab"
    assert accept.actor == "https://market.example/users/alice"
    assert accept.offer_id == FEP_OFFER
    assert accept.to == ("https://social.example/users/bob",)
    assert accept.agreement.id == FEP_AGREEMENT
    assert accept.agreement.attributed_to == "https://market.example/users/alice"
    assert accept.agreement.primary_intent == FEP_PROPOSAL + "#primary"
    assert accept.agreement.price == Price(Decimal("30"), "EUR", "total")


def test_reject() -> None:
    reject = reject_from_json(load("reject.json"))
    assert reject == BidReject(
        id="https://market.example/activities/8c05f97f-1531-4b70-9ca8-4ee4a09f36a4",
        actor="https://market.example/users/alice",
        offer_id=FEP_OFFER,
        reason="Not available",
        to=("https://social.example/users/bob",),
    )


def test_receipt() -> None:
    receipt = receipt_from_json(load("receipt.json"))
    assert receipt == Receipt(
        id="https://market.example/receipts/ad2f7ee1-6567-413e-a10b-72650cbdc743",
        activity_id="https://market.example/receipts/ad2f7ee1-6567-413e-a10b-72650cbdc743/create",
        actor="https://market.example/users/alice",
        agreement=FEP_AGREEMENT,
        to=("https://social.example/users/bob",),
        published=datetime(2023, 7, 3, 14, 13, 41, 843794, tzinfo=UTC),
    )


def test_actor_payment_link_is_recognised_not_mistaken_for_a_proposal() -> None:
    actor = load("actor-payment-link.json")
    assert proposal_links_from_actor(actor) == (ProposalLink(href=FEP_PROPOSAL, name="Buy a bike"),)
    with pytest.raises(VocabError, match="Person"):
        proposal_from_json(actor)
    assert classify_activity(actor) is None
    # The same link, written by us, reads back.
    mine = {
        "type": "Person",
        "attachment": [{"type": "PropertyValue"}, proposal_link_to_json(PROPOSAL, "Repassage")],
    }
    assert proposal_links_from_actor(mine) == (ProposalLink(PROPOSAL, "Repassage"),)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("proposal-minimal.json", "proposal"),
        ("proposal-full.json", "proposal"),
        ("offer-agreement.json", "offer"),
        ("accept-agreement.json", "accept"),
        ("reject.json", "reject"),
        ("receipt.json", "receipt"),
        ("actor-payment-link.json", None),
    ],
)
def test_classify_the_examples(name: str, kind: str | None) -> None:
    assert classify_activity(load(name)) == kind


def test_classify_leaves_other_activities_alone() -> None:
    follow = {"type": "Follow", "id": f"{B}/follows/1", "actor": BOB, "object": ALICE}
    assert classify_activity({"type": "Reject", "id": f"{A}/a/1", "actor": ALICE, "object": follow}) is None
    assert classify_activity({"type": "Accept", "id": f"{A}/a/1", "actor": ALICE, "object": follow}) is None
    assert classify_activity({"type": "Undo", "id": f"{B}/a/1", "actor": BOB, "object": follow}) is None
    assert classify_activity({"type": "Create", "object": {"type": "Note", "content": "hi"}}) is None
    assert classify_activity({"type": "Flag", "object": ALICE}) is None
    assert classify_activity(["Offer"]) is None


def test_the_accept_example_as_first_published_with_its_misspelling() -> None:
    data = load("accept-agreement.json")
    data["result"]["stiplulates"] = data["result"].pop("stipulates")
    assert accept_from_json(data).agreement.primary_intent == FEP_PROPOSAL + "#primary"


# --- our proposals ------------------------------------------------------------------------------


def _proposal(**changes: Any) -> ProposalDoc:
    values: dict[str, Any] = {
        "id": PROPOSAL,
        "attributed_to": ALICE,
        "purpose": "request",
        "name": "Courses pour ma mère le mardi",
        "content": "<p>Accompagner ma mère faire ses <strong>courses</strong>.</p>",
        "published": T0,
        "updated": T0,
        "category": "grocery-delivery",
        "commune": CommuneRef("Montreuil", "93048", "93100", "93", 48.8611, 2.4436),
        "schedule": WeeklyRecurrence((1,), time(14), time(16), date(2025, 3, 3), date(2025, 3, 31)),
        "quantity": Decimal("2"),
        "price": Price(Decimal("18.50"), "EUR", "per_hour"),
        "bidding_deadline": datetime(2025, 3, 2, 18, tzinfo=UTC),
        "expires": datetime(2025, 3, 31, 22, tzinfo=UTC),
        "to": (PUBLIC,),
        "cc": (ALICE + "/followers",),
    }
    values.update(changes)
    return ProposalDoc(**values)


ROUND_TRIPS = {
    "per hour, recurrence": _proposal(),
    "total, window": _proposal(
        purpose="offer",
        price=Price(Decimal("120"), "EUR", "total"),
        quantity=Decimal("6.5"),
        schedule=TimeWindow(datetime(2025, 3, 4, 13, tzinfo=UTC), datetime(2025, 3, 4, 19, 30, tzinfo=UTC)),
        bidding_deadline=None,
    ),
    "time tokens per hour": _proposal(
        price=Price(Decimal("1"), "HOUR", "per_hour"), quantity=Decimal("0.75")
    ),
    "time tokens in total": _proposal(price=Price(Decimal("3"), "HOUR", "total")),
    "per hour, no quantity": _proposal(quantity=None),
    "budget left to bids": _proposal(price=None, currency="EUR"),
    "free service": _proposal(price=None, currency=None, quantity=Decimal("1.25")),
    "bare": ProposalDoc(id=PROPOSAL, attributed_to=ALICE, purpose="offer", state=ProposalState.EXPIRED),
}


@pytest.mark.parametrize("doc", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_proposal_round_trip(doc: ProposalDoc) -> None:
    data = assert_wire_ready(proposal_to_json(doc))
    assert proposal_from_json(data) == doc


def test_proposal_shape_per_hour() -> None:
    data = proposal_to_json(_proposal())
    assert data["type"] == "Proposal" and data["purpose"] == "request"
    assert data["publishes"] == {
        "type": "Intent",
        "id": PROPOSAL + "#primary",
        "action": "deliverService",
        "resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": "1"},
        "availableQuantity": {"hasUnit": "hour", "hasNumericalValue": "2"},
    }
    assert data["reciprocal"] == {
        "type": "Intent",
        "id": PROPOSAL + "#reciprocal",
        "action": "transfer",
        "resourceConformsTo": EURO,
        "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "18.50"},
    }
    assert data["unitBased"] is True
    assert data["location"] == {
        "type": "Place",
        "name": "Montreuil",
        "latitude": 48.86,
        "longitude": 2.44,
        "inseeCode": "93048",
        "postalCode": "93100",
        "departement": "93",
    }
    assert data["startTime"] == "2025-03-04T13:00:00Z" and data["eventSchedule"]["byDay"] == ["TU"]
    assert data["category"] == "grocery-delivery"
    assert data["biddingDeadline"] == "2025-03-02T18:00:00Z"
    assert data["hasEnd"] == "2025-03-31T22:00:00Z"
    assert data["proposalState"] == "open"
    assert data["mediaType"] == "text/html"
    assert data["to"] == [PUBLIC] and data["cc"] == [ALICE + "/followers"]


def test_proposal_shape_total_and_tokens() -> None:
    total = proposal_to_json(ROUND_TRIPS["total, window"])
    assert total["unitBased"] is False
    assert total["publishes"]["resourceQuantity"] == {"hasUnit": "hour", "hasNumericalValue": "6.5"}
    assert total["reciprocal"]["resourceQuantity"] == {"hasUnit": "one", "hasNumericalValue": "120"}
    assert "eventSchedule" not in total and total["endTime"] == "2025-03-04T19:30:00Z"
    tokens = proposal_to_json(ROUND_TRIPS["time tokens in total"])
    assert tokens["reciprocal"]["resourceConformsTo"] == TIME_TOKEN
    assert tokens["reciprocal"]["resourceQuantity"] == {"hasUnit": "hour", "hasNumericalValue": "3"}
    open_budget = proposal_to_json(ROUND_TRIPS["budget left to bids"])
    assert open_budget["reciprocal"]["resourceQuantity"] == {"hasUnit": "one"}
    assert "unitBased" not in open_budget
    free = proposal_to_json(ROUND_TRIPS["free service"])
    assert "reciprocal" not in free and "unitBased" not in free


def test_commune_from_the_gazetteer_is_coarse() -> None:
    montreuil = default_gazetteer().by_insee("93048")
    assert montreuil is not None
    ref = CommuneRef.from_commune(montreuil)
    assert (ref.name, ref.insee, ref.postal_code, ref.departement) == ("Montreuil", "93048", "93100", "93")
    assert ref.latitude is not None and ref.longitude is not None
    assert ref.latitude == round(ref.latitude, 2) and 48.8 < ref.latitude < 48.9


def test_proposal_state_may_be_given_as_its_stored_value() -> None:
    doc = _proposal(state="closed")
    assert doc.state is ProposalState.CLOSED
    assert proposal_to_json(doc)["proposalState"] == "closed"


def test_proposal_price_and_currency_must_agree() -> None:
    with pytest.raises(ValueError, match="currency"):
        _proposal(currency="HOUR")
    assert _proposal().currency == "EUR"


# --- tolerance on reading -----------------------------------------------------------------------


def _foreign(
    publishes: dict[str, Any], reciprocal: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "Proposal",
        "id": "https://other.example/p/1",
        "attributedTo": "https://other.example/u/carol",
        "purpose": "offer",
        "publishes": {"type": "Intent", "id": "https://other.example/p/1#primary", **publishes},
        "to": PUBLIC,
    }
    if reciprocal is not None:
        data["reciprocal"] = {"type": "Intent", "id": "https://other.example/p/1#reciprocal", **reciprocal}
    data.update(extra)
    return data


@pytest.mark.parametrize(
    "quantity",
    [
        {"hasUnit": "hour", "hasNumericalValue": "3"},
        {"om2:hasUnit": "om2:hour", "om2:hasNumericalValue": "3"},
        {"vf:hasUnit": "hour", "vf:hasNumericalValue": 3},
        {
            "http://www.ontology-of-units-of-measure.org/resource/om-2/hasUnit": (
                "http://www.ontology-of-units-of-measure.org/resource/om-2/hour"
            ),
            "https://w3id.org/valueflows/ont/vf#hasNumericalValue": 3.0,
        },
    ],
)
def test_units_in_either_namespace_and_numbers_as_strings_or_numbers(quantity: dict[str, Any]) -> None:
    doc = proposal_from_json(_foreign({"resourceQuantity": quantity}))
    assert doc.quantity == Decimal("3")


def test_vf_prefixed_terms_are_read() -> None:
    data = _foreign({"vf:resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": "2"}})
    data["vf:purpose"] = data.pop("purpose")
    assert proposal_from_json(data).quantity == Decimal("2")


def test_missing_resource_quantity_reads_as_none() -> None:
    doc = proposal_from_json(_foreign({"action": "deliverService"}))
    assert doc.quantity is None and doc.price is None


def test_foreign_unit_based_price_is_a_rate() -> None:
    # 54 € for 3 hours, multiples allowed: 18 € per hour; no available quantity said.
    doc = proposal_from_json(
        _foreign(
            {"resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": "3"}},
            {
                "resourceConformsTo": "http://www.wikidata.org/entity/Q4916",
                "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": 54},
            },
            unitBased=True,
        )
    )
    assert doc.price == Price(Decimal("18"), "EUR", "per_hour") and doc.quantity is None
    uneven = proposal_from_json(
        _foreign(
            {"resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": "3"}},
            {"resourceConformsTo": EURO, "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "50"}},
            unitBased=True,
        )
    )
    assert uneven.price is not None and uneven.price.amount == Decimal("16.67")


def test_foreign_fixed_price_in_euros() -> None:
    doc = proposal_from_json(
        _foreign(
            {"resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": "3"}},
            {"resourceConformsTo": EURO, "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "50"}},
        )
    )
    assert doc.price == Price(Decimal("50"), "EUR", "total") and doc.quantity == Decimal("3")


def test_a_proposal_typed_as_note_is_read() -> None:
    data = _foreign({"resourceQuantity": {"hasUnit": "hour"}}, type="Note")
    assert proposal_from_json(data).purpose == "offer"
    wrapped = {
        "type": "Create",
        "id": "https://other.example/a/1",
        "actor": data["attributedTo"],
        "object": data,
    }
    assert proposal_from_json(wrapped).id == "https://other.example/p/1"
    assert classify_activity(wrapped) == "proposal"


def test_unknown_fields_are_ignored() -> None:
    data = proposal_to_json(_proposal())
    noisy = copy.deepcopy(data)
    noisy.update({"sensitive": False, "tag": [{"type": "Hashtag"}], "futureTerm": {"x": 1}})
    noisy["publishes"]["minimumQuantity"] = {"hasUnit": "hour", "hasNumericalValue": "1"}
    assert proposal_from_json(noisy) == proposal_from_json(data)


def test_received_text_is_sanitised() -> None:
    data = _foreign(
        {"resourceQuantity": {"hasUnit": "hour"}},
        name="<b>Repassage</b> <script>alert(1)</script>",
        content=(
            '<p onclick="x()">Bonjour <img src=x onerror=alert(1)><a href="javascript:alert(1)">ici</a></p>'
        ),
        location={"type": "Place", "name": "<i>Bagnolet</i>"},
    )
    doc = proposal_from_json(data)
    assert doc.name == "Repassage"
    assert doc.content == "<p>Bonjour ici</p>"
    assert doc.commune is not None and doc.commune.name == "Bagnolet"


def test_remote_precise_coordinates_are_coarsened() -> None:
    data = _foreign(
        {"resourceQuantity": {"hasUnit": "hour"}},
        location={"type": "Place", "latitude": 48.861234, "longitude": 2.443567},
    )
    doc = proposal_from_json(data)
    assert doc.commune == CommuneRef(name="", latitude=48.86, longitude=2.44)
    assert proposal_from_json(_foreign({}, location="https://places.example/1")).commune is None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.pop("id"), "'id'"),
        (lambda d: d.update(id="not a uri"), "'id'"),
        (lambda d: d.pop("attributedTo"), "'attributedTo'"),
        (lambda d: d.pop("purpose"), "'purpose'"),
        (lambda d: d.update(purpose="gift"), "'purpose'"),
        (lambda d: d.pop("publishes"), "'publishes'"),
        (lambda d: d.update(publishes="https://other.example/p/1#primary"), "'publishes'"),
        (lambda d: d.pop("type"), "'type'"),
        (lambda d: d.update(type="Person", publishes=None), "Person"),
        (lambda d: d.update(unitBased="yes"), "'unitBased'"),
        (lambda d: d.update(published="yesterday"), "published"),
        (lambda d: d.update(category="rocket-science"), "'category'"),
        (lambda d: d.update(category="Housework"), "'category'"),
        (lambda d: d.update(proposalState="paused"), "'proposalState'"),
        (lambda d: d.update(location={"type": "Place", "latitude": 91}), "latitude"),
        (lambda d: d.update(location={"type": "Place", "latitude": True}), "latitude"),
        (lambda d: d.update(location={"type": "Place", "inseeCode": "9304"}), "inseeCode"),
        (lambda d: d.update(location={"type": "Place", "postalCode": 93100}), "postalCode"),
        (lambda d: d.update(to=[1]), "'to'"),
        (lambda d: d["publishes"].update(resourceQuantity="3 hours"), "resourceQuantity"),
        (lambda d: d["publishes"].update(resourceQuantity={"hasNumericalValue": "3"}), "hasUnit"),
        (
            lambda d: d["publishes"].update(resourceQuantity={"hasUnit": "hour", "hasNumericalValue": "-3"}),
            "hasNumericalValue",
        ),
        (
            lambda d: d["publishes"].update(resourceQuantity={"hasUnit": "hour", "hasNumericalValue": "1e9"}),
            "hasNumericalValue",
        ),
        (
            lambda d: d["publishes"].update(resourceQuantity={"hasUnit": "hour", "hasNumericalValue": True}),
            "hasNumericalValue",
        ),
        (
            lambda d: d["publishes"].update(resourceQuantity={"hasUnit": "hour", "hasNumericalValue": -1}),
            "hasNumericalValue",
        ),
        (lambda d: d.update(startTime="2025-03-04T15:00:00Z", endTime="2025-03-04T13:00:00Z"), "schedule"),
        (lambda d: d.update(eventSchedule={"byDay": ["XX"]}), "byDay"),
    ],
)
def test_malformed_proposals_are_refused_with_the_field(change: Change, match: str) -> None:
    data = _foreign({"resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": "3"}})
    change(data)
    with pytest.raises(VocabError, match=match):
        proposal_from_json(data)


@pytest.mark.parametrize("junk", [None, [], "Proposal", 42])
def test_non_objects_are_refused(junk: object) -> None:
    with pytest.raises(VocabError, match="JSON object"):
        proposal_from_json(junk)


def test_vocab_error_is_the_activitypub_layers_error() -> None:
    assert issubclass(VocabError, as_vocab.VocabError) and issubclass(VocabError, ValueError)


# --- bids and agreements --------------------------------------------------------------------------


def _bid(**changes: Any) -> AgreementDoc:
    values: dict[str, Any] = {
        "primary_intent": PROPOSAL + "#primary",
        "reciprocal_intent": PROPOSAL + "#reciprocal",
        "quantity": Decimal("2"),
        "price": Price(Decimal("17.25"), "EUR", "per_hour"),
        "schedule": TimeWindow(datetime(2025, 3, 4, 13, tzinfo=UTC), datetime(2025, 3, 4, 15, tzinfo=UTC)),
        "message": "Bonjour,\n\nJe suis disponible mardi <après-midi> & j'ai une voiture.",
    }
    values.update(changes)
    return AgreementDoc(**values)


BIDS = {
    "per hour": _bid(),
    "per hour, no quantity": _bid(quantity=None),
    "total": _bid(price=Price(Decimal("40"), "EUR", "total")),
    "time tokens": _bid(price=Price(Decimal("1"), "HOUR", "per_hour"), quantity=Decimal("0.75")),
    "no price": _bid(price=None, reciprocal_intent=None, message="", schedule=None),
    "recurrence": _bid(
        schedule=WeeklyRecurrence((1, 3), time(9), time(11), date(2025, 3, 3), date(2025, 3, 31))
    ),
}


@pytest.mark.parametrize("agreement", BIDS.values(), ids=BIDS.keys())
def test_offer_round_trip(agreement: AgreementDoc) -> None:
    data = assert_wire_ready(
        offer_to_json(BOB, agreement, ALICE, activity_id=f"{B}/activities/1", published=T0)
    )
    assert classify_activity(data) == "offer"
    assert offer_from_json(data) == BidOffer(f"{B}/activities/1", BOB, agreement, (ALICE,), T0)


def test_offer_shape_carries_totals_and_the_hourly_rate() -> None:
    data = offer_to_json(BOB, _bid(), [ALICE], activity_id=f"{B}/activities/1")
    agreement = data["object"]
    assert agreement["type"] == "Agreement" and "id" not in agreement
    assert agreement["stipulates"] == {
        "type": "Commitment",
        "satisfies": PROPOSAL + "#primary",
        "resourceQuantity": {"hasUnit": "hour", "hasNumericalValue": "2"},
    }
    assert agreement["stipulatesReciprocal"] == {
        "type": "Commitment",
        "satisfies": PROPOSAL + "#reciprocal",
        "resourceConformsTo": EURO,
        "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "34.50"},
        "hourlyRate": "17.25",
    }
    assert agreement["content"].startswith(
        "<p>Bonjour,</p><p>Je suis disponible mardi &lt;après-midi&gt; &amp;"
    )
    assert data["to"] == [ALICE] and "cc" not in data  # sealed: the author only


def test_accept_round_trip_with_commitment_ids() -> None:
    final = _bid(id=AGREEMENT, attributed_to=ALICE, message="")
    data = assert_wire_ready(
        accept_to_json(ALICE, f"{B}/activities/1", final, BOB, activity_id=f"{A}/activities/2", published=T0)
    )
    assert data["object"] == f"{B}/activities/1"
    assert data["result"]["stipulates"]["id"] == AGREEMENT + "#primary"
    assert data["result"]["stipulatesReciprocal"]["id"] == AGREEMENT + "#reciprocal"
    assert accept_from_json(data) == BidAccept(
        f"{A}/activities/2", ALICE, f"{B}/activities/1", final, (BOB,), T0
    )
    with pytest.raises(ValueError, match="id"):
        accept_to_json(ALICE, f"{B}/activities/1", _bid(), BOB, activity_id=f"{A}/activities/2")


def test_reject_and_withdrawal_round_trips() -> None:
    reject = reject_to_json(
        ALICE, f"{B}/activities/1", BOB, activity_id=f"{A}/activities/3", reason="Déjà pourvu, merci !"
    )
    assert reject_from_json(assert_wire_ready(reject)) == BidReject(
        f"{A}/activities/3", ALICE, f"{B}/activities/1", "Déjà pourvu, merci !", (BOB,)
    )
    assert (
        reject_from_json(
            reject_to_json(ALICE, f"{B}/activities/1", BOB, activity_id=f"{A}/activities/3")
        ).reason
        == ""
    )
    withdrawal = withdrawal_to_json(
        BOB, f"{B}/activities/1", ALICE, activity_id=f"{B}/activities/4", published=T0
    )
    assert classify_activity(withdrawal) == "withdraw"
    assert withdrawal_from_json(assert_wire_ready(withdrawal)) == BidWithdrawal(
        f"{B}/activities/4", BOB, f"{B}/activities/1", (ALICE,), T0
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["object"].pop("stipulates"), "'stipulates'"),
        (lambda d: d["object"]["stipulates"].pop("satisfies"), "'satisfies'"),
        (lambda d: d["object"]["stipulatesReciprocal"].pop("satisfies"), "'satisfies'"),
        (lambda d: d["object"].update(type="Note"), "Agreement"),
        (lambda d: d.update(object="https://x.example/agreement"), "embedded Agreement"),
        (lambda d: d.update(type="Accept"), "Offer"),
        (lambda d: d["object"]["stipulatesReciprocal"].update(hourlyRate="cheap"), "hourlyRate"),
    ],
)
def test_malformed_offers_are_refused(change: Change, match: str) -> None:
    data = offer_to_json(BOB, _bid(), ALICE, activity_id=f"{B}/activities/1")
    change(data)
    with pytest.raises(VocabError, match=match):
        offer_from_json(data)


def test_malformed_accepts_are_refused() -> None:
    accept = accept_to_json(ALICE, f"{B}/activities/1", _bid(id=AGREEMENT), BOB, activity_id=f"{A}/a/2")
    del accept["result"]["id"]
    with pytest.raises(VocabError, match="'id'"):
        accept_from_json(accept)
    del accept["result"]
    with pytest.raises(VocabError, match="'result'"):
        accept_from_json(accept)


def test_agreement_invariants() -> None:
    with pytest.raises(ValueError, match="reciprocal"):
        AgreementDoc(primary_intent=PROPOSAL + "#primary", price=Price(Decimal("1"), "EUR", "total"))
    with pytest.raises(ValueError, match="EconomicEvent"):
        AgreementEvent(kind="confirm", id=f"{A}/a/1", actor=ALICE, agreement=AGREEMENT)


# --- receipt, agreement lifecycle -----------------------------------------------------------------


def test_receipt_round_trip_matches_the_fep_shape() -> None:
    data = receipt_to_json(
        ALICE, f"{A}/receipts/1", AGREEMENT, BOB, activity_id=f"{A}/receipts/1/create", published=T0
    )
    assert data["object"] == {
        "type": "Document",
        "id": f"{A}/receipts/1",
        "name": "Receipt",
        "context": AGREEMENT,
        "published": "2025-03-01T09:30:00Z",
    }
    assert receipt_from_json(assert_wire_ready(data)) == Receipt(
        f"{A}/receipts/1", f"{A}/receipts/1/create", ALICE, AGREEMENT, (BOB,), T0
    )


EVENTS = {
    "confirm": AgreementEvent(
        kind="confirm",
        id=f"{B}/activities/5",
        actor=BOB,
        agreement=AGREEMENT,
        to=(ALICE,),
        published=T0,
        event_id=f"{B}/events/5",
        hours=Decimal("2.5"),
        provider=BOB,
        receiver=ALICE,
    ),
    "confirm, minimal": AgreementEvent(
        kind="confirm",
        id=f"{A}/activities/6",
        actor=ALICE,
        agreement=AGREEMENT,
        to=(BOB,),
        event_id=f"{A}/events/6",
    ),
    "cancel, late": AgreementEvent(
        kind="cancel",
        id=f"{A}/activities/7",
        actor=ALICE,
        agreement=AGREEMENT,
        to=(BOB,),
        published=T0,
        reason="Hospitalisée",
        late=True,
    ),
    "cancel, in time": AgreementEvent(
        kind="cancel", id=f"{B}/activities/8", actor=BOB, agreement=AGREEMENT, to=(ALICE,)
    ),
    "dispute": AgreementEvent(
        kind="dispute",
        id=f"{A}/activities/9",
        actor=ALICE,
        agreement=AGREEMENT,
        to=(BOB,),
        reason="Personne n'est venu.",
    ),
}


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_agreement_event_round_trip(event: AgreementEvent) -> None:
    data = assert_wire_ready(agreement_event_to_json(event))
    assert classify_activity(data) == event.kind
    assert agreement_event_from_json(data) == event


def test_agreement_event_shapes() -> None:
    confirm = agreement_event_to_json(EVENTS["confirm"])
    assert confirm["type"] == "Create"
    assert confirm["object"] == {
        "type": "EconomicEvent",
        "id": f"{B}/events/5",
        "attributedTo": BOB,
        "context": AGREEMENT,
        "fulfills": AGREEMENT + "#primary",
        "action": "deliverService",
        "provider": BOB,
        "receiver": ALICE,
        "effortQuantity": {"hasUnit": "hour", "hasNumericalValue": "2.5"},
        "finished": True,
        "published": "2025-03-01T09:30:00Z",
    }
    cancel = agreement_event_to_json(EVENTS["cancel, late"])
    assert (cancel["type"], cancel["object"], cancel["lateCancellation"]) == (
        "Reject",
        {"type": "Agreement", "id": AGREEMENT},
        True,
    )
    assert cancel["content"] == "<p>Hospitalisée</p>"
    dispute = agreement_event_to_json(EVENTS["dispute"])
    assert (dispute["type"], dispute["object"]) == ("Flag", {"type": "Agreement", "id": AGREEMENT})


def test_agreement_events_are_told_from_bid_activities() -> None:
    cancel = agreement_event_to_json(EVENTS["cancel, late"])
    with pytest.raises(VocabError, match="cancels an agreement"):
        reject_from_json(cancel)
    with pytest.raises(VocabError, match="Agreement"):
        agreement_event_from_json(load("reject.json"))
    with pytest.raises(VocabError, match="not an agreement event"):
        agreement_event_from_json(load("receipt.json"))
    confirm = agreement_event_to_json(EVENTS["confirm"])
    del confirm["object"]["context"]
    assert agreement_event_from_json(confirm).agreement == AGREEMENT  # from "fulfills"
    del confirm["object"]["fulfills"]
    with pytest.raises(VocabError, match="context"):
        agreement_event_from_json(confirm)


# --- evaluations ----------------------------------------------------------------------------------


def _evaluation(**changes: Any) -> EvaluationDoc:
    values: dict[str, Any] = {
        "id": f"{A}/evaluations/1",
        "attributed_to": ALICE,
        "agreement": AGREEMENT,
        "evaluated": BOB,
        "role": "provider",
        "overall": 5,
        "criteria": {"punctuality": 5, "quality": 4, "respect": 5},
        "comment": "Ponctuel et très aimable.\nJe recommande.",
        "published": T0,
        "to": (PUBLIC,),
        "cc": (BOB,),
    }
    values.update(changes)
    return EvaluationDoc(**values)


@pytest.mark.parametrize(
    "doc",
    [
        _evaluation(),
        _evaluation(role="requester", evaluated=ALICE, attributed_to=BOB, criteria={}, comment="", overall=3),
    ],
    ids=["of a provider", "of a requester"],
)
def test_evaluation_round_trip(doc: EvaluationDoc) -> None:
    data = assert_wire_ready(evaluation_to_json(doc))
    assert evaluation_from_json(data) == doc
    assert classify_activity(data) == "evaluation"


def test_evaluation_shape() -> None:
    data = evaluation_to_json(_evaluation())
    assert data["type"] == "Review" and data["context"] == AGREEMENT and data["itemReviewed"] == BOB
    assert data["reviewRating"] == {"type": "Rating", "ratingValue": 5, "worstRating": 1, "bestRating": 5}
    assert data["criteria"][0] == {
        "type": "Rating",
        "reviewAspect": "punctuality",
        "ratingValue": 5,
        "worstRating": 1,
        "bestRating": 5,
    }
    assert data["content"] == "<p>Ponctuel et très aimable.<br>Je recommande.</p>"


def test_evaluation_reading_tolerance_and_refusals() -> None:
    data = evaluation_to_json(_evaluation())
    data["reviewRating"] = {"type": "Rating", "ratingValue": "4"}
    data["criteria"].append(
        {"type": "Rating", "reviewAspect": "payment", "ratingValue": 1}
    )  # not a provider's
    wrapped = {"type": "Create", "id": f"{A}/activities/10", "actor": ALICE, "object": data}
    doc = evaluation_from_json(wrapped)
    assert doc.overall == 4 and set(doc.criteria) == {"punctuality", "quality", "respect"}
    assert classify_activity(wrapped) == "evaluation"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.update(reviewRating={"ratingValue": 6}), "reviewRating"),
        (lambda d: d.update(reviewRating=4.5), "reviewRating"),
        (lambda d: d.pop("reviewRating"), "reviewRating"),
        (lambda d: d.update(evaluatedRole="boss"), "evaluatedRole"),
        (lambda d: d.pop("itemReviewed"), "itemReviewed"),
        (lambda d: d.pop("context"), "context"),
        (lambda d: d.update(criteria=[{"reviewAspect": "quality", "ratingValue": 0}]), "criteria.quality"),
        (lambda d: d.update(criteria=["quality"]), "criteria"),
        (lambda d: d.update(type="Note"), "Review"),
    ],
)
def test_malformed_evaluations_are_refused(change: Change, match: str) -> None:
    data = evaluation_to_json(_evaluation())
    change(data)
    with pytest.raises(VocabError, match=match):
        evaluation_from_json(data)


def test_evaluation_comment_is_capped_and_sanitised() -> None:
    data = evaluation_to_json(_evaluation())
    data["content"] = "<script>alert(1)</script><p>" + "é" * 3000 + "</p>"
    comment = evaluation_from_json(data).comment
    assert len(comment) == 1000 and set(comment) == {"é"}


def test_context_is_one_inline_object_after_activitystreams() -> None:
    assert CONTEXT[0] == "https://www.w3.org/ns/activitystreams"
    assert isinstance(CONTEXT[1], dict) and len(CONTEXT) == 2
    terms = CONTEXT[1]
    assert terms["hasUnit"] == "om2:hasUnit" and terms["vf"] == "https://w3id.org/valueflows/ont/vf#"
    json.dumps(CONTEXT)
