"""Transfers between nodes: the payer's node holds, offers and settles; the payee's node decides once.

The payer's node (the node of the person who pays) mints the transfer id, reserves the amount on the
payer's account and under the peer's cap (:func:`hold_and_offer`), and sends its node actor's ``Offer``
of the transfer (a ValueFlows ``EconomicEvent``) to the payee. The payee's node (:func:`receive`)
accepts a transfer only when the signer has the payer's origin and the transfer id too; it applies its
half (debit of the payer's node's clearing account, credit of the payee) once per transfer id, and
answers ``Accept``; or ``Reject`` with a code: for good (unknown payee, a market node, an amount that
does not match the agreement), stored so that a copy arriving later gets the same answer; or for now
(its cap with us, the payee's maximum), not stored, so that a later offer is decided afresh. Any
message may be lost, repeated or come late:

- the payer's node offers again (a new activity, the same transfer id) while it has no final answer
  (:func:`offer_due`), doubling the wait from ``ASASAP_TIMEBANK_RETRY_SECONDS`` up to an hour;
- the payee's node answers every copy from what it stored: a transfer is applied there at most once;
- an ``Accept`` settles the transfer on the payer's node whichever attempt it answers (the payee's
  node never takes back what it applied); a repeated ``Accept`` changes nothing;
- reconciliation (:mod:`node.timebank.reconcile`) repairs what a message lost for good left half-done.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.outbox.publish import publish
from node.core.errors import DomainError
from node.core.timeutil import utcnow
from node.market.lifecycles import AgreementState
from node.market.models import Agreement
from node.market.money import Price, total_for
from node.settings import Settings
from node.timebank import accounts, digests, ledger, notices, vocab
from node.timebank.ledger import LimitRefused, Side
from node.timebank.lifecycles import EXCHANGE_LIFECYCLE, TRANSFER_LIFECYCLE, ExchangeState, TransferState
from node.timebank.models import TimebankAccount, Transfer
from node.timebank.policy import Policy, checked_amount, to_hours
from node.timebank.records import Parties, apply_local, open_person, values_of

log = logging.getLogger("asasap.timebank")

WIRE_KIND = {"payment": "payment", "cancellation_fee": "cancellation-fee", "gift": "gift"}
LOCAL_KIND = {wire: kind for kind, wire in WIRE_KIND.items()}
MAX_WAIT_FACTOR = 60  # the wait between offers grows up to 60 × the base (an hour by default)


class NotThePayersNode(Exception):  # noqa: N818 - a refusal reason for the inbox
    """A transfer claimed by another origin than the payer's."""


def offer_path(settings: Settings) -> str:
    return settings.url("/timebank/offers/")


def backoff(policy: Policy, attempts: int) -> object:
    return min(policy.retry * (2 ** max(attempts - 1, 0)), policy.retry * MAX_WAIT_FACTOR)


# --- the payer's node ------------------------------------------------------------------------------


def _publish_offer(
    session: Session, settings: Settings, policy: Policy, transfer: Transfer, now: datetime
) -> None:
    assert transfer.payer_uri is not None and transfer.payee_uri is not None
    offer = vocab.TransferOffer(
        id=settings.url(f"/timebank/offers/{uuid.uuid4()}"),
        actor=local.node_actor(settings).uri,
        event=vocab.TransferEvent(
            id=transfer.uri,
            payer=transfer.payer_uri,
            payee=transfer.payee_uri,
            hours=to_hours(transfer.amount),
            kind=WIRE_KIND[transfer.kind],
            at=transfer.created_at,
            agreement=transfer.agreement_ap_id,
            note=transfer.memo if transfer.kind == "gift" else "",
        ),
    )
    publish(
        settings,
        actor=local.node_actor(settings),
        activity=vocab.offer_to_json(offer),
        recipients=[transfer.payee_uri],
        session=session,
    )
    transfer.offer_activity_id = offer.id
    transfer.attempts += 1
    transfer.next_attempt_at = now + backoff(policy, transfer.attempts)  # type: ignore[operator]
    session.add(transfer)


