"""What a group's coordinators hear of: new answers to the group's proposals, the group's answers
declined, its new agreements, and its agreements cancelled or disputed by the other party.

The marketplace notifies the parties of this node it knows (``local_*_id``); a group is a party as an
actor, which the marketplace knows nothing of (it never imports this package), whether the change came
from a person here or from another node. So the groups' job looks, every few seconds, at what changed in
the last :data:`WINDOW` for each active group and notifies its coordinators of this node once per
(coordinator, kind, object) — the notifications already recorded are the memory of what was told, so a
job run twice, or two workers, tell nothing twice within the window."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from node.core.timeutil import utcnow
from node.groups import records
from node.groups.models import Group
from node.groups.service import actor_of
from node.market.lifecycles import BidState
from node.market.models import Agreement, Bid, Notification, Proposal
from node.market.notifications import Kind, notify
from node.settings import Settings

WINDOW = timedelta(days=2)
KINDS = (
    Kind.GROUP_BID,
    Kind.BID_REJECTED,
    Kind.GROUP_AGREEMENT,
    Kind.AGREEMENT_CANCELLED,
    Kind.AGREEMENT_DISPUTED,
)

# (group uri, kind, object id) — what the coordinators of that group should hear of.
News = tuple[str, Kind, str]


def _news(uris: list[str], since: datetime, *, session: Session) -> list[News]:
    found: list[News] = []
    answers = session.exec(
        select(Proposal.author_uri, Bid.ap_id)
        .join(Proposal, col(Proposal.id) == col(Bid.proposal_id))
        .where(
            col(Proposal.author_uri).in_(uris),
            col(Proposal.origin) == "",
            col(Bid.created_at) >= since,
        )
    ).all()
    found.extend((author, Kind.GROUP_BID, ap_id) for author, ap_id in answers)
    declined = session.exec(
        select(Bid.bidder_uri, Bid.ap_id).where(
            col(Bid.bidder_uri).in_(uris),
            col(Bid.state) == BidState.REJECTED.value,
            col(Bid.decided_at) >= since,
        )
    ).all()
    found.extend((bidder, Kind.BID_REJECTED, ap_id) for bidder, ap_id in declined)
    touched = session.exec(
        select(Agreement).where(
            col(Agreement.provider_uri).in_(uris) | col(Agreement.requester_uri).in_(uris),
            (col(Agreement.created_at) >= since)
            | (col(Agreement.cancelled_at) >= since)
            | (col(Agreement.disputed_at) >= since),
        )
    ).all()
    for row in touched:
        uri = row.provider_uri if row.provider_uri in uris else row.requester_uri
        if row.created_at >= since:
            found.append((uri, Kind.GROUP_AGREEMENT, row.ap_id))
        if row.cancelled_at is not None and row.cancelled_at >= since and row.cancelled_by_uri != uri:
            found.append((uri, Kind.AGREEMENT_CANCELLED, row.ap_id))
        if row.disputed_at is not None and row.disputed_at >= since and row.disputed_by_uri != uri:
            found.append((uri, Kind.AGREEMENT_DISPUTED, row.ap_id))
    return found


def _told(user_ids: Iterable[int], since: datetime, *, session: Session) -> set[tuple[int, str, str | None]]:
    rows = session.exec(
        select(Notification.user_id, Notification.kind, Notification.object_uri).where(
            col(Notification.user_id).in_(list(user_ids)),
            col(Notification.kind).in_([k.value for k in KINDS]),
            col(Notification.created_at) >= since,
        )
    ).all()
    return {(user_id, kind, uri) for user_id, kind, uri in rows}


def tell_coordinators(settings: Settings, *, session: Session, now: datetime | None = None) -> int:
    """Notify the coordinators of this node of each group's news not told yet; how many notifications."""
    since = (now or utcnow()) - WINDOW
    groups = {
        actor_of(settings, g).uri: g
        for g in session.exec(select(Group).where(col(Group.state) == "active")).all()
    }
    if not groups:
        return 0
    news = _news(list(groups), since, session=session)
    if not news:
        return 0
    coordinators: dict[str, list[int]] = {}
    for uri in {uri for uri, _, _ in news}:
        coordinators[uri] = [
            m.local_user_id
            for m in records.coordinators(groups[uri], session=session)
            if m.local_user_id is not None
        ]
    told = _told({i for ids in coordinators.values() for i in ids}, since, session=session)
    sent = 0
    for uri, kind, object_uri in news:
        group = groups[uri]
        for user_id in coordinators[uri]:
            if (user_id, kind.value, object_uri) in told:
                continue
            notify(
                user_id,
                kind,
                object_uri=object_uri,
                actor_uri=uri,
                data={"group": group.display_name, "href": f"/groups/{group.name}/work"},
                session=session,
            )
            told.add((user_id, kind.value, object_uri))
            sent += 1
    return sent
