"""Followers on servers that do not understand ``Proposal``: who they are, and the post they get instead.

A server's software comes from its NodeInfo, stored on its ``peers`` row. ``asasap`` and ``mitra``
(which implements FEP-0837) understand proposals; any other software gets a readable ``Note`` (title,
category in French, commune, price, link to the page); a server whose software is not known yet gets
both, so that nobody misses a proposal (Mastodon ignores a ``Create`` of a type it does not support,
and our nodes ignore a ``Note`` that answers nothing).

The software of unknown servers is learnt by :class:`~node.market.proposals.jobs.PeerSoftwareJob`, in
the background (a change whose audience is not known yet waits for it:
:mod:`node.market.proposals.publishing`); a failed NodeInfo fetch is not retried for a day.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.actors.local import LocalActor
from node.activitypub.addressing import AS_CONTEXT, PUBLIC, same_origin
from node.activitypub.models import Follow, FollowState, Peer, RemoteActor
from node.activitypub.social import audience as social_audience
from node.activitypub.transport.fetch import Fetcher, RemoteError
from node.catalog.categories import by_slug
from node.core.db import session_scope
from node.core.timeutil import isoformat, utcnow
from node.market import schedule as sched
from node.market.models import Proposal
from node.market.money import format_hours, format_price
from node.market.proposals.records import note_uri, price_of, schedule_of
from node.settings import Settings

log = logging.getLogger("asasap.federation")

# Software known to read FEP-0837 proposals.
PROPOSAL_AWARE = frozenset({"asasap", "mitra"})
RETRY_AFTER = timedelta(days=1)
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/"

_PURPOSE_FR = {"offer": "Offre", "request": "Demande"}
_STATE_FR = {
    "closed": "Cette demande a trouvé preneur.",
    "expired": "Cette annonce a expiré.",
    "withdrawn": "Cette annonce a été retirée.",
}


def understands_proposals(software: str) -> bool | None:
    """True for software that reads ``Proposal``, False for other software, None when unknown."""
    name = software.strip().lower()
    if not name:
        return None
    return name in PROPOSAL_AWARE


@dataclass(frozen=True)
class Audience:
    """Who receives a person's proposal: as a ``Proposal``, as a ``Note``, and the relays' inboxes."""

    proposal_actors: list[str]
    note_actors: list[str]
    relays: list[str]


def _followers(actor_uri: str, *, session: Session) -> list[str]:
    rows = session.exec(
        select(col(Follow.follower_uri))
        .select_from(Follow)
        .outerjoin(RemoteActor, col(RemoteActor.uri) == col(Follow.follower_uri))
        .where(
            col(Follow.followee_uri) == actor_uri,
            col(Follow.state) == FollowState.ACCEPTED.value,
            col(RemoteActor.gone_at).is_(None),
        )
        .order_by(col(Follow.id))
    ).all()
    return list(rows)


def _software(domains: Iterable[str], *, session: Session) -> dict[str, str]:
    wanted = sorted(set(domains))
    if not wanted:
        return {}
    rows = session.exec(select(Peer.domain, Peer.software).where(col(Peer.domain).in_(wanted))).all()
    return {domain: software for domain, software in rows}


def audience(settings: Settings, actor: LocalActor, *, session: Session) -> Audience:
    """Split ``actor``'s followers and the nodes following this node by what their server reads."""
    node_followers, relays = social_audience.public_audience(settings, session=session)
    uris = list(dict.fromkeys(_followers(actor.uri, session=session) + node_followers))
    software = _software((addressing.domain_of(uri) for uri in uris), session=session)
    proposals: list[str] = []
    notes: list[str] = []
    for uri in uris:
        if local.is_local(settings, uri):
            continue
        understood = understands_proposals(software.get(addressing.domain_of(uri), ""))
        if understood is not False:
            proposals.append(uri)
        if understood is not True:
            notes.append(uri)
    return Audience(proposals, notes, relays)


# --- the readable post ------------------------------------------------------------------------------


def _price_line(row: Proposal) -> str:
    price = price_of(row)
    if row.price_currency is None:
        return "Gratuit (bénévolat)"
    if price is None:
        return "Montant à proposer"
    text = format_price(price, "fr")
    return f"Budget : {text}" if row.purpose == "request" else text


def note_content(row: Proposal, page_url: str) -> str:
    """Plain HTML for people on other software: kind, category, commune, title, price, time, link.

    No hashtags, no mentions: only paragraphs, ``strong`` and one link.
    """
    category = by_slug(row.category).label_fr if row.category else ""
    place = f"{row.commune_name} ({row.postal_code})" if row.postal_code else row.commune_name
    head = " · ".join(part for part in (category, place) if part)
    lines = [f"<p><strong>{html.escape(_PURPOSE_FR.get(row.purpose, ''))}</strong> · {html.escape(head)}</p>"]
    lines.append(f"<p>{html.escape(row.title)}</p>")
    details = [_price_line(row)]
    if row.quantity_hours is not None:
        details.append(format_hours(row.quantity_hours, "fr"))
    schedule = schedule_of(row)
    if schedule is not None:
        details.append(sched.summary(schedule, "fr"))
    lines.append(f"<p>{html.escape(' · '.join(details))}</p>")
    if row.state in _STATE_FR:
        lines.append(f"<p><em>{html.escape(_STATE_FR[row.state])}</em></p>")
    link = html.escape(page_url, quote=True)
    lines.append(f'<p><a href="{link}">{link}</a></p>')
    return "".join(lines)