def hold_and_offer(
    session: Session,
    settings: Settings,
    policy: Policy,
    values: dict[str, object],
    debit: TimebankAccount,
    clearing: TimebankAccount,
    *,
    interactive: bool,
) -> int:
    """Store a transfer to another node: held and offered, or (automatic, a limit stopping it) waiting."""
    now = values["created_at"]
    assert isinstance(now, datetime)
    amount = int(values["amount"])  # type: ignore[call-overload]
    try:
        ledger.hold(session, policy, Side.of(debit), Side.of(clearing), amount)
    except LimitRefused as refused:
        if interactive:
            raise
        values.update(waiting_reason=refused.limit, next_attempt_at=now + policy.retry)
        transfer_id = ledger.insert_transfer(session, values)
        notices.waiting(session, values, refused.limit)
        return transfer_id
    TRANSFER_LIFECYCLE.check(TransferState.WAITING, TransferState.PENDING)
    transfer_id = ledger.insert_transfer(
        session,
        {**values, "state": TransferState.PENDING.value, "exchange_state": ExchangeState.OFFERING.value},
    )
    transfer = session.get(Transfer, transfer_id)
    assert transfer is not None
    _publish_offer(session, settings, policy, transfer, now)
    return transfer_id


def hold_waiting(
    session: Session,
    settings: Settings,
    policy: Policy,
    transfer: Transfer,
    debit: TimebankAccount,
    clearing: TimebankAccount,
    now: datetime,
) -> None:
    """A waiting transfer to another node, now within the limits: held and offered."""
    ledger.hold(session, policy, Side.of(debit), Side.of(clearing), transfer.amount)
    transfer.state = TRANSFER_LIFECYCLE.check(transfer.state, TransferState.PENDING).value
    transfer.exchange_state = ExchangeState.OFFERING.value
    transfer.waiting_reason = ""
    transfer.attempts = 0
    _publish_offer(session, settings, policy, transfer, now)


def offer_due(session: Session, settings: Settings, policy: Policy, now: datetime, limit: int = 100) -> int:
    """Offer again the transfers without a final answer whose wait is over; how many."""
    due = session.exec(
        select(Transfer)
        .where(
            col(Transfer.exchange_state).in_([ExchangeState.OFFERING.value, ExchangeState.DEFERRED.value]),
            col(Transfer.next_attempt_at) <= now,
        )
        .order_by(col(Transfer.next_attempt_at), col(Transfer.id))
        .limit(limit)
    ).all()
    for transfer in due:
        transfer.exchange_state = EXCHANGE_LIFECYCLE.step(
            transfer.exchange_state or "", ExchangeState.OFFERING
        ).value
        _publish_offer(session, settings, policy, transfer, now)
    return len(due)


def offer_now(session: Session, transfer: Transfer, now: datetime) -> None:
    """Have a transfer without a final answer offered again at the next pass (reconciliation)."""
    transfer.next_attempt_at = now
    session.add(transfer)


def settle(session: Session, settings: Settings, transfer: Transfer, now: datetime) -> bool:
    """The peer accepted: apply the held transfer here; False when it was settled already."""
    if transfer.state == TransferState.SETTLED.value:
        return False
    if transfer.state != TransferState.PENDING.value:
        log.error("transfer %s accepted by its peer while %s here", transfer.uri, transfer.state)
        return False
    debit, credit = Side(transfer.debit_account_id, ""), Side(transfer.credit_account_id, "")
    ledger.apply_held(session, debit, credit, transfer.amount)
    ledger.write_entries(session, transfer.id or 0, debit.id, credit.id, transfer.amount, now)
    peer = transfer.peer or ""
    ours = digests.payer_node(settings.domain, peer, transfer.direction, transfer.kind)
    digests.settled(session, peer, transfer.uri, ours, transfer.amount)
    transfer.state = TRANSFER_LIFECYCLE.check(transfer.state, TransferState.SETTLED).value
    transfer.exchange_state = EXCHANGE_LIFECYCLE.step(
        transfer.exchange_state or "", ExchangeState.ACCEPTED
    ).value
    transfer.settled_at = now
    transfer.next_attempt_at = None
    session.add(transfer)
    return True


