"""What pages, the API and exports show: a person's balance and history, the node's figures for
coordinators (in circulation, community account, accounts near limits, velocity), CSV exports.

Velocity is the hours people moved between themselves (payments, fees, gifts) over the last 30 days,
divided by the hours in circulation (the sum of people's positive balances): how many times, in a
month, an hour in someone's account changed hands.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.timeutil import isoformat, utcnow
from node.market.models import Agreement
from node.settings import Settings
from node.timebank import accounts
from node.timebank.models import TimebankAccount, Transfer
from node.timebank.policy import AccountKind, Policy, to_hours
from node.timebank.records import open_person

PEOPLE_KINDS = ("payment", "cancellation_fee", "gift")
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Line:
    """One line of a history: a transfer as seen from one account (``amount`` signed)."""

    transfer: Transfer
    amount: int
    counterparty: str | None
    agreement_id: int | None  # the agreement's page on this node, when it has one


@dataclass(frozen=True)
class Statement:
    account: TimebankAccount
    lines: Sequence[Line]
    policy: Policy

    @property
    def available(self) -> int:
        return self.account.balance - self.account.held_out


def _agreement_pages(session: Session, ap_ids: set[str]) -> dict[str, int]:
    if not ap_ids:
        return {}
    rows = session.exec(
        select(Agreement.ap_id, Agreement.id).where(col(Agreement.ap_id).in_(list(ap_ids)))
    ).all()
    return {ap_id: agreement_id for ap_id, agreement_id in rows if agreement_id is not None}


def history(session: Session, account: TimebankAccount, limit: int = HISTORY_LIMIT) -> list[Line]:
    """The account's transfers, newest first: applied ones with their entry, open ones without."""
    assert account.id is not None
    rows = session.exec(
        select(Transfer)
        .where(
            or_(col(Transfer.debit_account_id) == account.id, col(Transfer.credit_account_id) == account.id)
        )
        .order_by(col(Transfer.created_at).desc(), col(Transfer.id).desc())
        .limit(limit)
    ).all()
    pages = _agreement_pages(session, {row.agreement_ap_id for row in rows if row.agreement_ap_id})
    found = []
    for row in rows:
        outgoing = row.debit_account_id == account.id
        found.append(
            Line(
                transfer=row,
                amount=-row.amount if outgoing else row.amount,
                counterparty=row.payee_uri if outgoing else row.payer_uri,
                agreement_id=pages.get(row.agreement_ap_id or ""),
            )
        )
    return found


def my_statement(session: Session, settings: Settings, user: User) -> Statement:
    """``user``'s account (opened with the starting credit if needed) and history."""
    policy = Policy.of(settings)
    policy.require()
    account = open_person(session, settings, policy, user)
    return Statement(account, history(session, account), policy)


def balance_of(session: Session, settings: Settings, user: User) -> int | None:
    """``user``'s available balance, without opening anything (None: no account yet or no time bank)."""
    if not Policy.of(settings).enabled:
        return None
    account = accounts.find_person_account(session, user.pk)
    return account.balance - account.held_out if account is not None else Policy.of(settings).starting_credit


@dataclass(frozen=True)
class Figures:
    circulation: int
    community: int
    people: int
    moved_30_days: int
    velocity: Decimal
    near_limits: Sequence[tuple[TimebankAccount, User]]
    open_transfers: Sequence[Transfer]
    clearing: Sequence[TimebankAccount]
    recent: Sequence[Transfer]


