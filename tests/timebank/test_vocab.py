"""The time bank's documents on the wire: the inline context (prefixes defined before use, id-valued terms
typed ``@id``, every term our documents use defined), and reading transfers and answers strictly."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from node.market.vocab.common import VocabError
from node.timebank import vocab

EVENT = vocab.TransferEvent(
    id="https://a.example/timebank/transfers/1",
    payer="https://a.example/users/alice",
    payee="https://b.example/users/bob",
    hours=Decimal("1.5"),
    kind="payment",
    at=datetime(2026, 3, 4, 15, 10, tzinfo=UTC),
    agreement="https://b.example/agreements/9",
)
OFFER = vocab.TransferOffer(
    id="https://a.example/timebank/offers/1", actor="https://a.example/actor", event=EVENT
)
AS_TERMS = {"type", "id", "actor", "object", "to", "result", "content", "attributedTo", "published"}


def _terms(document: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "@context":
                continue
            found.add(key)
            found |= _terms(value)
    elif isinstance(document, list):
        for item in document:
            found |= _terms(item)
    return found


def test_the_context_defines_its_prefixes_and_types_ids() -> None:
    assert vocab.CONTEXT[0] == "https://www.w3.org/ns/activitystreams"
    terms: dict[str, Any] = vocab.CONTEXT[1]
    prefixes = {k for k, v in terms.items() if isinstance(v, str) and v.startswith("http")}
    for term, value in terms.items():
        iri = value if isinstance(value, str) else value["@id"]
        if not iri.startswith("http"):
            assert iri.split(":", 1)[0] in prefixes, term
        if isinstance(value, dict) and "@type" in value and value["@type"] not in ("@id", "@json"):
            assert value["@type"].split(":", 1)[0] in prefixes, term
    for term in ("provider", "receiver", "resourceConformsTo", "realizationOf", "clearingPeer"):
        assert terms[term]["@type"] == "@id", term


def test_our_documents_use_only_defined_terms() -> None:
    defined = set(vocab.CONTEXT[1]) | AS_TERMS
    offer = vocab.offer_to_json(OFFER)
    answer = vocab.answer_to_json(
        vocab.TransferAnswer(
            "https://b.example/activities/1",
            "https://b.example/actor",
            OFFER.id,
            False,
            EVENT.id,
            "peer-cap",
            True,
            "Plafond",
        ),
        "https://a.example/actor",
    )
    assert _terms(offer) - defined == set()
    assert _terms(answer) - defined == set()
    statement = {
        "type": "ClearingStatement",
        "clearingPeer": "a.example",
        "nonce": "n",
        "since": "x",
        "balance": 0,
        "transferCount": 0,
        "digests": {},
        "digestVersion": 2,
        "open": [],
        "transfers": [],
        "proof": {},
    }
    assert set(statement) - defined == set()


def test_a_transfer_reads_back() -> None:
    assert vocab.offer_from_json(vocab.offer_to_json(OFFER)) == OFFER


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o.update(action="deliverService"), "action"),
        (lambda o: o.update(resourceConformsTo="https://www.wikidata.org/wiki/Q4916"), "resourceConformsTo"),
        (lambda o: o["resourceQuantity"].update(hasUnit="one"), "resourceQuantity"),
        (lambda o: o["resourceQuantity"].update(hasNumericalValue="-1"), "hasNumericalValue"),
        (lambda o: o.pop("provider"), "provider"),
        (lambda o: o.update(transferKind="loan"), "transferKind"),
        (lambda o: o.pop("hasPointInTime"), "hasPointInTime"),
        (lambda o: o.update(receiver="javascript:alert(1)"), "receiver"),
    ],
)
def test_malformed_transfers_are_refused(change: Any, field: str) -> None:
    document = vocab.offer_to_json(OFFER)
    change(document["object"])
    with pytest.raises(VocabError, match=field):
        vocab.offer_from_json(document)


def test_a_refusal_needs_its_code() -> None:
    with pytest.raises(VocabError, match="refusal"):
        vocab.answer_from_json(
            {"type": "Reject", "id": "https://b.example/a/1", "actor": "https://b.example/actor"}, OFFER.id
        )
