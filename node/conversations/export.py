"""What the conversations hold about a person, for the account export (GDPR art. 15 and 20): their
conversations with every message they can read (unsealed: the export is theirs), whom they block, and the
reports they filed. The exporter needs the node's settings to unseal the texts, so the composition makes it
with :func:`sections_for`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session, col, select

from node.accounts import blocks
from node.accounts.models import User
from node.conversations import messages, reports
from node.conversations.models import Report
from node.core.timeutil import isoformat
from node.settings import Settings

Sections = Callable[..., dict[str, Any]]


def sections_for(settings: Settings) -> Sections:
    """The exporter of the conversations' sections, for the node of ``settings``."""

    def sections(user: User, actor_uri: str, *, session: Session) -> dict[str, Any]:
        conversations = []
        for summary in messages.conversations_of(user.pk, session=session, limit=10_000):
            conversation = summary.conversation
            assert conversation.id is not None
            _, _, shown = messages.thread(
                settings, user.pk, conversation.id, session=session, mark_read=False
            )
            conversations.append(
                {
                    "id": conversation.uri,
                    "about": conversation.subject_uri,
                    "with": list(summary.others),
                    "messages": [
                        {
                            "id": item.message.uri,
                            "author": item.message.author_uri,
                            "text": item.text,
                            "hidden": item.message.hidden_at is not None,
                            "at": isoformat(item.message.created_at),
                        }
                        for item in shown
                    ],
                }
            )
        filed = session.exec(select(Report).where(col(Report.reporter_user_id) == user.pk)).all()
        return {
            "conversations": conversations,
            "blocks": [
                {"actor": row.blocked_uri, "since": isoformat(row.created_at)}
                for row in blocks.blocked_by(user.pk, session=session)
            ],
            "reports_filed": [
                {
                    "targets": reports.targets_of(row),
                    "reason": row.reason,
                    "comment": row.comment,
                    "state": row.state,
                    "at": isoformat(row.created_at),
                }
                for row in filed
            ],
        }

    return sections
