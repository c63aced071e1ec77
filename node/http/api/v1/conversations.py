"""API operations on conversations, blocks, reports and the moderation queue."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from node.accounts import blocks
from node.accounts.models import User
from node.activitypub.actors import local
from node.conversations import messages, reports
from node.conversations.models import Report
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.runtime import node_of, run


class NewConversation(Strict):
    to: list[str] = Field(min_length=1, max_length=messages.RECIPIENTS_MAX, description="Actor URIs")
    text: str = Field(min_length=1, max_length=messages.TEXT_MAX * 2)
    about: str | None = Field(default=None, max_length=2048, description="A proposal, bid or agreement URI")


class NewMessage(Strict):
    text: str = Field(min_length=1, max_length=messages.TEXT_MAX * 2)


class ConversationOut(BaseModel):
    id: int
    uri: str
    about: str | None
    title: str
    others: list[str]
    unread: int
    updated_at: datetime


class MessageOut(BaseModel):
    id: int
    uri: str
    author: str
    mine: bool
    text: str = Field(description="Empty when a moderator hid the message")
    hidden: bool
    created_at: datetime


class ThreadOut(BaseModel):
    conversation: ConversationOut
    messages: list[MessageOut]


class BlockIn(Strict):
    actor: str = Field(min_length=8, max_length=2048)


class BlockOut(BaseModel):
    actor: str
    created_at: datetime


class ReportIn(Strict):
    targets: list[str] = Field(min_length=1, max_length=reports.TARGETS_MAX, description="URIs reported")
    reason: Literal["spam", "abuse", "illegal", "other"]
    comment: str = Field(default="", max_length=reports.COMMENT_MAX * 2)
    forward: bool = Field(default=False, description="Also send the report to the reported content's node")


class ReportOut(BaseModel):
    id: int
    targets: list[str]
    reason: str
    comment: str
    origin: str = Field(description="The reporting server's domain; empty when filed here")
    state: str
    created_at: datetime


class DecisionIn(Strict):
    action: Literal["dismiss", "hide", "warn", "limit", "suspend", "block", "block-domain", "forward"]
    target: str = Field(default="", max_length=2048, description="One of the report's targets")
    note: str = Field(default="", max_length=reports.COMMENT_MAX * 2)


class DecisionOut(BaseModel):
    action: str
    target: str
    note: str
    created_at: datetime
    sent_to: str | None = Field(
        default=None, description="A warned account of another server, sent the note as a direct message"
    )


def _summary(summary: messages.Summary) -> ConversationOut:
    row = summary.conversation
    assert row.id is not None
    return ConversationOut(
        id=row.id,
        uri=row.uri,
        about=row.subject_uri,
        title=row.subject_title,
        others=list(summary.others),
        unread=summary.unread,
        updated_at=summary.last_at,
    )


def _report(row: Report) -> ReportOut:
    assert row.id is not None
    return ReportOut(
        id=row.id,
        targets=reports.targets_of(row),
        reason=row.reason,
        comment=row.comment,
        origin=row.origin,
        state=row.state,
        created_at=row.created_at,
    )


def thread_of(request: Request, caller: User, conversation_id: int, session: Session) -> ThreadOut:
    settings = node_of(request).settings
    conversation, members, shown = messages.thread(settings, caller.pk, conversation_id, session=session)
    assert conversation.id is not None
    summary = messages.Summary(
        conversation,
        tuple(m.actor_uri for m in members if m.user_id != caller.pk),
        0,
        conversation.updated_at,
    )
    return ThreadOut(
        conversation=_summary(summary),
        messages=[
            MessageOut(
                id=s.message.id or 0,
                uri=s.message.uri,
                author=s.message.author_uri,
                mine=s.mine,
                text=s.text,
                hidden=s.message.hidden_at is not None,
                created_at=s.message.created_at,
            )
            for s in shown
        ],
    )


@operation(
    "GET",
    "/conversations",
    summary="The caller's conversations, latest first, with their unread counts",
    tag="conversations",
    response=ConversationOut,
    list_response=True,
)
async def list_conversations(request: Request, caller: User, _body: None) -> list[ConversationOut]:
    return await run(
        request, lambda s: [_summary(c) for c in messages.conversations_of(caller.pk, session=s)]
    )


@operation(
    "POST",
    "/conversations",
    summary="Write to people, here or on any fediverse server (a new conversation)",
    tag="conversations",
    body=NewConversation,
    response=ThreadOut,
    status=201,
    errors=(403, 429),
)
async def start_conversation(request: Request, caller: User, body: NewConversation) -> ThreadOut:
    settings = node_of(request).settings

    def save(session: Session) -> ThreadOut:
        conversation, _ = messages.start(
            settings, caller, body.to, body.text, subject_uri=body.about, session=session
        )
        assert conversation.id is not None
        return thread_of(request, caller, conversation.id, session)

    return await run(request, save)


@operation(
    "GET",
    "/conversations/{conversation_id:int}",
    summary="A conversation and its messages (marks it read)",
    tag="conversations",
    response=ThreadOut,
    errors=(404,),
)
async def get_conversation(request: Request, caller: User, _body: None) -> ThreadOut:
    conversation_id = int(request.path_params["conversation_id"])
    return await run(request, lambda s: thread_of(request, caller, conversation_id, s))


@operation(
    "POST",
    "/conversations/{conversation_id:int}/messages",
    summary="Answer in a conversation",
    tag="conversations",
    body=NewMessage,
    response=ThreadOut,
    status=201,
    errors=(403, 404, 429),
)
async def reply(request: Request, caller: User, body: NewMessage) -> ThreadOut:
    settings = node_of(request).settings
    conversation_id = int(request.path_params["conversation_id"])

    def save(session: Session) -> ThreadOut:
        messages.reply(settings, caller, conversation_id, body.text, session=session)
        return thread_of(request, caller, conversation_id, session)

    return await run(request, save)


@operation(
    "GET",
    "/blocks",
    summary="Who the caller blocks",
    tag="conversations",
    response=BlockOut,
    list_response=True,
)
async def list_blocks(request: Request, caller: User, _body: None) -> list[BlockOut]:
    return await run(
        request,
        lambda s: [
            BlockOut(actor=b.blocked_uri, created_at=b.created_at)
            for b in blocks.blocked_by(caller.pk, session=s)
        ],
    )


@operation(
    "POST",
    "/blocks",
    summary="Block someone: their messages and answers to the caller's proposals stop",
    tag="conversations",
    body=BlockIn,
    status=204,
    errors=(409,),
)
async def block(request: Request, caller: User, body: BlockIn) -> Response:
    own = local.person(node_of(request).settings, caller).uri
    await run(request, lambda s: blocks.block(caller.pk, own, body.actor, session=s))
    return Response(status_code=204)


@operation(
    "POST",
    "/blocks/remove",
    summary="Unblock someone",
    tag="conversations",
    body=BlockIn,
    status=204,
    errors=(404,),
)
async def unblock(request: Request, caller: User, body: BlockIn) -> Response:
    await run(request, lambda s: blocks.unblock(caller.pk, body.actor, session=s))
    return Response(status_code=204)


@operation(
    "POST",
    "/reports",
    summary="Report people, proposals or messages to the coordinators",
    tag="moderation",
    body=ReportIn,
    response=ReportOut,
    status=201,
    errors=(429,),
)
async def file_report(request: Request, caller: User, body: ReportIn) -> ReportOut:
    settings = node_of(request).settings
    return await run(
        request,
        lambda s: _report(
            reports.file_report(
                settings, caller, body.targets, body.reason, body.comment, forward=body.forward, session=s
            )
        ),
    )


@operation(
    "GET",
    "/moderation/reports",
    summary="The reports waiting for a decision, oldest first (coordinators)",
    tag="moderation",
    auth="coordinator",
    response=ReportOut,
    list_response=True,
)
async def list_reports(request: Request, caller: User, _body: None) -> list[ReportOut]:
    return await run(request, lambda s: [_report(r) for r in reports.queue(caller, session=s)])


@operation(
    "POST",
    "/moderation/reports/{report_id:int}/decisions",
    summary="Decide on a report: dismiss, hide, warn, limit, suspend, block the account or its domain, "
    "forward (logged)",
    tag="moderation",
    auth="coordinator",
    body=DecisionIn,
    response=DecisionOut,
    status=201,
    errors=(404,),
)
async def decide(request: Request, caller: User, body: DecisionIn) -> DecisionOut:
    settings = node_of(request).settings
    report_id = int(request.path_params["report_id"])

    def save(session: Session) -> DecisionOut:
        row = reports.decide(
            settings, caller, report_id, body.action, body.target, body.note, session=session
        )
        return DecisionOut(
            action=row.action,
            target=row.target_uri,
            note=row.note,
            created_at=row.created_at,
            sent_to=row.sent_to,
        )

    return await run(request, save)


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [
        list_conversations,
        start_conversation,
        get_conversation,
        reply,
        list_blocks,
        block,
        unblock,
        file_report,
        list_reports,
        decide,
    ]
