"""How a transfer is recorded: its row, its parties, its application inside the node, and the
opening of a person's account with the starting credit (the pieces every kind of transfer shares)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import Engine
from sqlmodel import Session, select

from node.accounts.models import AccountStatus, User
from node.activitypub.actors import local
from node.core.timeutil import utcnow
from node.settings import Settings
from node.timebank import accounts, digests, hotpath, ledger, notices
from node.timebank.ledger import Side
from node.timebank.lifecycles import TRANSFER_LIFECYCLE, TransferState
from node.timebank.models import TimebankAccount, Transfer
from node.timebank.policy import Policy


def new_uri(settings: Settings) -> str:
    """A fresh transfer id of this node (the id both nodes keep for a transfer between nodes)."""
    return settings.url(f"/timebank/transfers/{uuid.uuid4()}")


@dataclass(frozen=True)
class Parties:
    """Who pays and who is paid: accounts here, actor URIs for the history and the wire."""

    debit: TimebankAccount
    credit: TimebankAccount
    payer_uri: str | None = None
    payee_uri: str | None = None


def values_of(
    settings: Settings,
    kind: str,
    parties: Parties,
    amount: int,
    now: datetime,
    *,
    uri: str | None = None,
    memo: str = "",
    by: User | None = None,
    purpose: str | None = None,
    agreement: str | None = None,
    reverses: int | None = None,
    peer: str | None = None,
    direction: str = "",
) -> dict[str, object]:
    assert parties.debit.id is not None and parties.credit.id is not None
    return {
        "uri": uri or new_uri(settings),
        "kind": kind,
        "state": TransferState.WAITING.value,
        "debit_account_id": parties.debit.id,
        "credit_account_id": parties.credit.id,
        "amount": amount,
        "payer_uri": parties.payer_uri,
        "payee_uri": parties.payee_uri,
        "peer": peer,
        "direction": direction,
        "purpose": purpose,
        "agreement_ap_id": agreement,
        "reverses_id": reverses,
        "memo": memo,
        "created_by_id": by.id if by is not None else None,
        "created_at": now,
        "attempts": 0,
        "refusal": "",
        "refusal_text": "",
        "waiting_reason": "",
    }


def apply_local(
    session: Session, policy: Policy, values: dict[str, object], parties: Parties, *, limits: bool = True
) -> int:
    """Apply a transfer inside the node now: the balances (within limits), the transfer, its two
    entries. Raises :class:`LimitRefused` having changed nothing."""
    amount = int(values["amount"])  # type: ignore[call-overload]
    now = values["created_at"]
    assert isinstance(now, datetime)
    TRANSFER_LIFECYCLE.check(TransferState.WAITING, TransferState.SETTLED)
    peer = values.get("peer")
    if isinstance(peer, str) and peer:
        values = {**values, "bucket": digests.bucket_of(str(values["uri"]))}
    notification = notices.received_row(session, values, parties.credit.user_id)
    transfer_id = hotpath.apply(
        session, policy, values, Side.of(parties.debit), Side.of(parties.credit), notification, limits=limits
    )
    if isinstance(peer, str) and peer:  # the payee's half of a transfer from a peer node, a settlement
        direction, kind = str(values.get("direction") or ""), str(values["kind"])
        assert direction != "out", "a transfer to a peer node is applied by exchange.settle"
        digests.settled(
            session, peer, str(values["uri"]), digests.payer_node("", peer, direction, kind), amount
        )
    return transfer_id


def transfer(engine: Engine, policy: Policy, values: dict[str, object], parties: Parties) -> int:
    """:func:`apply_local` in a transaction of its own, on a DB-API connection of ``engine``'s pool
    rather than in an ORM session (whose transaction alone costs more than the four statements: see
    ``bench/timebank.py``): ``BEGIN IMMEDIATE`` and ``COMMIT`` on SQLite, the driver's transaction on
    PostgreSQL, the same statements (:mod:`.hotpath`), rolled back whole on any error. For a transfer
    that has no peer node and pays no agreement (a gift, a grant, a levy inside the node); the
    transfer's id. Raises :class:`LimitRefused` having changed nothing."""
    if values.get("peer") or values.get("agreement_ap_id"):
        raise ValueError("a transfer with a peer node or an agreement is applied in the caller's session")
    TRANSFER_LIFECYCLE.check(TransferState.WAITING, TransferState.SETTLED)
    debit, credit = Side.of(parties.debit), Side.of(parties.credit)
    notification = notices.received_row(None, values, parties.credit.user_id)

    def refuse(_move: dict[str, int], changed: set[int]) -> NoReturn:
        raise ledger.refusal(debit, credit, changed)  # the rollback below undoes the move

    proxied = engine.raw_connection()
    try:
        dbapi: Any = proxied.driver_connection
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:  # the connection is in autocommit mode (node.core.db): the transaction is ours
            dbapi.execute("BEGIN IMMEDIATE")
        try:
            transfer_id = hotpath.run(
                engine.dialect, dbapi, policy, values, debit, credit, notification, refuse
            )
        except BaseException:
            if not sqlite:
                dbapi.rollback()
            elif dbapi.in_transaction:  # an error of SQLite's may have ended it already
                dbapi.execute("ROLLBACK")
            raise
        if sqlite:
            dbapi.execute("COMMIT")
        else:
            dbapi.commit()
    finally:
        proxied.close()
    return transfer_id


def open_person(session: Session, settings: Settings, policy: Policy, user: User) -> TimebankAccount:
    """``user``'s account, opened with the starting credit the first time (an active person only)."""
    existing = accounts.find_person_account(session, user.pk)
    if existing is not None:
        return existing
    account = accounts.person_account(session, user)
    if user.status == AccountStatus.ACTIVE.value and policy.starting_credit > 0:
        purpose = f"start:{user.pk}"
        if session.exec(select(Transfer.id).where(Transfer.purpose == purpose)).first() is None:
            parties = Parties(accounts.community(session), account, None, local.person(settings, user).uri)
            values = values_of(
                settings, "starting_credit", parties, policy.starting_credit, now(), purpose=purpose
            )
            apply_local(session, policy, values, parties)
    session.refresh(account)
    return account


def now() -> datetime:
    """The time a transfer is recorded at, to the second (what the wire carries)."""
    return utcnow().replace(microsecond=0)
