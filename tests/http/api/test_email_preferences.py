"""``/api/v1/me/email-preferences``: the caller's e-mail choices read and changed through the API, the
same row the page changes; bad input is a 4xx that changes nothing; another person's choices are never
touched."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.testclient import TestClient

from node.accounts import credentials
from node.core import db
from node.emails.preferences import MailPreference
from tests.support.accounts import make_user

PATH = "/api/v1/me/email-preferences"


def _token(engine: Engine, username: str) -> tuple[int, dict[str, str]]:
    user = make_user(engine, username)
    with db.session_scope(engine) as session:
        token = credentials.create_api_token(user, "tests", session=session)[1]
    return user.pk, {"Authorization": f"Bearer {token}"}


def _row(engine: Engine, user_id: int) -> MailPreference | None:
    with Session(engine) as session:
        return session.get(MailPreference, user_id)


def test_choices_are_read_and_changed(client: TestClient, engine: Engine) -> None:
    amina, headers = _token(engine, "amina")
    other, _ = _token(engine, "bob")
    assert client.get(PATH).status_code == 401
    first = client.get(PATH, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "messages": "immediately",
        "answers": "immediately",
        "agreements": "immediately",
        "mail_enabled": False,
        "has_email": False,  # made without an address, on a node without SMTP
    }
    assert _row(engine, amina) is None  # reading stores nothing

    changed = client.patch(PATH, headers=headers, json={"answers": "daily", "agreements": "never"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["messages"], changed.json()["answers"], changed.json()["agreements"]) == (
        "immediately",
        "daily",
        "never",
    )
    row = _row(engine, amina)
    assert row is not None
    assert (row.messages, row.answers, row.agreements) == ("immediately", "daily", "never")
    assert client.get(PATH, headers=headers).json()["answers"] == "daily"
    assert client.patch(PATH, headers=headers, json={}).json()["agreements"] == "never"
    assert _row(engine, other) is None


@pytest.mark.parametrize(
    "body",
    [
        {"answers": "weekly"},  # not a frequency
        {"answers": "never", "holidays": "never"},  # not a topic: the valid part is not applied either
        {"answers": None, "messages": 3},
        ["answers", "never"],
        "never",
    ],
)
def test_bad_input_is_refused_and_changes_nothing(client: TestClient, engine: Engine, body: Any) -> None:
    amina, headers = _token(engine, "amina")
    assert client.patch(PATH, headers=headers, json={"messages": "daily"}).status_code == 200
    refused = client.patch(PATH, headers=headers, json=body)
    assert 400 <= refused.status_code < 500 and set(refused.json()) == {"error"}, refused.text
    row = _row(engine, amina)
    chosen = ("daily", "immediately", "immediately")
    assert row is not None and (row.messages, row.answers, row.agreements) == chosen
    broken = client.patch(PATH, headers={**headers, "Content-Type": "application/json"}, content=b"{not json")
    assert 400 <= broken.status_code < 500


def test_the_openapi_document_describes_them(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    operations = document["paths"]["/api/v1/me/email-preferences"]
    assert set(operations) >= {"get", "patch"}
    assert operations["patch"]["requestBody"]
