"""API operations on the caller's e-mail choices (:mod:`node.emails.preferences`): for each topic, at
once, in a daily digest, or never; the same choices as the page ``/settings/notifications``."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.core import mail
from node.emails import preferences
from node.emails.preferences import Frequency
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.runtime import node_of, run

PATH = "/me/email-preferences"


class EmailPreferences(BaseModel):
    messages: Frequency = Field(description="New messages")
    answers: Frequency = Field(description="Answers to the caller's proposals (bids, replies) and their fate")
    agreements: Frequency = Field(description="The caller's agreements")
    mail_enabled: bool = Field(description="Whether this node sends e-mail at all")
    has_email: bool = Field(description="Whether the caller gave an e-mail address")


class EmailPreferencesUpdate(Strict):
    """Topics to change; absent topics keep their choice."""

    messages: Frequency | None = None
    answers: Frequency | None = None
    agreements: Frequency | None = None


def _out(request: Request, caller: User, row: preferences.MailPreference) -> EmailPreferences:
    return EmailPreferences(
        messages=row.frequency(preferences.Topic.MESSAGES),
        answers=row.frequency(preferences.Topic.ANSWERS),
        agreements=row.frequency(preferences.Topic.AGREEMENTS),
        mail_enabled=mail.enabled(node_of(request).settings),
        has_email=bool(caller.email),
    )


@operation(
    "GET",
    PATH,
    summary="The caller's e-mail choices, per topic",
    tag="accounts",
    response=EmailPreferences,
)
async def get_email_preferences(request: Request, caller: User, _body: None) -> EmailPreferences:
    row = await run(request, lambda session: preferences.preferences_of(caller.pk, session=session))
    return _out(request, caller, row)


@operation(
    "PATCH",
    PATH,
    summary="Change the caller's e-mail choices",
    tag="accounts",
    body=EmailPreferencesUpdate,
    response=EmailPreferences,
)
async def update_email_preferences(
    request: Request, caller: User, body: EmailPreferencesUpdate
) -> EmailPreferences:
    choices = {name: value.value for name, value in body.model_dump(exclude_none=True).items()}

    def save(session: Session) -> preferences.MailPreference:
        if not choices:
            return preferences.preferences_of(caller.pk, session=session)
        return preferences.choose(caller, choices, session=session)

    return _out(request, caller, await run(request, save))


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [get_email_preferences, update_email_preferences]