def note_document(row: Proposal, *, followers: str) -> dict[str, Any]:
    """The ``Note`` standing for a local proposal on servers that do not read ``Proposal``."""
    content = note_content(row, row.ap_id)
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": note_uri(row.ap_id),
        "type": "Note",
        "attributedTo": row.author_uri,
        "content": content,
        "contentMap": {"fr": content},
        "url": row.ap_id,
        "published": isoformat(row.published_at),
        "to": [PUBLIC],
        "cc": [followers],
    }
    if row.updated_at != row.published_at:
        document["updated"] = isoformat(row.updated_at)
    return document


# --- learning the software of servers --------------------------------------------------------------


def domains_to_learn(
    settings: Settings, actor_uri: str, *, session: Session, now: datetime, limit: int = 8
) -> dict[str, str]:
    """Servers of ``actor_uri``'s followers and of the node's followers whose software is unknown and
    was not asked for in the last day: ``domain -> origin`` (``scheme://host[:port]``)."""
    node_followers, _relays = social_audience.public_audience(settings, session=session)
    origins: dict[str, str] = {}
    for uri in _followers(actor_uri, session=session) + node_followers:
        if not local.is_local(settings, uri):
            origins.setdefault(addressing.domain_of(uri), addressing.origin(uri))
    if not origins:
        return {}
    known = session.exec(
        select(Peer.domain).where(
            col(Peer.domain).in_(sorted(origins)),
            or_(col(Peer.software) != "", col(Peer.nodeinfo_fetched_at) > now - RETRY_AFTER),
        )
    ).all()
    wanted = [domain for domain in sorted(origins) if domain not in set(known)]
    return {domain: origins[domain] for domain in wanted[:limit]}


def peers_to_learn(*, session: Session, now: datetime, limit: int = 8) -> dict[str, str]:
    """Any known server whose software is unknown and was not asked for in the last day."""
    rows = session.exec(
        select(Peer.domain)
        .where(
            col(Peer.software) == "",
            or_(col(Peer.nodeinfo_fetched_at).is_(None), col(Peer.nodeinfo_fetched_at) <= now - RETRY_AFTER),
        )
        .order_by(col(Peer.id))
        .limit(limit)
    ).all()
    found: dict[str, str] = {}
    for domain in rows:
        sample = session.exec(
            select(RemoteActor.uri).where(col(RemoteActor.domain) == domain).limit(1)
        ).first()
        found[domain] = addressing.origin(sample) if sample else f"https://{domain}"
    return found


def _nodeinfo_href(index: dict[str, Any], origin: str) -> str | None:
    links = index.get("links")
    best: tuple[str, str] | None = None
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict):
            continue
        rel, href = link.get("rel"), link.get("href")
        if not isinstance(rel, str) or not isinstance(href, str) or not rel.startswith(NODEINFO_SCHEMA):
            continue
        if not same_origin(href, origin):
            continue  # NodeInfo of another server cannot tell what this one runs
        version = rel[len(NODEINFO_SCHEMA) :]
        if best is None or version > best[0]:
            best = (version, href)
    return best[1] if best else None


async def fetch_software(fetcher: Fetcher, origin: str) -> tuple[str, str] | None:
    """``(software name, version)`` from the NodeInfo of the server at ``origin``; None if it has none."""
    index = await fetcher.get_json(origin + "/.well-known/nodeinfo")
    href = _nodeinfo_href(index.document, origin)
    if href is None:
        return None
    document = (await fetcher.get_json(href)).document
    software = document.get("software")
    if not isinstance(software, dict) or not isinstance(software.get("name"), str):
        return None
    version = software.get("version")
    name = str(software["name"]).strip().lower()[:100]
    return name, (version.strip()[:100] if isinstance(version, str) else "")


def record_software(domain: str, found: tuple[str, str] | None, now: datetime, *, session: Session) -> None:
    """Store what NodeInfo said of ``domain`` (or that it said nothing usable, to wait a day)."""
    peer = session.exec(select(Peer).where(col(Peer.domain) == domain)).first()
    if peer is None:
        peer = Peer(domain=domain)
    if found is not None:
        peer.software, peer.version = found
    peer.nodeinfo_fetched_at = now
    session.add(peer)


async def learn(engine: Engine, fetcher: Fetcher, origins: dict[str, str], *, timeout: float) -> int:
    """Fetch the NodeInfo of each ``domain -> origin`` concurrently within ``timeout`` seconds and store
    the software found; how many servers were asked. A server that did not answer in time counts as
    asked (it is asked again after a day), so that nothing waits for it."""
    results: dict[str, tuple[str, str] | None] = dict.fromkeys(origins)

    async def one(domain: str, origin: str) -> None:
        try:
            results[domain] = await fetch_software(fetcher, origin)
        except RemoteError as exc:
            log.info("no NodeInfo from %s: %s", domain, exc)
            results[domain] = None

    with anyio.move_on_after(timeout):
        async with anyio.create_task_group() as group:
            for domain, origin in origins.items():
                group.start_soon(one, domain, origin)

    def save() -> None:
        now = utcnow()
        with session_scope(engine, write=True) as session:
            for domain, found in results.items():
                record_software(domain, found, now, session=session)

    if results:
        await anyio.to_thread.run_sync(save)
    return len(results)
