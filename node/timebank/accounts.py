"""Accounts of the ledger: one per person of this node, the node's community account, and one clearing
account per peer node. They are opened on first need, so that every path (a page, the job, a transfer
arriving from another node) finds the same account; a unique key per account keeps two concurrent
openings from making two."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.core.errors import N_, NotFound
from node.core.sqlbase import table_of
from node.core.timeutil import utcnow
from node.timebank.models import TimebankAccount
from node.timebank.policy import AccountKind, Policy

COMMUNITY_KEY = "community"
MSG_NO_ACCOUNT = N_("No such account.")


def person_key(user_id: int) -> str:
    return f"person:{user_id}"


def clearing_key(peer: str) -> str:
    return f"clearing:{peer.lower()}"


def _get_or_open(session: Session, key: str, **values: object) -> TimebankAccount:
    found = session.exec(select(TimebankAccount).where(TimebankAccount.key == key)).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.execute(insert(table_of(TimebankAccount)).values(key=key, created_at=utcnow(), **values))
    except IntegrityError:
        pass  # opened by a concurrent transaction
    found = session.exec(select(TimebankAccount).where(TimebankAccount.key == key)).one()
    return found


def community(session: Session) -> TimebankAccount:
    """The node's community account (starting credits and grants come from it, levies go to it)."""
    return _get_or_open(session, COMMUNITY_KEY, kind=AccountKind.COMMUNITY.value)


def clearing(session: Session, peer: str) -> TimebankAccount:
    """The clearing account of the peer node ``peer`` (its domain: host and port)."""
    peer = peer.lower()
    # Opened with no transfer: its digests (none yet) are ready, and kept from then on.
    return _get_or_open(
        session, clearing_key(peer), kind=AccountKind.CLEARING.value, peer=peer, digests_ready=True
    )


def person_account(session: Session, user: User) -> TimebankAccount:
    """``user``'s account, opened when missing (without its starting credit: see
    :func:`node.timebank.transfers.open_person`)."""
    return _get_or_open(session, person_key(user.pk), kind=AccountKind.PERSON.value, user_id=user.pk)


def find_person_account(session: Session, user_id: int) -> TimebankAccount | None:
    return session.exec(select(TimebankAccount).where(TimebankAccount.key == person_key(user_id))).first()


def by_id(session: Session, account_id: int, *, lock: bool = False) -> TimebankAccount:
    found = session.get(TimebankAccount, account_id, with_for_update=lock)
    if found is None:
        raise NotFound(MSG_NO_ACCOUNT)
    return found


def clearing_accounts(session: Session) -> Sequence[TimebankAccount]:
    return session.exec(
        select(TimebankAccount)
        .where(TimebankAccount.kind == AccountKind.CLEARING.value)
        .order_by(col(TimebankAccount.peer))
    ).all()


def find_clearing(session: Session, peer: str) -> TimebankAccount | None:
    return session.exec(select(TimebankAccount).where(TimebankAccount.key == clearing_key(peer))).first()


def people_without_account(session: Session, limit: int = 200) -> Sequence[User]:
    """Active people who have no account yet (the job opens theirs, with the starting credit)."""
    opened = select(TimebankAccount.user_id).where(col(TimebankAccount.user_id).is_not(None))
    return session.exec(
        select(User)
        .where(User.status == AccountStatus.ACTIVE.value, col(User.id).not_in(opened))
        .order_by(col(User.id))
        .limit(limit)
    ).all()


def person_accounts_near_limits(session: Session, policy: Policy) -> Sequence[tuple[TimebankAccount, User]]:
    """People whose balance (with what is reserved) is within the margin of a limit, lowest first."""
    low = policy.min_balance + policy.near_limit
    high = policy.max_balance - policy.near_limit
    rows = session.exec(
        select(TimebankAccount, User)
        .join(User, col(User.id) == col(TimebankAccount.user_id))
        .where(
            TimebankAccount.kind == AccountKind.PERSON.value,
            col(TimebankAccount.closed_at).is_(None),
            (col(TimebankAccount.balance) - col(TimebankAccount.held_out) <= low)
            | (col(TimebankAccount.balance) + col(TimebankAccount.held_in) >= high),
        )
        .order_by(col(TimebankAccount.balance), col(TimebankAccount.id))
    ).all()
    return [(account, user) for account, user in rows]
