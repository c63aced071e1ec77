"""Contact details the parties of an agreement share with each other (address, phone).

Sealed at rest (:func:`node.core.sealing.seal`, purpose ``agreement-contact/1``) on both nodes, shown to the
two parties only, never in a log nor in an activity: the sharing party's node announces them with an
activity that carries only the contact's id, and the other party's node fetches the details with a
signed request that only it may make (:func:`contact_document_for`), then seals them in turn
(:func:`store_remote_contact`).
"""

from __future__ import annotations

import logging
import re

from sqlmodel import Session, select

from node.accounts.models import User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.core.errors import N_, Conflict, ValidationFailed
from node.core.sealing import UnsealError, seal, unseal
from node.core.text import plain_text
from node.core.timeutil import utcnow
from node.market.agreements import documents as docs
from node.market.agreements.parties import (
    EventKind,
    PartyRole,
    notify_parties,
    other_party,
    party_of,
    record_event,
    role_of,
    send_private,
)
from node.market.lifecycles import AgreementState
from node.market.models import Agreement, AgreementContact
from node.market.notifications import Kind
from node.settings import Settings

log = logging.getLogger("asasap.market")

CONTACT_PURPOSE = "agreement-contact/1"

MSG_CONTACT_EMPTY = N_("Give an address, a phone number or both.")
MSG_PHONE_INVALID = N_("Enter a phone number, for example 06 12 34 56 78.")
MSG_ADDRESS_TOO_LONG = N_("At most 300 characters.")
MSG_CONTACT_CLOSED = N_("Contact details can only be shared while the agreement is under way.")

_PHONE = re.compile(r"^\+?[0-9 .\-()]{6,30}$")


class NotAParty(Exception):
    """Contact details that cannot be stored: not from the other party, or empty."""


def contact_id_of(settings: Settings, contact: AgreementContact) -> str:
    """The id of a contact shared from this node (served to the other party's node only)."""
    return settings.url(f"/agreement-contacts/{contact.id}")


def check_contact(address: str, phone: str) -> docs.ContactDetails:
    """Plain-text contact details, refused (:class:`ValidationFailed`) when empty or malformed."""
    errors: dict[str, str] = {}
    clean_address = plain_text(address, docs.ADDRESS_MAX + 1, multiline=True)
    clean_phone = plain_text(phone, 64)
    if len(clean_address) > docs.ADDRESS_MAX:
        errors["address"] = MSG_ADDRESS_TOO_LONG
    if clean_phone and not _PHONE.match(clean_phone):
        errors["phone"] = MSG_PHONE_INVALID
    if not clean_address and not clean_phone:
        errors["address"] = MSG_CONTACT_EMPTY
    if errors:
        raise ValidationFailed(next(iter(errors.values())), fields=errors)
    return docs.ContactDetails(address=clean_address, phone=clean_phone)


def store_contact(
    settings: Settings,
    agreement: Agreement,
    party_uri: str,
    details: docs.ContactDetails,
    *,
    session: Session,
) -> tuple[AgreementContact, bool]:
    """Seal and keep ``party_uri``'s details (replacing earlier ones); ``(row, first time)``."""
    sealed = seal(settings.effective_secret_key, CONTACT_PURPOSE, details.to_bytes())
    row = session.exec(
        select(AgreementContact).where(
            AgreementContact.agreement_id == agreement.id, AgreementContact.party_uri == party_uri
        )
    ).first()
    first = row is None
    if row is None:
        assert agreement.id is not None
        row = AgreementContact(agreement_id=agreement.id, party_uri=party_uri, sealed=sealed)
    row.sealed, row.updated_at = sealed, utcnow()
    session.add(row)
    session.flush()
    return row, first


def may_share_contact(agreement: Agreement) -> bool:
    return agreement.state in (
        AgreementState.ACCEPTED.value,
        AgreementState.CONFIRMED_BY_ONE.value,
        AgreementState.DISPUTED.value,
    )


