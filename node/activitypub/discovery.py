"""How other servers find this node and its actors: WebFinger, host-meta and NodeInfo documents.

Documents are built by pure functions from the settings; :func:`parse_resource` reads a WebFinger
``resource``; the accounts package counts the people NodeInfo reports (:class:`Usage`). Nothing here
knows about HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, metadata, version
from typing import Any, Literal
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from node.activitypub.actors import local
from node.settings import RegistrationPolicy, Settings

JRD_MEDIA_TYPE = "application/jrd+json; charset=utf-8"
XRD_MEDIA_TYPE = "application/xrd+xml; charset=utf-8"
AS_MEDIA_TYPE = "application/activity+json"
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/{version}"
NodeInfoVersion = Literal["2.0", "2.1"]
NODEINFO_VERSIONS: tuple[NodeInfoVersion, ...] = ("2.0", "2.1")
SOFTWARE_NAME = "asasap"
MAX_RESOURCE_LENGTH = 2048

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class MalformedResource(ValueError):
    """A WebFinger ``resource`` that is not a URI we can read (answer 400)."""


# --- WebFinger ----------------------------------------------------------------------------------


def _host_key(host: str, scheme: str) -> str:
    """A host[:port] lower-cased and without the scheme's default port, for comparisons."""
    host = host.strip().lower()
    name, sep, port = host.rpartition(":")
    if sep and not name.endswith("]") and ":" in name:
        return host  # a bare IPv6 address
    if sep and port == _DEFAULT_PORTS.get(scheme):
        return name
    return host


def _is_our_host(settings: Settings, host: str) -> bool:
    scheme = urlsplit(settings.base_url).scheme
    return _host_key(host, scheme) == _host_key(settings.domain, scheme)


def parse_resource(settings: Settings, resource: str) -> str | None:
    """The local username a WebFinger ``resource`` names (``node`` for the node actor), or None.

    Accepted: ``acct:user@host[:port]``, the actor URL itself, and (as some clients send it) a bare
    ``user@host``. Returns None for a well-formed resource that is not on this node; raises
    :class:`MalformedResource` for one that cannot be read. The username is not checked to exist.
    """
    resource = resource.strip()
    if not resource or len(resource) > MAX_RESOURCE_LENGTH or any(c.isspace() for c in resource):
        raise MalformedResource("the resource must be a non-empty URI without spaces")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in resource):
        raise MalformedResource("the resource contains control characters")
    if resource[:5].lower() == "acct:":
        return _parse_acct(settings, resource[5:])
    if "://" in resource:
        return _parse_url(settings, resource)
    if _SCHEME.match(resource):
        return None  # another scheme (mailto:, did:, ...): well-formed, but nothing of ours
    if "@" in resource:
        return _parse_acct(settings, resource)
    raise MalformedResource("the resource must be acct:user@host or an actor URL")


def _parse_acct(settings: Settings, account: str) -> str | None:
    account = account.removeprefix("@")
    user, sep, host = account.rpartition("@")
    if not sep or not user or not host or "@" in user or "/" in host:
        raise MalformedResource("an acct: resource must be user@host")
    if not _is_our_host(settings, host):
        return None
    return user.lower()


