"""Payments of agreements priced in time tokens, made by the requester's node.

The time bank reads the marketplace; the marketplace knows nothing of the time bank. A completed
agreement priced in time tokens (``HOUR``) whose requester is a person of this node is paid by the
timebank job (:mod:`node.timebank.jobs`): the requester pays the provider the agreed amount, to the
provider's account here, or through the clearing account of the provider's node. A late cancellation
by the requester carries the node's fee (``ASASAP_TIMEBANK_LATE_CANCELLATION_FEE``, at most the agreed
amount). Each is one transfer whose ``purpose`` (``payment:<agreement>``, ``fee:<agreement>``) is
unique: an agreement is paid once, even with several workers or a worker killed half-way (the
payment and its transfer commit together, or not at all, and the next pass finds it still due).

Why a job rather than a call from the marketplace: an agreement completes in several places (both
confirmations on the holder, the holder's ``Update`` on the mirror, completion by silence, a settled
dispute); the job reads the one fact that matters (the agreement's state, stored durably) and needs no
change in any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.core.errors import N_
from node.market.lifecycles import AgreementState
from node.market.models import Agreement
from node.market.money import Price, total_for
from node.settings import Settings
from node.timebank import accounts
from node.timebank.lifecycles import ExchangeState, TransferState
from node.timebank.models import Transfer
from node.timebank.policy import Policy, to_hundredths
from node.timebank.records import Parties, open_person
from node.timebank.transfers import start

PAYMENT = "payment"
FEE = "cancellation_fee"


def agreed_amount(agreement: Agreement) -> int | None:
    """The agreement's price in hundredths of an hour, when it is priced in time tokens."""
    if agreement.price_currency != "HOUR" or agreement.price_amount is None or agreement.price_amount <= 0:
        return None
    if agreement.price_basis == "total":
        return to_hundredths(agreement.price_amount)
    if agreement.quantity_hours is None:
        return None
    return to_hundredths(
        total_for(Price(agreement.price_amount, "HOUR", "per_hour"), agreement.quantity_hours).amount
    )


def _unpaid(kind: str) -> object:
    return ~(
        select(Transfer.id)
        .where(col(Transfer.agreement_ap_id) == col(Agreement.ap_id), Transfer.kind == kind)
        .exists()
    )


def _payee(session: Session, settings: Settings, policy: Policy, agreement: Agreement) -> Parties | None:
    requester = session.get(User, agreement.local_requester_id) if agreement.local_requester_id else None
    if requester is None:
        return None
    debit = open_person(session, settings, policy, requester)
    provider_uri = agreement.provider_uri
    if not local.is_local(settings, provider_uri):
        credit = accounts.clearing(session, addressing.domain_of(provider_uri))
    else:
        provider = session.get(User, agreement.local_provider_id) if agreement.local_provider_id else None
        credit = open_person(session, settings, policy, provider) if provider else accounts.community(session)
    return Parties(debit, credit, agreement.requester_uri, provider_uri)


def pay_due(session: Session, settings: Settings, policy: Policy, now: datetime, limit: int = 50) -> int:
    """Start the payments and late-cancellation fees due; how many."""
    base = select(Agreement).where(
        Agreement.price_currency == "HOUR",
        col(Agreement.local_requester_id).is_not(None),
        col(Agreement.price_amount) > 0,
    )
    completed = session.exec(
        base.where(Agreement.state == AgreementState.COMPLETED.value, _unpaid(PAYMENT))  # type: ignore[arg-type]
        .order_by(col(Agreement.completed_at), col(Agreement.id))
        .limit(limit)
    ).all()
    late: list[Agreement] = []
    if policy.late_cancellation_fee > 0:
        late = list(
            session.exec(
                base.where(
                    Agreement.state == AgreementState.CANCELLED.value,
                    col(Agreement.late_cancellation).is_(True),
                    col(Agreement.cancelled_by_uri) == col(Agreement.requester_uri),
                    _unpaid(FEE),  # type: ignore[arg-type]
                ).limit(limit)
            ).all()
        )
    started = 0
    for kind, rows in ((PAYMENT, completed), (FEE, late)):
        for agreement in rows:
            amount = agreed_amount(agreement)
            parties = _payee(session, settings, policy, agreement)
            if amount is None or parties is None:
                continue
            if kind == FEE:
                amount = min(amount, policy.late_cancellation_fee)
            start(
                session,
                settings,
                policy,
                kind,
                parties,
                amount,
                interactive=False,
                now=now,
                purpose=f"{'payment' if kind == PAYMENT else 'fee'}:{agreement.ap_id}",
                agreement=agreement.ap_id,
            )
            started += 1
    return started


