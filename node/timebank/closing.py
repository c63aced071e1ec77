"""A deleted person's account: the balance goes back to the community account (tokens are neither
lost nor kept by a tombstone) and the messages they wrote on their gifts are erased."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.core.sqlbase import table_of
from node.settings import Settings
from node.timebank import accounts
from node.timebank.models import TimebankAccount, Transfer
from node.timebank.policy import Policy
from node.timebank.records import Parties, apply_local, values_of


def close_deleted(session: Session, settings: Settings, policy: Policy, now: datetime) -> int:
    """Close the accounts of deleted people that nothing holds any more; how many."""
    rows = session.exec(
        select(TimebankAccount, User)
        .join(User, col(User.id) == col(TimebankAccount.user_id))
        .where(
            User.status == AccountStatus.DELETED.value,
            col(TimebankAccount.closed_at).is_(None),
            TimebankAccount.held_out == 0,
            TimebankAccount.held_in == 0,
        )
        .limit(50)
    ).all()
    for account, user in rows:
        if account.balance:
            community = accounts.community(session)
            parties = Parties(account, community) if account.balance > 0 else Parties(community, account)
            values = values_of(
                settings, "closing", parties, abs(account.balance), now, purpose=f"close:{account.id}"
            )
            apply_local(session, policy, values, parties, limits=False)
        session.execute(
            update(table_of(Transfer)).where(table_of(Transfer).c.created_by_id == user.id).values(memo="")
        )
        account.closed_at = now
        session.add(account)
    return len(rows)
