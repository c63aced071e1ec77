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
from typing import Any, NoReturn

from sqlalchemy import BigInteger, Connection, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import Session

from node.core.errors import N_, Conflict
from node.core.prepared import Prepared
from node.core.sqlbase import table_of
from node.timebank import digests
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


NO_LIMIT = 2**62  # a bound no balance reaches: "no limit" in the statements below


def bounds(policy: Policy, debit: Side, credit: Side) -> dict[str, int]:
    floor = policy.floor(debit.kind, debit.cap)
    ceiling = policy.ceiling(credit.kind, credit.cap)
    return {
        "floor": -NO_LIMIT if floor is None else floor,
        "ceiling": NO_LIMIT if ceiling is None else ceiling,
    }


def _param(name: str) -> BindParameter[int]:
    return bindparam(name, type_=BigInteger())


_D, _C, _AMOUNT = _param("debit"), _param("credit"), _param("amount")
_IS_DEBIT = ACCOUNTS.c.id == _D
_BOTH = ACCOUNTS.c.id.in_([_D, _C])
# The debit may not go under its floor, the credit not over its ceiling, reserved amounts counted.
_WITHIN = or_(
    and_(_IS_DEBIT, ACCOUNTS.c.balance - ACCOUNTS.c.held_out - _AMOUNT >= _param("floor")),
    and_(ACCOUNTS.c.id == _C, ACCOUNTS.c.balance + ACCOUNTS.c.held_in + _AMOUNT <= _param("ceiling")),
)
_SIGNED = case((_IS_DEBIT, -_AMOUNT), else_=_AMOUNT)
_HELD_OUT = case((_IS_DEBIT, _AMOUNT), else_=0)
_HELD_IN = case((_IS_DEBIT, 0), else_=_AMOUNT)
# Statements built once: the hot path only binds parameters (see bench/timebank.py).
MOVE = update(ACCOUNTS).where(_WITHIN).values(balance=ACCOUNTS.c.balance + _SIGNED).returning(ACCOUNTS.c.id)
_MOVE_FREELY = (
    update(ACCOUNTS).where(_BOTH).values(balance=ACCOUNTS.c.balance + _SIGNED).returning(ACCOUNTS.c.id)
)
_UNDO_MOVE = (
    update(ACCOUNTS).where(ACCOUNTS.c.id == _param("changed")).values(balance=ACCOUNTS.c.balance - _SIGNED)
)
_HOLD = (
    update(ACCOUNTS)
    .where(_WITHIN)
    .values(held_out=ACCOUNTS.c.held_out + _HELD_OUT, held_in=ACCOUNTS.c.held_in + _HELD_IN)
    .returning(ACCOUNTS.c.id)
)
_UNDO_HOLD = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.id == _param("changed"))
    .values(held_out=ACCOUNTS.c.held_out - _HELD_OUT, held_in=ACCOUNTS.c.held_in - _HELD_IN)
)
_RELEASE = (
    update(ACCOUNTS)
    .where(_BOTH)
    .values(held_out=ACCOUNTS.c.held_out - _HELD_OUT, held_in=ACCOUNTS.c.held_in - _HELD_IN)
)
_APPLY_HELD = (
    update(ACCOUNTS)
    .where(_BOTH)
    .values(
        balance=ACCOUNTS.c.balance + _SIGNED,
        held_out=ACCOUNTS.c.held_out - _HELD_OUT,
        held_in=ACCOUNTS.c.held_in - _HELD_IN,
    )
)
_INSERT_TRANSFER = Prepared(insert(TRANSFERS).returning(TRANSFERS.c.id))
_INSERT_ENTRIES = Prepared(insert(ENTRIES))
_MOVE_AT_DRIVER = Prepared(MOVE)
_MOVE_FREELY_AT_DRIVER = Prepared(_MOVE_FREELY)


def _connection(session: Session) -> Connection:
    return session.connection()


