"""Settlement between two nodes: netting their clearing balances, recorded the same way on both sides.

Policy (see docs/admin/timebank.md): the clearing balances of two nodes mirror each other and grow
while one node's people receive more service from the other's than they give. Every period (a month,
a quarter) the two nodes' admins reconcile (``asasap timebank reconcile PEER``: no difference), agree an
amount and a reference, and each records it with ``asasap timebank settle PEER HOURS --reference REF``:
a transfer between the clearing account and the node's community account, towards zero. Both records
carry the same transfer id (``urn:asasap:settlement:<the two domains, sorted>:<reference>``), so the
next reconciliation compares them like any transfer; recording it twice is refused.
"""

from __future__ import annotations

import re

from sqlmodel import Session, select

from node.core.errors import N_, Conflict, ValidationFailed
from node.settings import Settings
from node.timebank import accounts
from node.timebank.models import Transfer
from node.timebank.policy import Policy, amount_from_text
from node.timebank.records import Parties, apply_local, now, values_of

_REFERENCE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MSG_REFERENCE = N_("A reference is 1 to 64 letters, digits, dots, dashes or underscores.")
MSG_TOWARDS_ZERO = N_("A settlement brings the clearing balance towards zero, never past it.")
MSG_ALREADY = N_("This settlement is already recorded.")


def settlement_uri(ours: str, peer: str, reference: str) -> str:
    first, second = sorted((ours.lower(), peer.lower()))
    return f"urn:asasap:settlement:{first}:{second}:{reference}"


def settle(session: Session, settings: Settings, peer: str, hours: str, reference: str) -> Transfer:
    """Record a settlement of ``hours`` with ``peer`` (see the module docs)."""
    policy = Policy.of(settings)
    policy.require()
    if not _REFERENCE.match(reference):
        raise ValidationFailed(MSG_REFERENCE, fields={"reference": MSG_REFERENCE})
    amount = amount_from_text(hours)
    uri = settlement_uri(settings.domain, peer, reference)
    if session.exec(select(Transfer.id).where(Transfer.uri == uri)).first() is not None:
        raise Conflict(MSG_ALREADY)
    clearing = accounts.clearing(session, peer)
    if amount > abs(clearing.balance):
        raise ValidationFailed(MSG_TOWARDS_ZERO, fields={"hours": MSG_TOWARDS_ZERO})
    community = accounts.community(session)
    parties = Parties(clearing, community) if clearing.balance > 0 else Parties(community, clearing)
    values = values_of(
        settings, "settlement", parties, amount, now(), uri=uri, peer=peer.lower(), memo=reference
    )
    transfer_id = apply_local(session, policy, values, parties, limits=False)
    found = session.get(Transfer, transfer_id)
    assert found is not None
    return found
