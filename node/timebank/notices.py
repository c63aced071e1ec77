"""What people hear from the time bank, through the node's notifications, written in the transaction of
the change they tell of (so each is told once, however often a message is repeated):

- ``timebank_received``: hours credited to a person's account (a payment, a fee, a gift, a grant, a
  correction), inside the node or from another node, once the transfer is applied;
- ``timebank_waiting``: a transfer a limit holds back (an automatic payment stopped by a minimum or a
  maximum here, or a transfer the payee's node defers for now): told to the payer, and to the payee
  when they are of this node, when it starts waiting, not at every retry;
- ``timebank_refused``: a transfer to another node refused for good by the payee's node (the held
  hours come back): told to the payer and to the node's coordinators, who see a clearing that failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import insert
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, Role, User
from node.core.prepared import Prepared
from node.core.sqlbase import table_of
from node.core.timeutil import utcnow
from node.market.models import Agreement, Notification
from node.market.notifications import Kind, notify
from node.timebank.models import TimebankAccount
from node.timebank.policy import to_hours

TOLD_WHEN_RECEIVED = frozenset({"payment", "cancellation_fee", "gift", "grant", "reversal"})
HISTORY = "/me/timebank"  # a person's balance and history
_INSERT = Prepared(insert(table_of(Notification)))  # hours received is on a transfer's hot path


def _person(session: Session, account_id: int) -> int | None:
    """The user whose account this is, None for the community and clearing accounts."""
    return session.exec(select(TimebankAccount.user_id).where(TimebankAccount.id == account_id)).first()


def _href(session: Session, agreement_ap_id: str | None) -> str:
    if agreement_ap_id:
        found = session.exec(select(Agreement.id).where(Agreement.ap_id == agreement_ap_id)).first()
        if found is not None:
            return f"/me/agreements/{found}"
    return HISTORY


def _data(
    session: Session, uri: str, kind: str, amount: int, agreement: str | None, **more: str
) -> dict[str, str]:
    return {
        "transfer": uri,
        "kind": kind,
        "hours": str(to_hours(amount)),
        "href": _href(session, agreement),
        **more,
    }


def received_row(
    session: Session | None, transfer: Mapping[str, object], user_id: int | None
) -> dict[str, object] | None:
    """The notification telling ``user_id`` (the owner of the credited account, None for the node's own
    accounts) of an applied transfer (``transfer``: the row's values), as a row's values; None when
    nobody is told. Without a ``session``, the link is the person's history, not the agreement paid."""
    kind = str(transfer["kind"])
    if kind not in TOLD_WHEN_RECEIVED or user_id is None:
        return None
    agreement = transfer.get("agreement_ap_id")
    agreement = agreement if isinstance(agreement, str) else None
    amount = int(transfer["amount"])  # type: ignore[call-overload]
    if session is not None:
        data = _data(session, str(transfer["uri"]), kind, amount, agreement)
    else:
        data = {
            "transfer": str(transfer["uri"]),
            "kind": kind,
            "hours": str(to_hours(amount)),
            "href": HISTORY,
        }
    # The row notify() would add, written at the driver level rather than through the ORM.
    return {
        "user_id": user_id,
        "kind": Kind.TIMEBANK_RECEIVED.value,
        "object_uri": agreement,
        "actor_uri": str(transfer["payer_uri"]) if transfer.get("payer_uri") else None,
        "data": json.dumps(data, ensure_ascii=False),
        "created_at": utcnow(),
    }


def received(session: Session, transfer: Mapping[str, object], user_id: int | None) -> None:
    """Tell ``user_id`` of an applied transfer (see :func:`received_row`)."""
    row = received_row(session, transfer, user_id)
    if row is not None:
        _INSERT.run(session, row)


def _about(session: Session, transfer: dict[str, object], **extra: str) -> tuple[str | None, dict[str, str]]:
    """The agreement a transfer (a row as a mapping) pays, if any, and what its notification says."""
    agreement = transfer.get("agreement_ap_id")
    agreement = agreement if isinstance(agreement, str) else None
    amount = int(transfer["amount"])  # type: ignore[call-overload]
    return agreement, _data(session, str(transfer["uri"]), str(transfer["kind"]), amount, agreement, **extra)


def waiting(session: Session, transfer: dict[str, object], reason: str) -> None:
    """Tell the payer (and a payee of this node) that a transfer waits for a limit (``reason``)."""
    agreement, data = _about(session, transfer, reason=reason)
    told = set()
    for column in ("debit_account_id", "credit_account_id"):
        user_id = _person(session, int(transfer[column]))  # type: ignore[call-overload]
        if user_id is not None and user_id not in told:
            told.add(user_id)
            notify(user_id, Kind.TIMEBANK_WAITING, object_uri=agreement, data=data, session=session)


def refused(session: Session, transfer: dict[str, object], reason: str) -> None:
    """Tell the payer and the coordinators that the payee's node refused a transfer for good."""
    agreement, data = _about(session, transfer, reason=reason, peer=str(transfer.get("peer") or ""))
    payer = _person(session, int(transfer["debit_account_id"]))  # type: ignore[call-overload]
    coordinators = session.exec(
        select(User.id).where(
            col(User.role).in_([Role.COORDINATOR.value, Role.ADMIN.value]),
            User.status == AccountStatus.ACTIVE.value,
        )
    ).all()
    for user_id in {payer, *coordinators} - {None}:
        assert user_id is not None
        href = data["href"] if user_id == payer else "/timebank/coordination"
        notify(
            user_id,
            Kind.TIMEBANK_REFUSED,
            object_uri=agreement,
            actor_uri=str(transfer["payee_uri"]) if transfer.get("payee_uri") else None,
            data={**data, "href": href},
            session=session,
        )