def share_contact(
    settings: Settings, party: User, agreement: Agreement, address: str, phone: str, *, session: Session
) -> AgreementContact:
    """``party`` shares an address and/or phone with the other party only: sealed here, announced to
    the other party's node, which fetches the details from this node (never inside an activity)."""
    uri, _ = party_of(settings, party, agreement)
    details = check_contact(address, phone)
    if not may_share_contact(agreement):
        raise Conflict(MSG_CONTACT_CLOSED)
    row, first = store_contact(settings, agreement, uri, details, session=session)
    record_event(agreement, EventKind.CONTACT_SHARED, uri, utcnow(), session=session)
    notify_parties(agreement, Kind.CONTACT_SHARED, actor_uri=uri, skip=uri, session=session)
    other = other_party(agreement, uri)
    notice = docs.contact_notice(
        actor=uri,
        contact_id=contact_id_of(settings, row),
        agreement_id=agreement.ap_id,
        to=other,
        activity_id=local.new_activity_id(settings),
        first=first,
    )
    send_private(settings, local.person(settings, party), notice, other, session=session)
    return row


def contacts_for(
    settings: Settings, viewer: User, agreement: Agreement, *, session: Session
) -> dict[PartyRole, docs.ContactDetails]:
    """The details each party shared, for a party's eyes only (empty for anyone else)."""
    viewer_uri = local.person(settings, viewer).uri
    if role_of(agreement, viewer_uri) is None or viewer.id not in (
        agreement.local_provider_id,
        agreement.local_requester_id,
    ):
        return {}
    found: dict[PartyRole, docs.ContactDetails] = {}
    rows = session.exec(select(AgreementContact).where(AgreementContact.agreement_id == agreement.id)).all()
    for row in rows:
        role = role_of(agreement, row.party_uri)
        if role is None:
            continue
        try:
            found[role] = docs.ContactDetails.from_bytes(
                unseal(settings.effective_secret_key, CONTACT_PURPOSE, row.sealed)
            )
        except (UnsealError, ValueError):
            log.warning("contact details of agreement %s cannot be opened", agreement.id)
    return found


def store_remote_contact(
    settings: Settings, agreement: Agreement, party: str, details: docs.ContactDetails, *, session: Session
) -> None:
    """The other party's contact details, fetched from its node: sealed here for our party to read."""
    if role_of(agreement, party) is None or local.is_local(settings, party):
        raise NotAParty(f"{party} is not the remote party of {agreement.ap_id}")
    if not details.address and not details.phone:
        raise NotAParty("empty contact details")
    store_contact(settings, agreement, party, details, session=session)
    record_event(agreement, EventKind.CONTACT_SHARED, party, utcnow(), session=session)
    notify_parties(agreement, Kind.CONTACT_SHARED, actor_uri=party, skip=party, session=session)


def contact_document_for(
    settings: Settings, contact_id: int, requester: str, *, session: Session
) -> dict[str, object] | None:
    """The contact details shared from this node as contact ``contact_id``, for the other party's node
    only (``requester`` is the verified key owner), else None."""
    row = session.get(AgreementContact, contact_id)
    if row is None or not local.is_local(settings, row.party_uri):
        return None
    agreement = session.get(Agreement, row.agreement_id)
    if agreement is None or role_of(agreement, row.party_uri) is None:
        return None
    other = other_party(agreement, row.party_uri)
    if local.is_local(settings, other) or addressing.origin(requester) != addressing.origin(other):
        return None
    try:
        details = docs.ContactDetails.from_bytes(
            unseal(settings.effective_secret_key, CONTACT_PURPOSE, row.sealed)
        )
    except (UnsealError, ValueError):
        return None
    return docs.contact_document(
        contact_id_of(settings, row),
        party=row.party_uri,
        agreement_id=agreement.ap_id,
        details=details,
        updated=row.updated_at,
    )