def _parse_url(settings: Settings, url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise MalformedResource("the resource is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise MalformedResource("the resource is not a valid URL")
    if parts.query or parts.fragment or not local.is_local(settings, url):
        return None
    if parts.path == local.NODE_ACTOR_PATH:
        return local.NODE_USERNAME
    group = local.local_group_name(settings, url)
    if group is not None:
        return group.lower()
    username = local.local_username(settings, url)
    return username.lower() if username else None


AS_TYPE_PROPERTY = "https://www.w3.org/ns/activitystreams#type"


def webfinger_document(
    settings: Settings, username: str, actor_uri: str, profile_url: str, *, actor_type: str | None = None
) -> dict[str, Any]:
    """The JRD describing one of our actors; ``actor_type`` (a group's ``Group``) is stated on the
    ``self`` link's properties, as Lemmy does, so that clients know a group without fetching it."""
    aliases = list(dict.fromkeys([actor_uri, profile_url]))
    link: dict[str, Any] = {"rel": "self", "type": AS_MEDIA_TYPE, "href": actor_uri}
    if actor_type is not None:
        link["properties"] = {AS_TYPE_PROPERTY: actor_type}
    return {
        "subject": f"acct:{username}@{settings.domain}",
        "aliases": aliases,
        "links": [link, {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url}],
    }


def filter_links(document: dict[str, Any], rels: list[str]) -> dict[str, Any]:
    """The document with only the links whose ``rel`` is in ``rels`` (all when ``rels`` is empty)."""
    if not rels:
        return document
    return {**document, "links": [link for link in document["links"] if link["rel"] in rels]}


# --- host-meta ----------------------------------------------------------------------------------


def _lrdd_template(settings: Settings) -> str:
    return settings.url("/.well-known/webfinger") + "?resource={uri}"


def host_meta_xml(settings: Settings) -> str:
    """The XRD host-meta document pointing at our WebFinger endpoint (RFC 6415)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template={quoteattr(_lrdd_template(settings))}/>\n'
        "</XRD>\n"
    )


def host_meta_json(settings: Settings) -> dict[str, Any]:
    """The JSON (JRD) form of host-meta."""
    return {"links": [{"rel": "lrdd", "template": _lrdd_template(settings)}]}


# --- NodeInfo -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """People on this node, as NodeInfo counts them."""

    total: int
    active_month: int
    active_halfyear: int


def nodeinfo_media_type(version: NodeInfoVersion) -> str:
    return f'application/json; profile="{NODEINFO_SCHEMA.format(version=version)}#"'


def nodeinfo_index(settings: Settings) -> dict[str, Any]:
    """``/.well-known/nodeinfo``: where each NodeInfo version we serve lives."""
    return {
        "links": [
            {"rel": NODEINFO_SCHEMA.format(version=v), "href": settings.url(f"/nodeinfo/{v}")}
            for v in NODEINFO_VERSIONS
        ]
    }


@lru_cache(maxsize=1)
def software_urls() -> tuple[str | None, str | None]:
    """``(repository, homepage)`` from the installed package's project URLs, when it declares them."""
    try:
        entries = metadata(SOFTWARE_NAME).get_all("Project-URL") or []
    except PackageNotFoundError:
        return None, None
    urls: dict[str, str] = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        urls[label.strip().lower()] = url.strip()
    repository = urls.get("source") or urls.get("repository")
    return repository, urls.get("homepage") or repository


def nodeinfo_document(
    settings: Settings,
    version: NodeInfoVersion,
    usage: Usage,
    software_version: str,
    *,
    repository: str | None = None,
    homepage: str | None = None,
) -> dict[str, Any]:
    """The NodeInfo document of ``version`` (2.0 or 2.1; only 2.1 knows repository and homepage)."""
    software: dict[str, str] = {"name": SOFTWARE_NAME, "version": software_version}
    if version == "2.1":
        if repository:
            software["repository"] = repository
        if homepage:
            software["homepage"] = homepage
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": settings.registration == RegistrationPolicy.OPEN,
        "usage": {
            "users": {
                "total": usage.total,
                "activeMonth": usage.active_month,
                "activeHalfyear": usage.active_halfyear,
            }
        },
        "metadata": {
            "nodeName": settings.node_name,
            "territory": settings.territory,
            "mode": settings.mode.value,
            "registration": settings.registration.value,
            # Where the signed monthly research figures are, when this node publishes them (issue 15).
            **({"researchFigures": settings.url("/research/figures")} if settings.research_publish else {}),
        },
    }


@lru_cache(maxsize=1)
def software_version() -> str:
    """The version of the installed ``asasap`` package (``0+unknown`` from a source tree), read once: the
    package's metadata is parsed from its files, and the running code does not change with them."""
    try:
        return version("asasap")
    except PackageNotFoundError:
        return "0+unknown"