def refuse(
    session: Session,
    policy: Policy,
    transfer: Transfer,
    code: str,
    text: str,
    *,
    retryable: bool,
    now: datetime,
) -> bool:
    """The peer refused: for now (offered again later, still held) or for good (the hold released)."""
    if transfer.state != TransferState.PENDING.value:
        return False
    told = bool(transfer.refusal)  # deferred before: the payer already knows it waits
    transfer.refusal, transfer.refusal_text = code[:40], text[:500]
    if retryable:
        if not told:
            notices.waiting(session, transfer.model_dump(), transfer.refusal)
        transfer.exchange_state = EXCHANGE_LIFECYCLE.step(
            transfer.exchange_state or "", ExchangeState.DEFERRED
        ).value
        transfer.next_attempt_at = now + backoff(policy, transfer.attempts + 1)  # type: ignore[operator]
    else:
        ledger.release(
            session,
            Side(transfer.debit_account_id, ""),
            Side(transfer.credit_account_id, ""),
            transfer.amount,
        )
        transfer.state = TRANSFER_LIFECYCLE.check(transfer.state, TransferState.REFUSED).value
        transfer.exchange_state = EXCHANGE_LIFECYCLE.step(
            transfer.exchange_state or "", ExchangeState.REFUSED
        ).value
        transfer.next_attempt_at = None
        notices.refused(session, transfer.model_dump(), transfer.refusal)
    session.add(transfer)
    return True


def on_answer(session: Session, settings: Settings, answer: vocab.TransferAnswer, signer: str) -> bool:
    """An ``Accept``/``Reject`` of one of our offers, signed by ``signer``; whether anything changed.

    Raises :class:`NotThePayersNode` when the signer is not of the payee's origin."""
    transfer = None
    if answer.transfer is not None and local.is_local(settings, answer.transfer):
        transfer = session.exec(
            select(Transfer).where(Transfer.uri == answer.transfer).with_for_update()
        ).first()
    if transfer is None:
        transfer = session.exec(
            select(Transfer).where(Transfer.offer_activity_id == answer.offer_id).with_for_update()
        ).first()
    if transfer is None or transfer.direction != "out":
        return False
    if transfer.payee_uri is None or addressing.origin(signer) != addressing.origin(transfer.payee_uri):
        raise NotThePayersNode("the answer is not signed by the payee's node")
    now = utcnow()
    if answer.accepted:
        return settle(session, settings, transfer, now)
    if answer.offer_id != transfer.offer_activity_id and answer.retryable:
        return False  # an answer to an older attempt: the latest one decides
    return refuse(
        session,
        Policy.of(settings),
        transfer,
        answer.refusal,
        answer.reason,
        retryable=answer.retryable,
        now=now,
    )


# --- the payee's node ------------------------------------------------------------------------------


def _answer(
    settings: Settings, offer: vocab.TransferOffer, *, refusal: str = "", reason: str = ""
) -> vocab.TransferAnswer:
    return vocab.TransferAnswer(
        id=local.new_activity_id(settings),
        actor=local.node_actor(settings).uri,
        offer_id=offer.id,
        accepted=not refusal,
        transfer=offer.event.id,
        refusal=refusal,
        retryable=vocab.REFUSALS.get(refusal, False),
        reason=reason,
    )


def _same(stored: Transfer, event: vocab.TransferEvent) -> bool:
    return (
        stored.payer_uri == event.payer
        and stored.payee_uri == event.payee
        and to_hours(stored.amount) == event.hours
        and stored.direction == "in"
    )


