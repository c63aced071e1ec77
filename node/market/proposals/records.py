"""Storage side of proposals: reading rows, mapping them to FEP-0837 documents, and the listing queries.

Local and remote proposals share the ``proposals`` table (:class:`~node.market.models.Proposal`). A local
proposal's id is ``<base>/proposals/<uuid>``; its readable post for servers that do not know
``Proposal`` is ``<id>/note``. Listings hide proposals of suspended or deleted local authors and of
blocked domains, and by default show open proposals whose lifetime has not ended, newest first.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, cast

from sqlalchemy import BindParameter, ColumnElement, and_, or_
from sqlmodel import Session, col, select

from node.accounts.models import AccountStatus, User
from node.activitypub.actors.remote import block_candidates
from node.activitypub.addressing import PUBLIC
from node.activitypub.models import DomainBlock, LimitedAccount, RemoteActor
from node.catalog.categories import is_category, label
from node.core.errors import N_
from node.core.text import html_to_text
from node.core.textsearch import fold
from node.market import schedule as sched
from node.market.lifecycles import ProposalState
from node.market.models import Proposal
from node.market.money import Basis, Currency, Price
from node.market.vocab import CommuneRef, ProposalDoc, Purpose
from node.places.gazetteer import DEPARTEMENT_CODE, INSEE_CODE, default_gazetteer
from node.settings import Settings

__all__ = [
    "PAGE_SIZE",
    "Origin",
    "Page",
    "ProposalFilters",
    "DOMAIN_BLOCKS",
    "blocked_origins",
    "fold",
    "get_by_ap_id",
    "get_by_id",
    "get_local",
    "is_visible",
    "listing_conditions",
    "local_uuid",
    "note_uri",
    "of_author",
    "parse_filters",
    "price_of",
    "proposal_conditions",
    "proposal_for_local_uri",
    "proposal_uri",
    "remote_author_name",
    "schedule_of",
    "search",
    "search_text_for",
    "to_doc",
]

PAGE_SIZE = 20
MAX_QUERY_WORDS = 8
NOTE_SUFFIX = "/note"
Origin = Literal["local", "remote", "all"]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# --- ids ----------------------------------------------------------------------------------------------


def proposal_uri(settings: Settings, proposal_uuid: str) -> str:
    """The ActivityPub id of a local proposal (also its web page)."""
    return settings.url(f"/proposals/{proposal_uuid}")


def new_proposal_uri(settings: Settings) -> str:
    return proposal_uri(settings, str(uuid.uuid4()))


def note_uri(proposal_ap_id: str) -> str:
    """The id of the readable ``Note`` sent for a local proposal to servers without ``Proposal``."""
    return proposal_ap_id + NOTE_SUFFIX


def local_uuid(settings: Settings, ap_id: str) -> str | None:
    """The uuid of a local proposal's id, else None."""
    prefix = settings.url("/proposals/")
    if not ap_id.startswith(prefix):
        return None
    rest = ap_id[len(prefix) :]
    return rest if _UUID.match(rest) else None


# --- reading ------------------------------------------------------------------------------------------


def get_by_ap_id(ap_id: str, *, session: Session) -> Proposal | None:
    """The proposal (local or remote) with this ActivityPub id."""
    return session.exec(select(Proposal).where(col(Proposal.ap_id) == ap_id)).first()


def get_by_id(proposal_id: int, *, session: Session) -> Proposal | None:
    """The proposal with this row id (the "local id" of the API, for local and remote ones)."""
    return session.get(Proposal, proposal_id)


def get_local(settings: Settings, proposal_uuid: str, *, session: Session) -> Proposal | None:
    """The local proposal with this uuid (None for a malformed uuid)."""
    if not _UUID.match(proposal_uuid):
        return None
    row = get_by_ap_id(proposal_uri(settings, proposal_uuid), session=session)
    return row if row is not None and row.origin == "" else None