def payments_of(session: Session, agreement_ap_ids: list[str]) -> dict[str, Transfer]:
    """The payment (or fee) transfer of each agreement that has one, by agreement id."""
    if not agreement_ap_ids:
        return {}
    rows = session.exec(
        select(Transfer)
        .where(col(Transfer.agreement_ap_id).in_(agreement_ap_ids), col(Transfer.kind).in_([PAYMENT, FEE]))
        .order_by(col(Transfer.id))
    ).all()
    return {row.agreement_ap_id or "": row for row in rows}


# --- the payment's state, as the agreement's page and the API show it --------------------------------

# Why a payment waits or was refused, by the code the ledger or the payee's node gave.
REASONS = {
    "minimum": N_("The requester's balance would go below the minimum: paid as soon as it allows."),
    "maximum": N_("The provider's balance would go above the maximum: paid as soon as it allows."),
    "peer-cap": N_("The clearing between the two nodes has reached its cap: paid as soon as it allows."),
    "no-time-bank": N_("The provider's node keeps no time bank."),
    "unknown-payee": N_("The provider's node does not know the provider (account closed or moved)."),
    "invalid-amount": N_("The provider's node refused the amount."),
    "agreement-mismatch": N_("The provider's node found that the payment does not match the agreement."),
    "conflicting-transfer": N_("The provider's node holds another transfer with the same id."),
}
REASON_UNKNOWN = N_("The provider's node refused the payment.")


class PaymentState:
    """The states a payment shows (plain strings, the API's values)."""

    UPCOMING = "upcoming"  # priced in tokens, not completed yet: paid on completion
    DUE = "due"  # completed, the payment starts at the job's next pass (seconds)
    AWAITED = "awaited"  # on the provider's node: the requester's node pays, nothing received yet
    WAITING = "waiting"  # a limit holds it back here; tried again until it passes
    CLEARING = "clearing"  # held here, offered to the provider's node, no final answer yet
    PAID = "paid"
    REFUSED = "refused"  # refused for good by the provider's node; the tokens were released
    REVERSED = "reversed"  # paid, then corrected by a coordinator


@dataclass(frozen=True)
class PaymentStatus:
    """Where the payment of an agreement priced in time tokens stands (``reason`` a code, ``reason_text``
    its English message id, translated by the pages)."""

    state: str
    kind: str  # payment | cancellation_fee
    amount: int  # hundredths of an hour
    transfer: str | None = None
    reason: str = ""
    reason_text: str = ""
    at: datetime | None = None


def _reason(code: str) -> str:
    return REASONS.get(code, REASON_UNKNOWN) if code else ""


def status_of(session: Session, settings: Settings, agreement: Agreement) -> PaymentStatus | None:
    """The payment (or late-cancellation fee) of ``agreement`` on this node; None when the agreement
    is not priced in time tokens, carries nothing to pay, or the node keeps no time bank."""
    amount = agreed_amount(agreement)
    if amount is None or not Policy.of(settings).enabled:
        return None
    rows = session.exec(
        select(Transfer).where(Transfer.agreement_ap_id == agreement.ap_id).order_by(col(Transfer.id))
    ).all()
    reversed_ids = {row.reverses_id for row in rows if row.kind == "reversal" and row.state == "settled"}
    found = next((row for row in rows if row.kind in (PAYMENT, FEE)), None)
    if found is None:
        return _not_started(settings, agreement, amount)
    state = found.state
    if state == TransferState.SETTLED.value:
        shown = PaymentState.REVERSED if found.id in reversed_ids else PaymentState.PAID
        return PaymentStatus(shown, found.kind, found.amount, found.uri, at=found.settled_at)
    if state == TransferState.WAITING.value:
        code = found.waiting_reason
        return PaymentStatus(PaymentState.WAITING, found.kind, found.amount, found.uri, code, _reason(code))
    if state == TransferState.PENDING.value:
        code = found.refusal if found.exchange_state == ExchangeState.DEFERRED.value else ""
        return PaymentStatus(PaymentState.CLEARING, found.kind, found.amount, found.uri, code, _reason(code))
    code = found.refusal or "refused"
    return PaymentStatus(PaymentState.REFUSED, found.kind, found.amount, found.uri, code, _reason(code))


def _not_started(settings: Settings, agreement: Agreement, amount: int) -> PaymentStatus | None:
    fee = min(amount, Policy.of(settings).late_cancellation_fee)
    payer_here = agreement.local_requester_id is not None
    if agreement.state == AgreementState.COMPLETED.value:
        return PaymentStatus(PaymentState.DUE if payer_here else PaymentState.AWAITED, PAYMENT, amount)
    if agreement.state == AgreementState.CANCELLED.value:
        late = agreement.late_cancellation and agreement.cancelled_by_uri == agreement.requester_uri
        if not late or fee <= 0 or not payer_here:
            return None  # nothing to pay (a fee charged by another node shows once it arrives)
        return PaymentStatus(PaymentState.DUE, FEE, fee)
    return PaymentStatus(PaymentState.UPCOMING, PAYMENT, amount)
