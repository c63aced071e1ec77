"""Every kind of document the marketplace sends and serves, read as a strict JSON-LD reader reads it
(pyld, offline): each term whose value is an id expands to an IRI (``{"@id": ...}``), never to a plain
string. A Fedify-based server failed on our ``Accept`` when ``satisfies`` expanded to a string."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from node.accounts.actors import person_document
from node.core import db
from node.market import vocab
from node.market.money import Price
from node.settings import Settings
from tests.support.data import FEP_0837
from tests.support.jsonld import expand, values_of
from tests.support.market import person

VF = "https://w3id.org/valueflows/ont/vf#"
SCHEMA = "http://schema.org/"
AS = "https://www.w3.org/ns/activitystreams#"
NS = "https://w3id.org/asasap/ns#"
# The predicates whose values are ids (or embedded nodes), in the vocabularies we use.
ID_VALUED = (
    *(VF + term for term in ("satisfies", "fulfills", "provider", "receiver", "resourceConformsTo")),
    *(VF + term for term in ("publishes", "reciprocal", "stipulates", "stipulatesReciprocal")),
    SCHEMA + "itemReviewed",
    *(AS + term for term in ("actor", "object", "attributedTo", "context", "to", "inReplyTo", "result")),
    NS + "evaluations",
)
AGREEMENT = "https://a.example/agreements/1"
PROPOSAL = "https://a.example/proposals/7"
ALICE, BOB = "https://a.example/users/alice", "https://b.example/users/bob"
WHEN = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def fep(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FEP_0837 / name).read_text(encoding="utf-8"))
    return document


def terms() -> vocab.AgreementDoc:
    return vocab.AgreementDoc(
        primary_intent=PROPOSAL + "#primary",
        reciprocal_intent=PROPOSAL + "#reciprocal",
        id=AGREEMENT,
        attributed_to=ALICE,
        quantity=Decimal(2),
        price=Price(Decimal(18), "EUR", "per_hour"),
    )


def documents() -> dict[str, dict[str, Any]]:
    """One document of each kind we produce, made by our own writers."""
    offer_id = BOB.replace("/users/bob", "/activities/1")
    return {
        "proposal": vocab.proposal_to_json(vocab.proposal_from_json(fep("proposal-full.json"))),
        "offer": vocab.offer_to_json(BOB, terms(), [ALICE], activity_id=offer_id),
        "accept": vocab.accept_to_json(ALICE, offer_id, terms(), [BOB], activity_id=ALICE + "/a/2"),
        "reject": vocab.reject_to_json(ALICE, offer_id, [BOB], activity_id=ALICE + "/a/3", reason="Non"),
        "receipt": vocab.receipt_to_json(
            ALICE, AGREEMENT + "/receipt", AGREEMENT, [BOB], activity_id=ALICE + "/a/4"
        ),
        "confirm": vocab.agreement_event_to_json(
            vocab.AgreementEvent(
                kind="confirm",
                id=BOB + "/a/5",
                actor=BOB,
                agreement=AGREEMENT,
                to=(ALICE,),
                event_id=BOB + "/events/5",
                hours=Decimal(2),
                provider=BOB,
                receiver=ALICE,
            )
        ),
        "dispute": vocab.agreement_event_to_json(
            vocab.AgreementEvent(kind="dispute", id=BOB + "/a/6", actor=BOB, agreement=AGREEMENT, to=(ALICE,))
        ),
        "evaluation": vocab.evaluation_to_json(
            vocab.EvaluationDoc(
                id=ALICE + "/evaluations/1",
                attributed_to=ALICE,
                agreement=AGREEMENT,
                evaluated=BOB,
                role="provider",
                overall=5,
                criteria={"punctuality": 4},
                published=WHEN,
                to=(BOB,),
            )
        ),
    }


def assert_ids_are_iris(document: dict[str, Any]) -> int:
    """Every id-valued term of ``document`` expands to IRIs; how many values were checked."""
    expanded = expand(document)
    checked = 0
    for predicate in ID_VALUED:
        for value in values_of(expanded, predicate):
            assert isinstance(value, dict) and "@value" not in value, (predicate, value)
            assert str(value.get("@id", "https://")).startswith("https://") or "@type" in value, (
                predicate,
                value,
            )
            checked += 1
    return checked


@pytest.mark.parametrize("kind", sorted(documents()))
def test_id_valued_terms_expand_to_iris(kind: str) -> None:
    assert assert_ids_are_iris(documents()[kind]) > 0


def test_the_accept_expands_satisfies_and_currency_to_iris() -> None:
    """The document the Fedify-based reader failed on, checked value by value."""
    expanded = expand(documents()["accept"])
    assert values_of(expanded, VF + "satisfies") == [
        {"@id": PROPOSAL + "#primary"},
        {"@id": PROPOSAL + "#reciprocal"},
    ]
    assert values_of(expanded, VF + "resourceConformsTo") == [{"@id": vocab.EURO}]
    # Terms naming a word of their vocabulary stay plain values.
    units = values_of(expanded, "http://www.ontology-of-units-of-measure.org/resource/om-2/hasUnit")
    assert units and all(isinstance(v, dict) and "@value" in v for v in units)


def test_an_untyped_context_would_be_caught() -> None:
    """The check fails on the context we used to send (``satisfies`` without ``"@type": "@id"``)."""
    document = documents()["accept"]
    document["@context"] = [document["@context"][0], {**document["@context"][1], "satisfies": "vf:satisfies"}]
    with pytest.raises(AssertionError):
        assert_ids_are_iris(document)


def test_the_actor_document_expands_its_links_to_iris(settings: Settings, engine: Engine) -> None:
    person(engine, "amina")
    with db.session_scope(engine) as session:
        document = person_document(settings, "amina", session=session, create_key=True)
    assert document is not None
    expanded = expand(document)
    for predicate in ("inbox", "outbox", "followers", "following"):
        (value,) = values_of(
            expanded, "http://www.w3.org/ns/ldp#inbox" if predicate == "inbox" else AS + predicate
        )
        assert isinstance(value, dict) and value["@id"].startswith("http"), (predicate, value)