def proposal_for_local_uri(settings: Settings, uri: str, *, session: Session) -> Proposal | None:
    """The local proposal that ``uri`` names: its id, or the id of its readable ``Note``."""
    target = uri.split("#", 1)[0]
    if target.endswith(NOTE_SUFFIX):
        target = target[: -len(NOTE_SUFFIX)]
    proposal_uuid = local_uuid(settings, target)
    return get_local(settings, proposal_uuid, session=session) if proposal_uuid else None


def open_remote_of(author_uri: str, *, session: Session) -> Sequence[Proposal]:
    """The open proposals of another node's ``author_uri`` stored here."""
    return session.exec(
        select(Proposal).where(
            col(Proposal.author_uri) == author_uri,
            col(Proposal.origin) != "",
            col(Proposal.state) == ProposalState.OPEN.value,
        )
    ).all()


def of_author(
    user_id: int, *, session: Session, offset: int = 0, limit: int | None = None
) -> Sequence[Proposal]:
    """The proposals of a local person, in any state, newest first: every one, or ``limit`` of them
    after the first ``offset``."""
    return session.exec(
        select(Proposal)
        .where(col(Proposal.local_author_id) == user_id)
        .order_by(col(Proposal.published_at).desc(), col(Proposal.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()


def open_of_remote_author(author_uri: str, *, session: Session, limit: int = 20) -> Sequence[Proposal]:
    """The open proposals of a person of another server that this node holds, newest first."""
    return session.exec(
        select(Proposal)
        .where(col(Proposal.author_uri) == author_uri, col(Proposal.origin) != "")
        .where(col(Proposal.state) == "open")
        .order_by(col(Proposal.published_at).desc(), col(Proposal.id).desc())
        .limit(limit)
    ).all()


def _blocked(blocks: set[str], origin: str) -> bool:
    return any(candidate in blocks for candidate in block_candidates(origin))


def is_visible(row: Proposal, *, session: Session) -> bool:
    """Whether the public may see ``row``: its local author is active, its domain is not blocked."""
    if row.local_author_id is not None:
        author = session.get(User, row.local_author_id)
        return author is not None and author.status == AccountStatus.ACTIVE.value
    if row.origin:
        blocks = set(session.exec(DOMAIN_BLOCKS).all())
        return not _blocked(blocks, row.origin)
    return True


# --- row <-> document ---------------------------------------------------------------------------------


def price_of(row: Proposal) -> Price | None:
    """The price (or budget) of a proposal; None when free or left to the answers."""
    return price_from(row.price_amount, row.price_currency, row.price_basis)


def price_from(amount: Decimal | None, currency: str | None, basis: str | None) -> Price | None:
    """:func:`price_of` from the three stored columns."""
    if amount is None or currency not in ("EUR", "HOUR"):
        return None
    per: Basis = "total" if basis == "total" else "per_hour"
    return Price(amount, cast(Currency, currency), per)


def schedule_of(row: Proposal) -> sched.Schedule | None:
    """The stored schedule of a proposal, or None (also for an unreadable stored value)."""
    return schedule_from(row.schedule)


def schedule_from(stored: str | None) -> sched.Schedule | None:
    """:func:`schedule_of` from the stored column."""
    if not stored:
        return None
    try:
        data = json.loads(stored)
        return sched.from_json(data) if isinstance(data, dict) else None
    except ValueError:
        return None


def _commune(row: Proposal) -> CommuneRef | None:
    if not row.commune_name and row.commune_insee is None:
        return None
    return CommuneRef(
        name=row.commune_name,
        insee=row.commune_insee,
        postal_code=row.postal_code or None,
        departement=row.departement or None,
        latitude=row.latitude,
        longitude=row.longitude,
    )


def to_doc(settings: Settings, row: Proposal) -> ProposalDoc:
    """The FEP-0837 document of a local proposal, addressed to the public and the author's followers."""
    currency = row.price_currency if row.price_currency in ("EUR", "HOUR") else None
    return ProposalDoc(
        id=row.ap_id,
        attributed_to=row.author_uri,
        purpose=cast(Purpose, row.purpose),
        name=row.title,
        content=row.description,
        published=row.published_at,
        updated=row.updated_at if row.updated_at != row.published_at else None,
        category=row.category,
        commune=_commune(row),
        schedule=schedule_of(row),
        quantity=row.quantity_hours,
        price=price_of(row),
        currency=cast(Currency | None, currency),
        bidding_deadline=row.bidding_deadline,
        expires=row.expires_at,
        state=ProposalState(row.state),
        to=(PUBLIC,),
        cc=(row.author_uri + "/followers",),
    )


# --- plain text matching ------------------------------------------------------------------------------


def search_text_for(
    title: str,
    description_html: str,
    *,
    category: str | None = None,
    commune_name: str = "",
    departement: str = "",
    author_name: str = "",
) -> str:
    """What a proposal is found by, folded: title, description text, the category's French and English
    labels, commune and département names, the author's name (the full-text indexes read it)."""
    parts = [title, html_to_text(description_html, 20_000), commune_name, author_name]
    if category and is_category(category):
        parts += [label(category, "fr"), label(category, "en")]
    known = default_gazetteer().departement(departement) if departement else None
    if known is not None:
        parts.append(known.name)
    return fold(" ".join(parts))


def remote_author_name(uri: str, *, session: Session) -> str:
    """The name of another node's actor as cached here ('' when unknown)."""
    row = session.exec(select(RemoteActor).where(col(RemoteActor.uri) == uri)).first()
    return (row.name or row.preferred_username) if row is not None else ""


# --- listing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalFilters:
    """What a browse page or an API list asks for; None means any."""

    purpose: Purpose | None = None
    category: str | None = None
    commune: str | None = None  # INSEE code
    departement: str | None = None
    origin: Origin = "all"
    query: str = ""
    open_only: bool = True


@dataclass(frozen=True)
class Page:
    items: list[Proposal]
    page: int
    has_next: bool


MSG_UNKNOWN_VALUE = N_("Unknown value.")
_INSEE = re.compile(INSEE_CODE)
_DEPARTEMENT = re.compile(DEPARTEMENT_CODE)
MAX_PAGE = 10_000


def parse_filters(params: Mapping[str, str]) -> tuple[ProposalFilters, int, dict[str, str]]:
    """Filters and page number from query parameters (``purpose``, ``category``, ``commune``,
    ``departement``, ``origin``, ``q``, ``page``); unknown values are left out and named in the errors."""
    errors: dict[str, str] = {}

    def pick(name: str, valid: Callable[[str], bool]) -> str | None:
        value = params.get(name, "").strip()
        if not value:
            return None
        if len(value) > 64 or not valid(value):
            errors[name] = MSG_UNKNOWN_VALUE
            return None
        return value

    purpose = pick("purpose", lambda v: v in ("offer", "request"))
    origin = pick("origin", lambda v: v in ("local", "remote", "all")) or "all"
    page_text = pick("page", lambda v: v.isdigit() and 1 <= int(v) <= MAX_PAGE)
    filters = ProposalFilters(
        purpose=cast(Purpose | None, purpose),
        category=pick("category", is_category),
        commune=pick("commune", lambda v: bool(_INSEE.match(v.upper()))),
        departement=pick("departement", lambda v: bool(_DEPARTEMENT.match(v.upper()))),
        origin=cast(Origin, origin),
        query=params.get("q", "").strip()[:200],
    )
    if filters.commune:
        filters = replace(filters, commune=filters.commune.upper())
    if filters.departement:
        filters = replace(filters, departement=filters.departement.upper())
    return filters, int(page_text) if page_text else 1, errors


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


DOMAIN_BLOCKS = select(col(DomainBlock.domain))
_REMOTE_ORIGINS = select(Proposal.origin).where(col(Proposal.origin) != "").distinct()


def blocked_origins(*, session: Session, blocks: Collection[str] | None = None) -> list[str]:
    """The origins (other nodes' domains) of stored proposals that a domain block hides; ``blocks``: the
    blocked domains when already read (:data:`DOMAIN_BLOCKS`, with a search's first statement)."""
    blocks = set(session.exec(DOMAIN_BLOCKS).all() if blocks is None else blocks)
    if not blocks:
        return []
    return [origin for origin in session.exec(_REMOTE_ORIGINS).all() if _blocked(blocks, origin)]


def proposal_conditions(
    *,
    now: object,
    blocked: Sequence[str] | BindParameter[Any] | None,
    open_only: bool = True,
    purpose: object | None = None,
    category: object | None = None,
    commune: object | None = None,
    departement: object | None = None,
    origin: Origin = "all",
) -> list[ColumnElement[bool]]:
    """What a listing keeps (a query that joins ``User`` on the local author): visible, open and current
    (``now``) unless not ``open_only``, not from a ``blocked`` origin, then the filters given. Each value
    is a plain value or a bound parameter (``bindparam``), so that a statement can be built once and run
    with other values."""
    conditions: list[ColumnElement[bool]] = [
        or_(col(Proposal.local_author_id).is_(None), col(User.status) == AccountStatus.ACTIVE.value)
    ]
    if open_only:
        conditions.append(col(Proposal.state) == ProposalState.OPEN.value)
        conditions.append(or_(col(Proposal.expires_at).is_(None), col(Proposal.expires_at) > now))
    for column, value in (
        (Proposal.purpose, purpose),
        (Proposal.category, category),
        (Proposal.commune_insee, commune),
        (Proposal.departement, departement),
    ):
        if value is not None:
            conditions.append(col(column) == value)
    if origin == "local":
        conditions.append(col(Proposal.origin) == "")
    elif origin == "remote":
        conditions.append(col(Proposal.origin) != "")
    if blocked is not None:
        conditions.append(col(Proposal.origin).not_in(blocked))
    # Limited accounts (moderation): their proposals stay reachable by link and by their followers' feeds,
    # but leave every listing and search.
    conditions.append(col(Proposal.author_uri).not_in(select(LimitedAccount.actor_uri)))
    return conditions


def listing_conditions(
    filters: ProposalFilters, now: datetime, *, session: Session, blocks: Collection[str] | None = None
) -> list[ColumnElement[bool]]:
    """What a listing keeps: visible, open and current by default, then ``filters`` (a query that joins
    ``User`` on the local author); ``blocks`` as for :func:`blocked_origins`."""
    blocked = blocked_origins(session=session, blocks=blocks)
    conditions = proposal_conditions(
        now=now,
        blocked=blocked or None,
        open_only=filters.open_only,
        purpose=filters.purpose,
        category=filters.category or None,
        commune=filters.commune or None,
        departement=filters.departement or None,
        origin=filters.origin,
    )
    words = fold(filters.query).split()[:MAX_QUERY_WORDS]
    conditions.extend(col(Proposal.search_text).like(_like(word), escape="\\") for word in words)
    return conditions


def search(
    filters: ProposalFilters, *, session: Session, now: datetime, page: int = 1, per_page: int = PAGE_SIZE
) -> Page:
    """One page of proposals matching ``filters``, newest first."""
    page = max(1, page)
    query = (
        select(Proposal)
        .outerjoin(User, col(User.id) == col(Proposal.local_author_id))
        .where(and_(*listing_conditions(filters, now, session=session)))
        .order_by(col(Proposal.published_at).desc(), col(Proposal.id).desc())
        .offset((page - 1) * per_page)
        .limit(per_page + 1)
    )
    rows = list(session.exec(query).all())
    return Page(items=rows[:per_page], page=page, has_next=len(rows) > per_page)