def figures(session: Session, settings: Settings, now: datetime | None = None) -> Figures:
    """The node's figures for coordinators (see the module docs)."""
    policy = Policy.of(settings)
    policy.require()
    now = now or utcnow()
    person = TimebankAccount.kind == AccountKind.PERSON.value
    circulation = session.exec(
        select(func.coalesce(func.sum(TimebankAccount.balance), 0)).where(
            person, col(TimebankAccount.balance) > 0
        )
    ).one()
    people = session.exec(select(func.count()).select_from(TimebankAccount).where(person)).one()
    moved = session.exec(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            col(Transfer.kind).in_(PEOPLE_KINDS),
            Transfer.state == "settled",
            col(Transfer.created_at) >= now - timedelta(days=30),
        )
    ).one()
    velocity = (
        (Decimal(moved) / Decimal(circulation)).quantize(Decimal("0.01")) if circulation else Decimal(0)
    )
    open_rows = session.exec(
        select(Transfer)
        # "not settled" names the partial index of the open transfers
        .where(col(Transfer.state) != "settled", col(Transfer.state).in_(["waiting", "pending"]))
        .order_by(col(Transfer.created_at))
        .limit(100)
    ).all()
    recent = session.exec(select(Transfer).order_by(col(Transfer.id).desc()).limit(50)).all()
    return Figures(
        circulation=int(circulation),
        community=accounts.community(session).balance,
        people=int(people),
        moved_30_days=int(moved),
        velocity=velocity,
        near_limits=accounts.person_accounts_near_limits(session, policy),
        open_transfers=open_rows,
        clearing=accounts.clearing_accounts(session),
        recent=recent,
    )


CSV_HEADER = ["date", "transfer", "kind", "state", "hours", "counterparty", "agreement", "memo"]


def history_csv(lines: Sequence[Line]) -> str:
    """A history as CSV (hours signed from the account's side, dates in UTC)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for line in lines:
        t = line.transfer
        memo = t.memo
        if memo[:1] in ("=", "+", "-", "@"):
            memo = "'" + memo  # never a formula in a spreadsheet
        writer.writerow(
            [
                isoformat(t.created_at),
                t.uri,
                t.kind,
                t.state,
                str(to_hours(line.amount)),
                line.counterparty or "",
                t.agreement_ap_id or "",
                memo,
            ]
        )
    return out.getvalue()


def transfers_csv(session: Session) -> str:
    """Every transfer of the node as CSV, for coordinators and accountants."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "date",
            "transfer",
            "kind",
            "state",
            "hours",
            "payer",
            "payee",
            "peer",
            "agreement",
            "reverses",
            "memo",
        ]
    )
    for t in session.exec(select(Transfer).order_by(col(Transfer.id))).all():
        memo = ("'" + t.memo) if t.memo[:1] in ("=", "+", "-", "@") else t.memo
        writer.writerow(
            [
                isoformat(t.created_at),
                t.uri,
                t.kind,
                t.state,
                str(to_hours(t.amount)),
                t.payer_uri or "",
                t.payee_uri or "",
                t.peer or "",
                t.agreement_ap_id or "",
                t.reverses_id or "",
                memo,
            ]
        )
    return out.getvalue()


def export_sections(user: User, actor_uri: str, *, session: Session) -> dict[str, object]:
    """A person's time bank in their account export: balance and every transfer of theirs."""
    account = accounts.find_person_account(session, user.pk)
    if account is None:
        return {"timebank": None}
    return {
        "timebank": {
            "balance": str(to_hours(account.balance)),
            "held": str(to_hours(account.held_out)),
            "transfers": [
                {
                    "id": line.transfer.uri,
                    "kind": line.transfer.kind,
                    "state": line.transfer.state,
                    "hours": str(to_hours(line.amount)),
                    "counterparty": line.counterparty,
                    "agreement": line.transfer.agreement_ap_id,
                    "memo": line.transfer.memo,
                    "at": isoformat(line.transfer.created_at),
                }
                for line in history(session, account, limit=100_000)
            ],
        }
    }


def before_accepting(
    session: Session, settings: Settings, author: User, purpose: str, bids: Sequence[object], lang: str
) -> dict[int, tuple[str, str, bool]]:
    """For the author of a demand about to accept answers priced in time tokens: per bid id, their
    balance now, after paying that answer, and whether the payment would have to wait (minimum)."""
    from node.market.models import Bid
    from node.timebank.payments import agreed_amount
    from node.timebank.policy import hours_text

    if purpose != "request" or not Policy.of(settings).enabled:
        return {}
    available = balance_of(session, settings, author)
    if available is None:
        return {}
    found: dict[int, tuple[str, str, bool]] = {}
    for bid in bids:
        if not isinstance(bid, Bid) or bid.id is None or bid.price_currency != "HOUR":
            continue
        amount = agreed_amount(bid)  # type: ignore[arg-type]
        if amount is None:
            continue
        after = available - amount
        found[bid.id] = (
            hours_text(available, lang),
            hours_text(after, lang),
            after < Policy.of(settings).min_balance,
        )
    return found