def _two(
    session: Session, statement: Any, undo: Any, debit: Side, credit: Side, params: dict[str, int]
) -> None:
    """Run a conditional two-row ``statement``; when the condition fails for one row, undo its partner's
    change and raise :class:`LimitRefused` naming the failing side."""
    if debit.id == credit.id:
        raise ValueError("a transfer needs two different accounts")
    if isinstance(statement, Prepared):
        changed = {row[0] for row in statement.run(session, params)}
    else:
        changed = {row[0] for row in _connection(session).execute(statement, params)}
    if len(changed) != 2:
        refuse(session, debit, credit, params, changed, undo)


def refuse(
    session: Session,
    debit: Side,
    credit: Side,
    params: dict[str, int],
    changed: set[int],
    undo: Any = _UNDO_MOVE,
) -> NoReturn:
    """A conditional two-row statement (:data:`MOVE` unless ``undo`` says otherwise) changed only the
    rows ``changed``: undo their change and raise :class:`LimitRefused` naming the failing side."""
    connection = _connection(session)
    for account_id in changed:
        connection.execute(undo, {**params, "changed": account_id})
    raise refusal(debit, credit, changed)


def refusal(debit: Side, credit: Side, changed: set[int]) -> LimitRefused:
    """The refusal of a move that changed only the rows ``changed`` (the side that failed named)."""
    side = "debit" if debit.id not in changed else "credit"
    return LimitRefused(side, debit.kind if side == "debit" else credit.kind)


def move(
    session: Session, policy: Policy, debit: Side, credit: Side, amount: int, *, limits: bool = True
) -> None:
    """Take ``amount`` from ``debit``'s balance and add it to ``credit``'s, within their limits
    (reserved amounts count) unless ``limits`` is false (a closing account, a settlement)."""
    params = {"debit": debit.id, "credit": credit.id, "amount": amount}
    if not limits:
        if debit.id == credit.id:
            raise ValueError("a transfer needs two different accounts")
        _MOVE_FREELY_AT_DRIVER.run(session, params)
        return
    _two(session, _MOVE_AT_DRIVER, _UNDO_MOVE, debit, credit, {**params, **bounds(policy, debit, credit)})


def hold(session: Session, policy: Policy, debit: Side, credit: Side, amount: int) -> None:
    """Reserve ``amount`` on both accounts (a transfer to another node waiting for its answer)."""
    params = {"debit": debit.id, "credit": credit.id, "amount": amount, **bounds(policy, debit, credit)}
    _two(session, _HOLD, _UNDO_HOLD, debit, credit, params)


def release(session: Session, debit: Side, credit: Side, amount: int) -> None:
    """Free what :func:`hold` reserved (the peer refused the transfer for good)."""
    _connection(session).execute(_RELEASE, {"debit": debit.id, "credit": credit.id, "amount": amount})


def apply_held(session: Session, debit: Side, credit: Side, amount: int) -> None:
    """Apply a held transfer (the peer accepted it): the reservation becomes the balances' change."""
    _connection(session).execute(_APPLY_HELD, {"debit": debit.id, "credit": credit.id, "amount": amount})


def write_entries(
    session: Session, transfer_id: int, debit_id: int, credit_id: int, amount: int, at: datetime
) -> None:
    """The two entries of an applied transfer."""
    _INSERT_ENTRIES.run_many(
        session,
        [
            {"transfer_id": transfer_id, "account_id": debit_id, "amount": -amount, "created_at": at},
            {"transfer_id": transfer_id, "account_id": credit_id, "amount": amount, "created_at": at},
        ],
    )


def insert_transfer(session: Session, values: dict[str, Any]) -> int:
    """Store a transfer row (one with a peer node in its group, see :mod:`node.timebank.digests`); its
    id."""
    if values.get("peer"):
        values = {**values, "bucket": digests.bucket_of(str(values["uri"]))}
    ((new_id,),) = _INSERT_TRANSFER.run(session, values)
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


def verify(session: Session, policy: Policy, domain: str | None = None) -> Verification:
    """Check the ledger as a whole (see the module docs); limits crossed are warnings, since a policy
    may have changed after the balances were reached. The kept digests of the clearing accounts too
    (:mod:`node.timebank.digests`; ``domain``: this node's, else that of the transfer ids it minted)."""
    report = Verification()
    report.problems += digests.check(session, domain)
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
