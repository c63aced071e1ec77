"""Every page route that takes a form by POST also answers GET (a reload, a bookmark, a shared link):
never 405, but a 303 to a page that exists."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine
from starlette.routing import Route
from starlette.testclient import TestClient

from node.http.pages import routes as page_routes
from tests.support.accounts import make_user
from tests.support.pages import login

SAMPLES = {"integer": "1", "string": "unfollow", "uuid": str(uuid.uuid4()), "path": "x"}


def _post_only_paths() -> list[str]:
    paths = []
    for route in page_routes.routes():
        if isinstance(route, Route) and route.methods and "GET" not in route.methods:
            values = {
                name: SAMPLES.get(type(convertor).__name__.removesuffix("Convertor").lower(), "x")
                for name, convertor in route.param_convertors.items()
            }
            paths.append(route.path_format.format(**values))
    return paths


def test_every_post_only_page_answers_get_with_a_redirect(client: TestClient, engine: Engine) -> None:
    paths = _post_only_paths()
    # The enumeration finds them (other POST pages answer GET with their own page, not a redirect).
    assert "/logout" in paths and "/bids/1/accept" in paths and len(paths) >= 10, paths
    make_user(engine, "alice")
    login(client, "alice")
    for path in paths:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303, f"GET {path}: {answer.status_code}"
        target = answer.headers["location"]
        assert target.startswith("/") and not target.startswith("//"), target
        assert client.get(target, follow_redirects=False).status_code != 405, f"GET {path} -> {target}"


def test_nearest_pages(client: TestClient, engine: Engine) -> None:
    make_user(engine, "alice")
    login(client, "alice")
    expected = {
        "/settings/password": "/settings/account",
        "/settings/tokens/3/revoke": "/settings/account",
        "/bids/4/accept": "/me/bids",
        "/notifications/read": "/notifications",
        "/logout": "/",
        "/me/timebank/gift": "/me/timebank",
    }
    for path, target in expected.items():
        assert client.get(path, follow_redirects=False).headers["location"] == target, path
