"""Conversations across servers in tests: running work on a node of a :class:`Federation`, receiving an
activity as the inbox stores it once its signer is verified, reading a person's conversations."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session, select

from node.accounts.models import User
from node.activitypub.models import InboxActivity
from node.conversations import messages
from node.core import db
from tests.support.data import CAPTURED
from tests.support.federation import Federation, Node, store

T = TypeVar("T")


def on(node: Node, work: Callable[[Session], T]) -> T:
    with db.session_scope(node.engine) as session:
        return work(session)


def payload(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((CAPTURED / name).read_text(encoding="utf-8"))
    return found


def receive(fed: Federation, node: Node, activity: dict[str, Any]) -> InboxActivity:
    """``activity`` stored as the inbox stores it once its signer is verified, then processed."""
    store(node, activity)
    fed.process(node)
    return fed.inbox_rows(node)[-1]


def texts(node: Node, username: str) -> list[str]:
    def read(session: Session) -> list[str]:
        user = session.exec(select(User).where(User.username == username)).one()
        found: list[str] = []
        for summary in messages.conversations_of(user.pk, session=session):
            assert summary.conversation.id is not None
            _, _, shown = messages.thread(node.settings, user.pk, summary.conversation.id, session=session)
            found.extend(s.text for s in shown)
        return found

    return on(node, read)
