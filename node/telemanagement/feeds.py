"""A provider's visits as an iCalendar feed (RFC 5545) at a secret URL, for the calendar on their phone.

The URL's token is an HMAC of the provider's id and the feed's generation under a key derived from the
node secret, so nothing secret is stored; regenerating bumps the generation and the old URL answers 404.
The feed says when, which activity and the beneficiary's commune, never an address, a door code or a
name: a calendar app may sync it to a server the node does not control.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from sqlmodel import Session

from node.accounts.models import User
from node.catalog import categories
from node.core.errors import N_, NotFound
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement.lifecycles import VisitState
from node.telemanagement.models import CalendarFeed
from node.telemanagement.visits import between

PAST = timedelta(days=31)
AHEAD = timedelta(days=92)


def _mac(settings: Settings, user_id: int, generation: int) -> str:
    key = hashlib.sha256(b"tm-calendar-feed/1\0" + settings.effective_secret_key.encode()).digest()
    digest = hmac.new(key, f"{user_id}.{generation}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def _feed(session: Session, user_id: int) -> CalendarFeed:
    feed = session.get(CalendarFeed, user_id)
    if feed is None:
        feed = CalendarFeed(user_id=user_id)
        session.add(feed)
        session.flush()
    return feed


def feed_url(session: Session, settings: Settings, user: User) -> str:
    assert user.id is not None
    feed = _feed(session, user.id)
    return settings.url(f"/calendar/{user.id}-{_mac(settings, user.id, feed.generation)}.ics")


def regenerate(session: Session, settings: Settings, user: User) -> str:
    """A new URL; the previous one stops working."""
    assert user.id is not None
    feed = _feed(session, user.id)
    feed.generation += 1
    session.add(feed)
    return feed_url(session, settings, user)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def calendar(session: Session, settings: Settings, token: str) -> str:
    """The feed named by ``token`` (``<user id>-<mac>``), or :class:`NotFound`."""
    user_part, _, mac = token.partition("-")
    feed = session.get(CalendarFeed, int(user_part)) if user_part.isdigit() and len(user_part) < 19 else None
    if feed is None or not hmac.compare_digest(_mac(settings, feed.user_id, feed.generation), mac):
        raise NotFound(N_("No such calendar."))
    now = utcnow()
    host = settings.base_url.split("//", 1)[-1].split("/", 1)[0]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:-//ASASAP//{_escape(host)}//FR", "CALSCALE:GREGORIAN"]
    for line in between(session, now - PAST, now + AHEAD, provider_id=feed.user_id):
        visit = line.visit
        summary = categories.label(visit.category, settings.default_language)
        lines += [
            "BEGIN:VEVENT",
            f"UID:visit-{visit.id}@{_escape(host)}",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(visit.starts_at)}",
            f"DTEND:{_stamp(visit.ends_at)}",
            f"SUMMARY:{_escape(summary)}",
            f"LOCATION:{_escape(line.commune)}",
            f"URL:{settings.url(f'/me/visits/{visit.id}')}",
            "STATUS:" + ("CANCELLED" if visit.state == VisitState.CANCELLED else "CONFIRMED"),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued with a space (RFC 5545 §3.1)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    current = b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)
