"""The double-entry ledger: the one way balances change, and the check that they add up.

Every function here works in the caller's transaction with Core statements (no ORM round trips: a
transfer is the hot path of the time bank, see ``bench/timebank.py``):

- :func:`move` changes the balances of a debit and a credit account by an amount in one ``UPDATE``
  whose ``WHERE`` carries the limits, so that two concurrent transfers cannot both pass a check that
  only one of them may pass (PostgreSQL re-evaluates the condition on the locked row; SQLite's writers
  take turns). A debit may not take a balance under its floor, a credit may not take it over its
  ceiling; a move that would, changes nothing and raises :class:`LimitRefused`.
- :func:`write_entries` writes the two entries of an applied transfer; entries are never updated or
  deleted, a correction is a new transfer.
- :func:`hold`/:func:`release`/:func:`apply_held` reserve and then apply (or free) the amount of a
  transfer to another node while the peer has not answered; reserved amounts count against the limits.
- :func:`verify` checks the whole ledger: the entries sum to zero, each balance is the sum of its
  entries, each applied transfer has its two entries, holds match the transfers waiting for a peer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, or_, select, true, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from node.core.errors import N_, Conflict
from node.core.sqlbase import table_of
from node.timebank.lifecycles import TransferState
from node.timebank.models import Entry, TimebankAccount, Transfer
from node.timebank.policy import AccountKind, Policy

ACCOUNTS = table_of(TimebankAccount)
TRANSFERS = table_of(Transfer)
ENTRIES = table_of(Entry)

MSG_BELOW_MINIMUM = N_("This would take the balance below the minimum this node allows.")
MSG_ABOVE_MAXIMUM = N_("This would take the recipient's balance above the maximum this node allows.")
MSG_PEER_CAP = N_("This would take the clearing balance with that node past its cap.")


class LimitRefused(Conflict):
    """A move that would cross a limit; ``side`` is ``debit`` or ``credit``, ``code`` says which limit
    (``minimum``, ``maximum``, ``peer-cap``) for the wire and the pages."""

    def __init__(self, side: str, kind: str) -> None:
        if kind == AccountKind.CLEARING:
            code, message = "peer-cap", MSG_PEER_CAP
        elif side == "debit":
            code, message = "minimum", MSG_BELOW_MINIMUM
        else:
            code, message = "maximum", MSG_ABOVE_MAXIMUM
        super().__init__(message)
        self.side = side
        self.kind = kind
        self.limit = code


@dataclass(frozen=True)
class Side:
    """An account as a move needs it: its id, kind and cap (for its limits)."""

    id: int
    kind: str
    cap: int | None = None

    @classmethod
    def of(cls, account: TimebankAccount) -> Side:
        assert account.id is not None
        return cls(account.id, account.kind, account.cap)


def _debit_ok(policy: Policy, side: Side, amount: int, held: bool) -> ColumnElement[bool]:
    floor = policy.floor(side.kind, side.cap)
    if floor is None:
        return true()
    reserved = ACCOUNTS.c.held_out if not held else literal(0)
    return ACCOUNTS.c.balance - reserved - amount >= floor


def _credit_ok(policy: Policy, side: Side, amount: int, held: bool) -> ColumnElement[bool]:
    ceiling = policy.ceiling(side.kind, side.cap)
    if ceiling is None:
        return true()
    reserved = ACCOUNTS.c.held_in if not held else literal(0)
    return ACCOUNTS.c.balance + reserved + amount <= ceiling


def _update_two(
    session: Session,
    debit: Side,
    credit: Side,
    values: dict[str, Any],
    undo: dict[str, Any],
    conditions: tuple[ColumnElement[bool], ColumnElement[bool]] | None,
) -> None:
    """One UPDATE of both rows; when a condition fails for one, its partner's change is undone and
    :class:`LimitRefused` names the failing side."""
    if debit.id == credit.id:
        raise ValueError("a transfer needs two different accounts")
    where: ColumnElement[bool]
    if conditions is None:
        where = ACCOUNTS.c.id.in_((debit.id, credit.id))
    else:
        where = or_(
            and_(ACCOUNTS.c.id == debit.id, conditions[0]), and_(ACCOUNTS.c.id == credit.id, conditions[1])
        )
    changed = {
        row[0]
        for row in session.execute(update(ACCOUNTS).where(where).values(**values).returning(ACCOUNTS.c.id))
    }
    if len(changed) == 2:
        return
    if changed:
        session.execute(update(ACCOUNTS).where(ACCOUNTS.c.id.in_(changed)).values(**undo))
    side = "debit" if debit.id not in changed else "credit"
    raise LimitRefused(side, debit.kind if side == "debit" else credit.kind)


def _signed(debit: Side, amount: int) -> ColumnElement[int]:
    return case((ACCOUNTS.c.id == debit.id, -amount), else_=amount)


def move(
    session: Session, policy: Policy, debit: Side, credit: Side, amount: int, *, limits: bool = True
) -> None:
    """Take ``amount`` from ``debit``'s balance and add it to ``credit``'s, within their limits
    (reserved amounts count) unless ``limits`` is false (a closing account, a settlement)."""
    conditions = (
        (_debit_ok(policy, debit, amount, held=False), _credit_ok(policy, credit, amount, held=False))
        if limits
        else None
    )
    _update_two(
        session,
        debit,
        credit,
        {"balance": ACCOUNTS.c.balance + _signed(debit, amount)},
        {"balance": ACCOUNTS.c.balance - _signed(debit, amount)},
        conditions,
    )


def hold(session: Session, policy: Policy, debit: Side, credit: Side, amount: int) -> None:
    """Reserve ``amount`` on both accounts (a transfer to another node waiting for its answer)."""
    is_debit = ACCOUNTS.c.id == debit.id
    _update_two(
        session,
        debit,
        credit,
        {
            "held_out": ACCOUNTS.c.held_out + case((is_debit, amount), else_=0),
            "held_in": ACCOUNTS.c.held_in + case((is_debit, 0), else_=amount),
        },
        {
            "held_out": ACCOUNTS.c.held_out - case((is_debit, amount), else_=0),
            "held_in": ACCOUNTS.c.held_in - case((is_debit, 0), else_=amount),
        },
        (_debit_ok(policy, debit, amount, held=False), _credit_ok(policy, credit, amount, held=False)),
    )


def release(session: Session, debit: Side, credit: Side, amount: int) -> None:
    """Free what :func:`hold` reserved (the peer refused the transfer for good)."""
    is_debit = ACCOUNTS.c.id == debit.id
    session.execute(
        update(ACCOUNTS)
        .where(ACCOUNTS.c.id.in_((debit.id, credit.id)))
        .values(
            held_out=ACCOUNTS.c.held_out - case((is_debit, amount), else_=0),
            held_in=ACCOUNTS.c.held_in - case((is_debit, 0), else_=amount),
        )
    )


def apply_held(session: Session, debit: Side, credit: Side, amount: int) -> None:
    """Apply a held transfer (the peer accepted it): the reservation becomes the balances' change."""
    is_debit = ACCOUNTS.c.id == debit.id
    session.execute(
        update(ACCOUNTS)
        .where(ACCOUNTS.c.id.in_((debit.id, credit.id)))
        .values(
            balance=ACCOUNTS.c.balance + _signed(debit, amount),
            held_out=ACCOUNTS.c.held_out - case((is_debit, amount), else_=0),
            held_in=ACCOUNTS.c.held_in - case((is_debit, 0), else_=amount),
        )
    )


