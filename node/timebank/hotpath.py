"""A transfer applied inside the node, as the driver runs it: the hot path of the time bank
(``bench/timebank.py``), taken by every service that applies a transfer here (gift, grant, levy,
reversal, agreement payment and fee, starting credit, the payee's half of a transfer from a peer).

Four statements in the session's transaction, on one DB-API cursor of its connection:

1. both balances in one ``UPDATE`` whose ``WHERE`` carries the limits (:mod:`.ledger`), ``RETURNING``
   the ids it changed (fewer than two: the move is undone and refused, see :func:`ledger.refuse`);
2. the transfer row, naming only what varies: the columns every transfer applied here has the same
   (its state, no attempts, no refusal, no waiting reason) are literals of the statement;
3. its two entries in one ``INSERT`` of two rows;
4. the payee's notification of the hours received (:func:`notices.received_row`), when there is one: the
   row the notification e-mails read later (:mod:`node.emails.notices`), nothing more on this path.

Their SQL is compiled once per dialect from Core statements; a run binds a plain tuple (SQLite) or
mapping (PostgreSQL) and converts the time once for the four. On SQLite the transfer's id is the
cursor's ``lastrowid`` (nothing to fetch); PostgreSQL returns it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, NoReturn

from sqlalchemy import bindparam, insert, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import Session

from node.core.prepared import driver
from node.core.sqlbase import table_of
from node.market.models import Notification
from node.timebank import ledger
from node.timebank.ledger import ENTRIES, TRANSFERS, Side
from node.timebank.lifecycles import TransferState
from node.timebank.policy import Policy

# What varies from one transfer applied here to another (``values_of``'s keys, the group and the time).
VARYING = (
    "uri",
    "kind",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "payer_uri",
    "payee_uri",
    "peer",
    "bucket",
    "direction",
    "purpose",
    "agreement_ap_id",
    "reverses_id",
    "memo",
    "created_by_id",
    "created_at",
    "settled_at",
)
# The same for every transfer applied here: literals of the statement, never bound.
CONSTANT = {
    "state": f"'{TransferState.SETTLED.value}'",
    "attempts": "0",
    "waiting_reason": "''",
    "refusal": "''",
    "refusal_text": "''",
}
NOTIFICATION = ("user_id", "kind", "object_uri", "actor_uri", "data", "created_at")


@dataclass(frozen=True)
class _Statement:
    sql: str
    names: tuple[str, ...]
    positional: bool

    def params(self, values: Mapping[str, Any]) -> Any:
        if self.positional:
            return tuple(itemgetter(*self.names)(values))
        return {name: values[name] for name in self.names}


def _compiled(statement: UpdateBase, dialect: Dialect, keys: tuple[str, ...] | None = None) -> _Statement:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
    names = tuple(compiled.positiontup or ()) if dialect.positional else tuple(compiled.binds)
    return _Statement(compiled.string, names, dialect.positional)


@dataclass(frozen=True)
class _Plan:
    move: _Statement
    transfer: _Statement
    entries: _Statement
    notification: _Statement
    returning: bool  # the transfer's id comes from RETURNING (else the cursor's lastrowid)
    to_db: Callable[[datetime], Any]  # a time as the column stores it


def _entries() -> UpdateBase:
    def row(account: str, amount: str) -> dict[str, Any]:
        return {
            "transfer_id": bindparam("transfer_id"),
            "account_id": bindparam(account),
            "amount": bindparam(amount),
            "created_at": bindparam("at"),
        }

    return insert(ENTRIES).values([row("debit", "debited"), row("credit", "amount")])


def _plan_for(dialect: Dialect) -> _Plan:
    returning = dialect.name != "sqlite"
    transfer = insert(TRANSFERS).values({name: literal_column(sql) for name, sql in CONSTANT.items()})
    if returning:
        transfer = transfer.returning(TRANSFERS.c.id)
    processor = TRANSFERS.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    return _Plan(
        move=_compiled(ledger.MOVE, dialect),
        transfer=_compiled(transfer, dialect, VARYING),
        entries=_compiled(_entries(), dialect),
        notification=_compiled(insert(table_of(Notification)), dialect, NOTIFICATION),
        returning=returning,
        to_db=processor if processor is not None else (lambda value: value),
    )


_PLANS: dict[str, _Plan] = {}


def _plan(dialect: Dialect) -> _Plan:
    plan = _PLANS.get(dialect.name)
    if plan is None:
        plan = _PLANS[dialect.name] = _plan_for(dialect)
    return plan


Refuse = Callable[[dict[str, int], set[int]], NoReturn]


def apply(
    session: Session,
    policy: Policy,
    values: Mapping[str, Any],
    debit: Side,
    credit: Side,
    notification: Mapping[str, Any] | None,
    *,
    limits: bool = True,
) -> int:
    """Apply the transfer ``values`` (``values_of``'s keys, ``bucket`` too for one with a peer) from
    ``debit`` to ``credit`` and write ``notification`` (a notification row's values, or None), in the
    session's transaction; the transfer's id. Raises :class:`ledger.LimitRefused` having changed
    nothing."""
    dialect, dbapi = driver(session)

    def refuse(move: dict[str, int], changed: set[int]) -> NoReturn:
        ledger.refuse(session, debit, credit, move, changed)

    return run(dialect, dbapi, policy, values, debit, credit, notification, refuse, limits=limits)


def run(
    dialect: Dialect,
    dbapi: Any,
    policy: Policy,
    values: Mapping[str, Any],
    debit: Side,
    credit: Side,
    notification: Mapping[str, Any] | None,
    refuse: Refuse,
    *,
    limits: bool = True,
) -> int:
    """:func:`apply` on the DB-API connection ``dbapi`` in its open transaction: when a limit stops
    the move, ``refuse(move's parameters, ids of the rows it changed)`` undoes it (or the caller rolls
    the transaction back) and raises."""
    if debit.id == credit.id:
        raise ValueError("a transfer needs two different accounts")
    plan = _plan(dialect)
    amount = values["amount"]
    move = {"debit": debit.id, "credit": credit.id, "amount": amount, **ledger.bounds(policy, debit, credit)}
    if not limits:
        move.update(floor=-ledger.NO_LIMIT, ceiling=ledger.NO_LIMIT)
    at = plan.to_db(values["created_at"])
    cursor = dbapi.cursor()
    try:
        cursor.execute(plan.move.sql, plan.move.params(move))
        changed = {row[0] for row in cursor.fetchall()}
        if len(changed) != 2:
            refuse(move, changed)
        row = {"bucket": None, **values, "created_at": at, "settled_at": at}
        cursor.execute(plan.transfer.sql, plan.transfer.params(row))
        transfer_id = int(cursor.fetchone()[0] if plan.returning else cursor.lastrowid)
        entries = {"transfer_id": transfer_id, "debit": debit.id, "credit": credit.id}
        cursor.execute(
            plan.entries.sql, plan.entries.params({**entries, "debited": -amount, "amount": amount, "at": at})
        )
        if notification is not None:
            told = {**notification, "created_at": plan.to_db(notification["created_at"])}
            cursor.execute(plan.notification.sql, plan.notification.params(told))
    finally:
        cursor.close()
    return transfer_id
