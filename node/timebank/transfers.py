"""Transfers inside the node and the start of transfers to other nodes.

- :func:`open_person` opens a person's account with the node's starting credit, from the community
  account, once (``purpose`` ``start:<user id>``): the job does it for every active person, the
  pages do it on a first visit.
- :func:`give` is a gift from one person to another, here or on another node, which the giver
  confirms (it cannot be taken back by the giver).
- :func:`grant` and :func:`levy` are a coordinator's transfer from or to the community account,
  with the reason, which the person sees in their history.
- :func:`reverse` is a coordinator's correction: a new transfer the other way, naming the one it
  reverses (a transfer is reversed at most once; one with another node is not reversed here).
- :func:`start` records a transfer and moves it as far as the limits allow: applied at once inside
  the node; to another node, held here and offered to the payee's node (:mod:`node.timebank.exchange`);
  an automatic transfer a limit stops waits (``waiting``) and is tried again by the job
  (:func:`retry_waiting`), an interactive one is refused with the limit's message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.core.db import session_scope
from node.core.errors import N_, Conflict, NotFound, PermissionDenied, ValidationFailed
from node.core.sqlbase import table_of
from node.core.text import plain_text
from node.settings import Settings
from node.timebank import accounts, exchange, ledger, notices, records
from node.timebank.ledger import LimitRefused, Side
from node.timebank.lifecycles import TRANSFER_LIFECYCLE, TransferState
from node.timebank.models import Transfer
from node.timebank.policy import AccountKind, Policy, amount_from_text
from node.timebank.records import Parties, apply_local, open_person, values_of
from node.timebank.records import now as records_now

log = logging.getLogger("asasap.timebank")

MEMO_MAX = 500
MSG_CONFIRM_GIFT = N_("Confirm the gift: once made, only a coordinator can undo it.")
MSG_NO_RECIPIENT = N_("Nobody with this name here.")
MSG_TO_ONESELF = N_("You cannot transfer time to yourself.")
MSG_REASON_REQUIRED = N_("Give the reason: the person will see it.")
MSG_REASON_TOO_LONG = N_("At most 500 characters.")
MSG_COORDINATORS_ONLY = N_("This is for coordinators.")
MSG_NO_SUCH_TRANSFER = N_("No such transfer.")
MSG_ALREADY_REVERSED = N_("This transfer was already reversed.")
MSG_NOT_REVERSIBLE = N_("Only a transfer applied inside this node can be reversed here.")


def start(
    session: Session,
    settings: Settings,
    policy: Policy,
    kind: str,
    parties: Parties,
    amount: int,
    *,
    interactive: bool,
    now: datetime | None = None,
    **details: object,
) -> Transfer:
    """Record a transfer and move it as far as the limits allow (see the module docs)."""
    now = now or records_now()
    remote = parties.credit.kind == AccountKind.CLEARING
    values = values_of(settings, kind, parties, amount, now, **details)  # type: ignore[arg-type]
    if remote:
        values.update(peer=parties.credit.peer, direction="out")
        transfer_id = exchange.hold_and_offer(
            session, settings, policy, values, parties.debit, parties.credit, interactive=interactive
        )
    else:
        try:
            transfer_id = apply_local(session, policy, values, parties)
        except LimitRefused as refused:
            if interactive:
                raise
            values.update(waiting_reason=refused.limit, next_attempt_at=now + policy.retry)
            transfer_id = ledger.insert_transfer(session, values)
            notices.waiting(session, values, refused.limit)
    session.flush()
    found = session.get(Transfer, transfer_id)
    assert found is not None
    session.refresh(found)
    return found


def retry_waiting(
    session: Session, settings: Settings, policy: Policy, now: datetime, limit: int = 100
) -> int:
    """Try again the automatic transfers a limit stopped, whose time has come; how many moved on."""
    due = session.exec(
        select(Transfer)
        .where(
            col(Transfer.state) != TransferState.SETTLED.value,  # the partial index of the open ones
            Transfer.state == TransferState.WAITING.value,
            col(Transfer.next_attempt_at) <= now,
        )
        .order_by(col(Transfer.next_attempt_at), col(Transfer.id))
        .limit(limit)
    ).all()
    moved = 0
    for transfer in due:
        debit = accounts.by_id(session, transfer.debit_account_id)
        credit = accounts.by_id(session, transfer.credit_account_id)
        try:
            if credit.kind == AccountKind.CLEARING:
                exchange.hold_waiting(session, settings, policy, transfer, debit, credit, now)
            else:
                ledger.move(session, policy, Side.of(debit), Side.of(credit), transfer.amount)
                ledger.write_entries(
                    session, transfer.id or 0, Side.of(debit).id, Side.of(credit).id, transfer.amount, now
                )
                transfer.state = TRANSFER_LIFECYCLE.check(transfer.state, TransferState.SETTLED).value
                transfer.settled_at = now
                transfer.waiting_reason = ""
                session.add(transfer)
                notices.received(session, transfer.model_dump(), credit.user_id)
            moved += 1
        except LimitRefused as refused:
            waits = min(policy.retry * (2 ** min(transfer.attempts, 6)), policy.retry * 60)
            session.execute(
                update(table_of(Transfer))
                .where(table_of(Transfer).c.id == transfer.id)
                .values(
                    waiting_reason=refused.limit, attempts=transfer.attempts + 1, next_attempt_at=now + waits
                )
            )
            session.refresh(transfer)
    return moved


# --- opening accounts ------------------------------------------------------------------------------


def open_accounts(session: Session, settings: Settings, policy: Policy) -> int:
    """Open the accounts of the active people who have none yet; how many."""
    people = accounts.people_without_account(session)
    for user in people:
        open_person(session, settings, policy, user)
    return len(people)


# --- gifts, grants, levies, reversals -------------------------------------------------------------


def _memo(text: str, *, required: bool) -> str:
    cleaned = plain_text(text, MEMO_MAX + 1, multiline=True)
    if len(cleaned) > MEMO_MAX:
        raise ValidationFailed(MSG_REASON_TOO_LONG, fields={"reason": MSG_REASON_TOO_LONG})
    if required and not cleaned:
        raise ValidationFailed(MSG_REASON_REQUIRED, fields={"reason": MSG_REASON_REQUIRED})
    return cleaned


def local_member(session: Session, username: str) -> User:
    """An active person of this node, by username."""
    name = username.strip().lstrip("@").lower()
    user = session.exec(select(User).where(User.username == name)).first() if name else None
    if user is None or user.status != AccountStatus.ACTIVE.value:
        raise ValidationFailed(MSG_NO_RECIPIENT, fields={"recipient": MSG_NO_RECIPIENT})
    return user


def resolve_recipient(session: Session, settings: Settings, text: str) -> User | str:
    """A recipient as typed: a local username (or this node's profile address), else the address of a
    person on another node (their actor URI)."""
    text = text.strip()
    if text.startswith(("http://", "https://")):
        if not addressing.is_uri(text):
            raise ValidationFailed(MSG_NO_RECIPIENT, fields={"recipient": MSG_NO_RECIPIENT})
        username = local.local_username(settings, text)
        if username is None and local.is_local(settings, text):
            raise ValidationFailed(MSG_NO_RECIPIENT, fields={"recipient": MSG_NO_RECIPIENT})
        if username is None:
            return text.split("#", 1)[0]
        text = username
    return local_member(session, text)


@dataclass(frozen=True)
class Planned:
    """A transfer checked and ready to start (:func:`plan_gift`, :func:`plan_community`)."""

    policy: Policy
    kind: str
    parties: Parties
    amount: int
    memo: str
    by: User


def give(
    session: Session,
    settings: Settings,
    giver: User,
    recipient: str,
    amount: str,
    message: str = "",
    *,
    confirm: bool,
) -> Transfer:
    """A gift of ``amount`` hours from ``giver`` to ``recipient`` (see :func:`resolve_recipient`)."""
    planned = plan_gift(session, settings, giver, recipient, amount, message, confirm=confirm)
    return _start(session, settings, planned)


def plan_gift(
    session: Session,
    settings: Settings,
    giver: User,
    recipient: str,
    amount: str,
    message: str = "",
    *,
    confirm: bool,
) -> Planned:
    """:func:`give` checked, the accounts opened, nothing moved yet."""
    policy = Policy.of(settings)
    policy.require()
    hundredths = amount_from_text(amount)
    memo = _memo(message, required=False)
    target = resolve_recipient(session, settings, recipient)
    if isinstance(target, User) and target.id == giver.id:
        raise ValidationFailed(MSG_TO_ONESELF, fields={"recipient": MSG_TO_ONESELF})
    if not confirm:
        raise ValidationFailed(MSG_CONFIRM_GIFT, fields={"confirm": MSG_CONFIRM_GIFT})
    debit = open_person(session, settings, policy, giver)
    giver_uri = local.person(settings, giver).uri
    if isinstance(target, User):
        parties = Parties(
            debit,
            open_person(session, settings, policy, target),
            giver_uri,
            local.person(settings, target).uri,
        )
    else:
        parties = Parties(debit, accounts.clearing(session, addressing.domain_of(target)), giver_uri, target)
    return Planned(policy, "gift", parties, hundredths, memo, giver)


def _start(session: Session, settings: Settings, planned: Planned) -> Transfer:
    return start(
        session,
        settings,
        planned.policy,
        planned.kind,
        planned.parties,
        planned.amount,
        interactive=True,
        memo=planned.memo,
        by=planned.by,
    )


def at_once(engine: Engine, settings: Settings, plan: Callable[[Session], Planned]) -> Transfer:
    """A gift, grant or levy as the pages and the API make it: ``plan`` (:func:`plan_gift`,
    :func:`plan_community` given their arguments) in a session, then, inside the node, the transfer in
    a transaction of its own on the driver's connection (:func:`records.transfer`, the time bank's hot
    path); a gift to another node is started in the session (:mod:`node.timebank.exchange`). The
    accounts opened by ``plan`` stay open if the transfer is refused."""
    with session_scope(engine, write=True) as session:
        planned = plan(session)
        if planned.parties.credit.kind == AccountKind.CLEARING:
            return _start(session, settings, planned)
    values = values_of(
        settings,
        planned.kind,
        planned.parties,
        planned.amount,
        records_now(),
        memo=planned.memo,
        by=planned.by,
    )
    transfer_id = records.transfer(engine, planned.policy, values, planned.parties)
    at = values["created_at"]
    return Transfer.model_validate(
        {**values, "id": transfer_id, "state": TransferState.SETTLED.value, "settled_at": at}
    )


def _coordinator(user: User) -> None:
    if not user.is_coordinator:
        raise PermissionDenied(MSG_COORDINATORS_ONLY)


def grant(
    session: Session, settings: Settings, coordinator: User, username: str, amount: str, reason: str
) -> Transfer:
    """A coordinator grants hours from the community account to a person, saying why."""
    return _community_transfer(session, settings, coordinator, username, amount, reason, "grant")


def levy(
    session: Session, settings: Settings, coordinator: User, username: str, amount: str, reason: str
) -> Transfer:
    """A coordinator takes hours from a person to the community account, saying why."""
    return _community_transfer(session, settings, coordinator, username, amount, reason, "levy")


def _community_transfer(
    session: Session,
    settings: Settings,
    coordinator: User,
    username: str,
    amount: str,
    reason: str,
    kind: str,
) -> Transfer:
    planned = plan_community(session, settings, coordinator, username, amount, reason, kind)
    return _start(session, settings, planned)


def plan_community(
    session: Session,
    settings: Settings,
    coordinator: User,
    username: str,
    amount: str,
    reason: str,
    kind: str,
) -> Planned:
    """A grant (``kind`` ``grant``) or a levy (``levy``) checked, the account opened, nothing moved yet."""
    _coordinator(coordinator)
    policy = Policy.of(settings)
    policy.require()
    hundredths = amount_from_text(amount)
    memo = _memo(reason, required=True)
    person = local_member(session, username)
    account = open_person(session, settings, policy, person)
    community = accounts.community(session)
    person_uri = local.person(settings, person).uri
    parties = (
        Parties(community, account, None, person_uri)
        if kind == "grant"
        else Parties(account, community, person_uri, None)
    )
    return Planned(policy, kind, parties, hundredths, memo, coordinator)


def reverse(
    session: Session, settings: Settings, coordinator: User, transfer_id: int, reason: str
) -> Transfer:
    """A coordinator reverses a transfer applied inside the node: a new transfer the other way."""
    _coordinator(coordinator)
    policy = Policy.of(settings)
    policy.require()
    memo = _memo(reason, required=True)
    original = session.get(Transfer, transfer_id, with_for_update=True)
    if original is None:
        raise NotFound(MSG_NO_SUCH_TRANSFER)
    if original.state != TransferState.SETTLED.value or original.direction or original.kind == "reversal":
        raise Conflict(MSG_NOT_REVERSIBLE)
    if session.exec(select(Transfer.id).where(Transfer.reverses_id == original.id)).first() is not None:
        raise Conflict(MSG_ALREADY_REVERSED)
    parties = Parties(
        accounts.by_id(session, original.credit_account_id),
        accounts.by_id(session, original.debit_account_id),
        original.payee_uri,
        original.payer_uri,
    )
    return start(
        session,
        settings,
        policy,
        "reversal",
        parties,
        original.amount,
        interactive=True,
        memo=memo,
        by=coordinator,
        reverses=original.id,
        agreement=original.agreement_ap_id,
    )
