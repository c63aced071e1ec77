"""Visit notes and the log of every opening of sealed private data.

A provider leaves one note per visit they were given: a text and, apart, an optional health
observation. Both are sealed together at rest (purpose ``tm-visit-note/1``), never federated, and
opened only for their author and the coordinators. Each opening of a sealed field — the note's health
observation, a beneficiary's address, door code or health details — adds a row to ``tm_sealed_access``
(who, when, which fields of which record, why), that coordinators list on ``/telemanagement/access-log``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.errors import N_, NotFound, PermissionDenied, ValidationFailed
from node.core.sealing import seal, unseal
from node.core.timeutil import utcnow
from node.settings import Settings
from node.telemanagement.models import Visit
from node.telemanagement.tables import SealedAccess, VisitNote

PURPOSE = "tm-visit-note/1"
MSG_TOO_LONG = N_("This text is too long.")
MSG_EMPTY = N_("Write a note or an observation.")
MSG_NOT_YOURS = N_("Only the visit's provider writes its note.")
MSG_NOT_READABLE = N_("Only the note's author and the coordinators read it.")


@dataclass(frozen=True)
class Note:
    """A note, opened."""

    visit_id: int
    author_id: int | None
    text: str
    health: str
    updated_at: datetime


def record_access(
    session: Session, reader_id: int | None, record: str, record_id: int, fields: str, purpose: str
) -> None:
    """Log that ``fields`` of a sealed record were opened for ``reader_id`` (none: the node itself)."""
    session.add(
        SealedAccess(user_id=reader_id, record=record, record_id=record_id, fields=fields, purpose=purpose)
    )


def write(session: Session, settings: Settings, user: User, visit_id: int, text: str, health: str) -> None:
    """Write (or rewrite) the note of a visit; only the visit's provider may."""
    visit = session.get(Visit, visit_id)
    if visit is None:
        raise NotFound(N_("No such visit."))
    if visit.provider_id != user.id:
        raise PermissionDenied(MSG_NOT_YOURS)
    text, health = text.strip(), health.strip()
    errors: dict[str, str] = {}
    if len(text) > 4000:
        errors["text"] = MSG_TOO_LONG
    if len(health) > 4000:
        errors["health"] = MSG_TOO_LONG
    if not text and not health:
        errors["text"] = MSG_EMPTY
    if errors:
        raise ValidationFailed(N_("Check the highlighted fields."), fields=errors)
    sealed = seal(
        settings.effective_secret_key, PURPOSE, json.dumps({"text": text, "health": health}).encode()
    )
    row = session.get(VisitNote, visit_id)
    if row is None:
        session.add(VisitNote(visit_id=visit_id, author_id=user.id, sealed=sealed))
    else:
        row.author_id, row.sealed, row.updated_at = user.id, sealed, utcnow()
        session.add(row)
    session.flush()


def read(
    session: Session, settings: Settings, user: User, visit_id: int, purpose: str = "page"
) -> Note | None:
    """The note of a visit, opened for its author or a coordinator; the opening is logged."""
    row = session.get(VisitNote, visit_id)
    if row is None:
        return None
    if not user.is_coordinator and row.author_id != user.id:
        raise PermissionDenied(MSG_NOT_READABLE)
    data = json.loads(unseal(settings.effective_secret_key, PURPOSE, row.sealed))
    record_access(session, user.id, "visit_note", visit_id, "text,health", purpose)
    return Note(visit_id, row.author_id, data["text"], data["health"], row.updated_at)


def access_log(session: Session, user: User, limit: int = 200) -> list[tuple[SealedAccess, str]]:
    """The latest openings of sealed data, newest first, with the reader's name; coordinators only."""
    if not user.is_coordinator:
        raise PermissionDenied(N_("This page is for coordinators."))
    rows = list(
        session.exec(
            select(SealedAccess)
            .order_by(col(SealedAccess.at).desc(), col(SealedAccess.id).desc())
            .limit(limit)
        )
    )
    ids = {row.user_id for row in rows if row.user_id is not None}
    names = {u.id: u.username for u in session.exec(select(User).where(col(User.id).in_(ids)))} if ids else {}
    return [(row, names.get(row.user_id, "") if row.user_id is not None else "") for row in rows]
