"""Helpers for tests that drive the pages: read a form's CSRF token, log in, submit forms."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from httpx2 import Response
from starlette.testclient import TestClient

from tests.support.accounts import PASSWORD

_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S)
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def form_token(page_html: str, action: str) -> str:
    """The CSRF token inside the form of ``page_html`` that posts to ``action``."""
    for form in _FORM.findall(page_html):
        opening = form.split(">", 1)[0]
        if f'action="{html.escape(action)}"' in opening:
            match = _CSRF.search(form)
            assert match and match.group(1), f"the form posting to {action} has no CSRF token"
            return match.group(1)
    raise AssertionError(f"no form posting to {action} on this page")


def csrf(client: TestClient, path: str, action: str | None = None) -> str:
    """The CSRF token of the form posting to ``action`` (default: ``path``) on the page at ``path``."""
    page = client.get(path)
    return form_token(page.text, action or path.split("?")[0])


def post_form(
    client: TestClient, path: str, data: Mapping[str, str | list[str]], *, token_from: str | None = None
) -> Response:
    """Submit ``data`` to ``path`` with the token found in that form on the page ``token_from``."""
    token = csrf(client, token_from or path, path)
    return client.post(path, data={"csrf_token": token, **data})


def login(client: TestClient, username: str, password: str = PASSWORD) -> Response:
    response = post_form(client, "/login", {"username": username, "password": password})
    assert response.status_code == 303, response.text
    return response