def write_entries(
    session: Session, transfer_id: int, debit_id: int, credit_id: int, amount: int, at: datetime
) -> None:
    """The two entries of an applied transfer."""
    session.execute(
        insert(ENTRIES),
        [
            {"transfer_id": transfer_id, "account_id": debit_id, "amount": -amount, "created_at": at},
            {"transfer_id": transfer_id, "account_id": credit_id, "amount": amount, "created_at": at},
        ],
    )


def insert_transfer(session: Session, values: dict[str, Any]) -> int:
    """Store a transfer row; its id."""
    new_id = session.execute(insert(TRANSFERS).values(**values).returning(TRANSFERS.c.id)).scalar_one()
    return int(new_id)


# --- verification ---------------------------------------------------------------------------------


@dataclass
class Verification:
    """What :func:`verify` found; ``ok`` when there is no problem (warnings do not count)."""

    entries_sum: int = 0
    accounts: int = 0
    transfers: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.entries_sum == 0


def verify(session: Session, policy: Policy) -> Verification:
    """Check the ledger as a whole (see the module docs); limits crossed are warnings, since a policy
    may have changed after the balances were reached."""
    report = Verification()
    report.entries_sum = int(
        session.execute(select(func.coalesce(func.sum(ENTRIES.c.amount), 0))).scalar_one()
    )
    report.entries = int(session.execute(select(func.count()).select_from(ENTRIES)).scalar_one())
    report.transfers = int(session.execute(select(func.count()).select_from(TRANSFERS)).scalar_one())
    if report.entries_sum != 0:
        report.problems.append(f"the entries sum to {report.entries_sum} hundredths of an hour, not zero")
    sums = dict(
        session.execute(
            select(ENTRIES.c.account_id, func.sum(ENTRIES.c.amount)).group_by(ENTRIES.c.account_id)
        ).all()
    )
    pending = TRANSFERS.c.state == TransferState.PENDING.value
    held_out = dict(
        session.execute(
            select(TRANSFERS.c.debit_account_id, func.sum(TRANSFERS.c.amount))
            .where(pending)
            .group_by(TRANSFERS.c.debit_account_id)
        ).all()
    )
    held_in = dict(
        session.execute(
            select(TRANSFERS.c.credit_account_id, func.sum(TRANSFERS.c.amount))
            .where(pending)
            .group_by(TRANSFERS.c.credit_account_id)
        ).all()
    )
    for row in session.execute(select(ACCOUNTS)).mappings():
        report.accounts += 1
        name = row["key"]
        if row["balance"] != int(sums.get(row["id"], 0)):
            report.problems.append(
                f"account {name}: balance {row['balance']} but its entries sum to {sums.get(row['id'], 0)}"
            )
        if row["held_out"] != int(held_out.get(row["id"], 0)) or row["held_in"] != int(
            held_in.get(row["id"], 0)
        ):
            report.problems.append(f"account {name}: its holds do not match the transfers waiting for a peer")
        floor, ceiling = policy.floor(row["kind"], row["cap"]), policy.ceiling(row["kind"], row["cap"])
        if floor is not None and row["balance"] - row["held_out"] < floor:
            report.warnings.append(f"account {name}: balance under its floor")
        if ceiling is not None and row["balance"] + row["held_in"] > ceiling:
            report.warnings.append(f"account {name}: balance over its ceiling")
    per_transfer = (
        select(
            ENTRIES.c.transfer_id,
            func.count().label("n"),
            func.sum(ENTRIES.c.amount).label("total"),
            func.max(ENTRIES.c.amount).label("credit"),
        )
        .group_by(ENTRIES.c.transfer_id)
        .subquery()
    )
    odd = session.execute(
        select(TRANSFERS.c.uri, TRANSFERS.c.state, per_transfer.c.n)
        .select_from(TRANSFERS.outerjoin(per_transfer, per_transfer.c.transfer_id == TRANSFERS.c.id))
        .where(
            or_(
                and_(
                    TRANSFERS.c.state == TransferState.SETTLED.value, func.coalesce(per_transfer.c.n, 0) != 2
                ),
                and_(
                    TRANSFERS.c.state != TransferState.SETTLED.value, func.coalesce(per_transfer.c.n, 0) != 0
                ),
                per_transfer.c.total != 0,
                per_transfer.c.credit != TRANSFERS.c.amount,
            )
        )
        .limit(20)
    ).all()
    for uri, state, count in odd:
        report.problems.append(f"transfer {uri} ({state}) has {count or 0} entries that do not match it")
    return report


def balances(session: Session, account_ids: Sequence[int]) -> dict[int, int]:
    """The balances of some accounts."""
    rows = session.execute(select(ACCOUNTS.c.id, ACCOUNTS.c.balance).where(ACCOUNTS.c.id.in_(account_ids)))
    return {int(i): int(b) for i, b in rows}