def _agreement_problem(session: Session, event: vocab.TransferEvent, amount: int) -> str | None:
    """Why ``event`` does not fit the agreement it names, when this node knows that agreement."""
    if event.agreement is None:
        return None if event.kind == "gift" else "a payment names no agreement"
    agreement = session.exec(select(Agreement).where(Agreement.ap_id == event.agreement)).first()
    if agreement is None:
        return None
    if (agreement.requester_uri, agreement.provider_uri) != (event.payer, event.payee):
        return "the transfer's parties are not the agreement's"
    if agreement.price_currency != "HOUR" or agreement.price_amount is None or agreement.price_basis is None:
        return "the agreement is not priced in time tokens"
    price = Price(agreement.price_amount, "HOUR", "total" if agreement.price_basis == "total" else "per_hour")
    total = total_for(price, agreement.quantity_hours or 0).amount  # type: ignore[arg-type]
    if event.kind == "payment" and (
        event.hours != total or agreement.state == AgreementState.CANCELLED.value
    ):
        return "the amount is not the agreement's price"
    if event.kind == "cancellation-fee" and event.hours > total:
        return "the fee is more than the agreement's price"
    return None


def _payee(session: Session, settings: Settings, uri: str) -> User | None:
    username = local.local_username(settings, uri)
    user = session.exec(select(User).where(User.username == username)).first() if username else None
    return user if user is not None and user.status == AccountStatus.ACTIVE.value else None


def _store_refusal(
    session: Session, settings: Settings, offer: vocab.TransferOffer, peer: str, code: str, amount: int
) -> None:
    event = offer.event
    parties = Parties(accounts.clearing(session, peer), accounts.community(session), event.payer, event.payee)
    values = values_of(
        settings, LOCAL_KIND[event.kind], parties, amount, event.at, uri=event.id, peer=peer, direction="in"
    )
    ledger.insert_transfer(session, {**values, "state": TransferState.REFUSED.value, "refusal": code})


def receive(
    session: Session, settings: Settings, offer: vocab.TransferOffer, signer: str
) -> vocab.TransferAnswer | None:
    """Decide on a transfer offered by another node (see the module docs); the answer to send, None
    when it is not for this node. Raises :class:`NotThePayersNode` for a claim of another origin."""
    event = offer.event
    origin = addressing.origin(signer)
    if addressing.origin(event.payer) != origin or addressing.origin(event.id) != origin:
        raise NotThePayersNode("the transfer is not claimed by the payer's node")
    if not local.is_local(settings, event.payee):
        return None
    policy = Policy.of(settings)
    if not policy.enabled:
        return _answer(settings, offer, refusal="no-time-bank", reason="This node keeps no time bank.")
    stored = session.exec(select(Transfer).where(Transfer.uri == event.id).with_for_update()).first()
    if stored is not None:
        if not _same(stored, event):
            return _answer(
                settings, offer, refusal="conflicting-transfer", reason="Another transfer has this id."
            )
        if stored.state == TransferState.SETTLED.value:
            return _answer(settings, offer)
        return _answer(settings, offer, refusal=stored.refusal or "unknown-payee")
    try:
        amount = checked_amount(event.hours)
    except DomainError as exc:
        return _answer(settings, offer, refusal="invalid-amount", reason=exc.message)
    problem = _agreement_problem(session, event, amount)
    if problem is not None:
        return _answer(settings, offer, refusal="agreement-mismatch", reason=problem)
    peer = addressing.domain_of(signer)
    payee = _payee(session, settings, event.payee)
    if payee is None:
        _store_refusal(session, settings, offer, peer, "unknown-payee", amount)
        return _answer(settings, offer, refusal="unknown-payee", reason="Nobody with this address here.")
    clearing = accounts.clearing(session, peer)
    parties = Parties(clearing, open_person(session, settings, policy, payee), event.payer, event.payee)
    values = values_of(
        settings,
        LOCAL_KIND[event.kind],
        parties,
        amount,
        event.at,
        uri=event.id,
        memo=event.note,
        agreement=event.agreement,
        peer=peer,
        direction="in",
    )
    try:
        apply_local(session, policy, values, parties)
    except LimitRefused as refused:
        return _answer(settings, offer, refusal=refused.limit, reason=str(refused.message))
    return _answer(settings, offer)


def send_answer(session: Session, settings: Settings, answer: vocab.TransferAnswer, to: str) -> None:
    """Publish the answer to the payer's node (in the transaction that decided it)."""
    publish(
        settings,
        actor=local.node_actor(settings),
        activity=vocab.answer_to_json(answer, to),
        recipients=[to],
        session=session,
    )
