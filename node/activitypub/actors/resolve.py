"""Turn what an admin or a person types — ``@user@host``, ``user@host``, an actor URL, a node's address —
into the URL of an ActivityPub actor or object, through WebFinger where needed."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from node.activitypub.transport.fetch import Fetcher, RemoteError, Unavailable

HANDLE_RE = re.compile(r"^@?([A-Za-z0-9_.~-]+)@([A-Za-z0-9.-]+(?::\d{1,5})?)$")
AS_TYPES = ("application/activity+json", "application/ld+json")


class NotResolvable(ValueError):
    """The text is neither a handle nor an http(s) URL, or WebFinger gave no ActivityPub link."""


def parse_handle(text: str) -> tuple[str, str] | None:
    """``(user, host)`` of ``@user@host`` or ``user@host``, else None."""
    match = HANDLE_RE.match(text.strip())
    return (match.group(1), match.group(2).lower()) if match else None


async def webfinger(fetcher: Fetcher, user: str, host: str, *, scheme: str = "https") -> str:
    """The actor URL that ``host`` publishes for ``acct:user@host``."""
    resource = quote(f"acct:{user}@{host}", safe=":@")
    url = f"{scheme}://{host}/.well-known/webfinger?resource={resource}"
    document = (await fetcher.get_json(url, accept="application/jrd+json, application/json")).document
    for link in document.get("links") or []:
        if (
            isinstance(link, dict)
            and link.get("rel") == "self"
            and isinstance(link.get("href"), str)
            and any(str(link.get("type", "")).startswith(t) for t in AS_TYPES)
        ):
            href: str = link["href"]
            return href
    raise NotResolvable(f"WebFinger of {user}@{host} has no ActivityPub link")


async def resolve(fetcher: Fetcher, text: str, *, allow_http: bool = False) -> str:
    """The URL to fetch for ``text``: a handle through WebFinger, a URL as it is.

    WebFinger is asked over https; ``allow_http`` (nodes that allow private addresses: loopback tests
    and the demo) falls back to plain http when https cannot connect.
    """
    handle = parse_handle(text)
    if handle is not None:
        try:
            return await webfinger(fetcher, *handle)
        except Unavailable:
            if not allow_http:
                raise
            return await webfinger(fetcher, *handle, scheme="http")
    parts = urlsplit(text.strip())
    if parts.scheme in ("http", "https") and parts.netloc:
        return text.strip()
    raise NotResolvable(f"{text!r} is neither a handle (user@host) nor an http(s) URL")


async def resolve_node_actor(fetcher: Fetcher, text: str) -> str:
    """The actor of a whole node given its address (``https://host``) or domain (``host``).

    ASASAP nodes and Mastodon serve their instance actor at ``/actor``; otherwise WebFinger is asked
    for ``acct:host@host`` (Mastodon's instance actor) and ``acct:node@host`` (ours).
    """
    raw = text.strip()
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    if parts.path not in ("", "/"):
        return raw
    base = f"{parts.scheme}://{parts.netloc}"
    try:
        document = (await fetcher.get_activity(base + "/actor")).document
        actor_id = document.get("id")
        if isinstance(actor_id, str):
            return actor_id
    except RemoteError:
        pass
    host = parts.netloc
    for user in (host.split(":")[0], "node"):
        try:
            return await webfinger(fetcher, user, host, scheme=parts.scheme)
        except (RemoteError, NotResolvable):
            continue
    raise NotResolvable(f"no node actor found at {base}")
