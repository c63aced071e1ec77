from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select
from starlette.testclient import TestClient

from node.accounts import service
from node.accounts.models import AccountStatus, Role, User
from node.app import create_app
from node.core import db
from node.settings import RegistrationPolicy, Settings
from tests.support.accounts import PASSWORD, make_user
from tests.support.pages import csrf, login, post_form


def _users(engine: Engine) -> int:
    with db.session_scope(engine) as s:
        return s.exec(select(func.count()).select_from(User)).one()


def test_home_is_french_by_default_with_node_facts(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert "Montreuil Services" in page.text and "Montreuil (93)" in page.text
    assert "Se connecter" in page.text
    assert 'id="main"' in page.text and "<nav" in page.text and "<footer" in page.text


def test_accept_language_english(client: TestClient) -> None:
    page = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    assert '<html lang="en">' in page.text and "Log in" in page.text


def test_register_login_profile_logout(client: TestClient, engine: Engine) -> None:
    response = post_form(
        client,
        "/register",
        {
            "username": "amina",
            "email": "amina@example.org",
            "password": PASSWORD,
            "password_confirm": PASSWORD,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/settings/profile")
    cookie_header = response.headers["set-cookie"]
    assert (
        "asasap_session=" in cookie_header
        and "HttpOnly" in cookie_header
        and "samesite=lax" in cookie_header.lower()
    )
    assert "Secure" not in cookie_header
    page = client.get("/settings/profile")
    assert page.status_code == 200
    saved = post_form(
        client,
        "/settings/profile",
        {
            "display_name": "Amina K.",
            "bio": "Aide aux devoirs",
            "postal_code": "93100",
            "commune_name": "Montreuil",
            "offers_services": "on",
            "provider_status": "volunteer",
            "categories": ["tutoring", "computer-assistance"],
        },
        token_from="/settings/profile",
    )
    assert saved.status_code == 303
    profile = client.get("/users/amina")
    assert "Amina K." in profile.text and "Montreuil" in profile.text
    assert "Soutien scolaire" in profile.text or "scolaire" in profile.text
    out = post_form(client, "/logout", {}, token_from="/")
    assert out.status_code == 303
    assert client.get("/settings/profile").status_code == 303  # back to the login page


def test_bad_registration_changes_nothing(client: TestClient, engine: Engine) -> None:
    cases = [
        {"username": "a", "password": PASSWORD, "password_confirm": PASSWORD},
        {"username": "amina", "password": "court", "password_confirm": "court"},
        {"username": "amina", "password": PASSWORD, "password_confirm": PASSWORD + "x"},
        {"username": "amina", "email": "pas-un-email", "password": PASSWORD, "password_confirm": PASSWORD},
    ]
    for data in cases:
        response = post_form(client, "/register", data)
        assert response.status_code == 422, data
        assert "Some fields need attention" in response.text or "attention" in response.text
        assert 'aria-invalid="true"' in response.text
    assert _users(engine) == 0
    make_user(engine, "bernard")
    duplicate = post_form(
        client, "/register", {"username": "bernard", "password": PASSWORD, "password_confirm": PASSWORD}
    )
    assert duplicate.status_code == 409
    assert _users(engine) == 1


def test_missing_or_wrong_csrf_is_refused(client: TestClient, engine: Engine) -> None:
    client.get("/register")
    data = {"username": "amina", "password": PASSWORD, "password_confirm": PASSWORD}
    assert client.post("/register", data=data).status_code == 403
    assert client.post("/register", data={**data, "csrf_token": "0" * 40}).status_code == 403
    other = TestClient(client.app, base_url="http://testserver")
    foreign_token = csrf(other, "/register")
    assert client.post("/register", data={**data, "csrf_token": foreign_token}).status_code == 403
    assert _users(engine) == 0


def test_oversized_form_is_refused(client: TestClient, settings: Settings, engine: Engine) -> None:
    big = "x" * (settings.max_body_bytes + 10)
    response = client.post(
        "/register", data={"username": "amina", "note": big}, headers={"Accept": "text/html"}
    )
    assert response.status_code == 413
    assert _users(engine) == 0


def test_unknown_route_is_a_404_page(client: TestClient) -> None:
    response = client.get("/pas/ici", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "<main" in response.text


def test_login_failure_and_throttle(client: TestClient, engine: Engine, settings: Settings) -> None:
    make_user(engine, "amina")
    for _ in range(settings.login_max_failures):
        response = post_form(client, "/login", {"username": "amina", "password": "mauvais mot de passe"})
        assert response.status_code == 401
    blocked = post_form(client, "/login", {"username": "amina", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


def test_login_next_stays_on_site(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    response = post_form(
        client, "/login", {"username": "amina", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response.headers["location"] == "/"


def test_language_switch_is_remembered(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    login(client, "amina")
    response = post_form(client, "/language", {"language": "en", "next": "/settings/account"}, token_from="/")
    assert response.status_code == 303 and response.headers["location"] == "/settings/account"
    page = client.get("/settings/account")
    assert '<html lang="en">' in page.text and "Account settings" in page.text
    with db.session_scope(engine) as s:
        assert service.get_user("amina", session=s).language == "en"
    assert post_form(client, "/language", {"language": "de"}, token_from="/").status_code == 422


def test_tokens_export_and_delete_from_settings(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    login(client, "amina")
    created = post_form(client, "/settings/tokens", {"name": "téléphone"}, token_from="/settings/account")
    assert created.status_code == 201
    assert 'id="new-token">asa_' in created.text
    secret = created.text.split('id="new-token">')[1].split("<")[0]
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json()["username"] == "amina"
    )
    export = client.get("/settings/export")
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    assert json.loads(export.text)["account"]["username"] == "amina"
    confirm = client.get("/settings/delete")
    assert confirm.status_code == 200
    refused = post_form(
        client,
        "/settings/delete",
        {"confirm_username": "amina", "password": "pas le bon"},
        token_from="/settings/delete",
    )
    assert refused.status_code == 422
    assert _users(engine) == 1
    deleted = post_form(
        client,
        "/settings/delete",
        {"confirm_username": "amina", "password": PASSWORD},
        token_from="/settings/delete",
    )
    assert deleted.status_code == 200
    with db.session_scope(engine) as s:
        assert service.get_user("amina", session=s).status == AccountStatus.DELETED
    assert client.get("/users/amina").status_code == 404
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_admin_pages_approve_roles_and_suspend(settings: Settings, engine: Engine) -> None:
    app = create_app(settings.replace(registration=RegistrationPolicy.APPROVAL), engine=engine)
    make_user(engine, "chef", Role.ADMIN)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as visitor:
        response = post_form(
            visitor,
            "/register",
            {
                "username": "nouvelle",
                "password": PASSWORD,
                "password_confirm": PASSWORD,
                "note": "Voisine",
            },
        )
        assert response.status_code == 201
        assert post_form(visitor, "/login", {"username": "nouvelle", "password": PASSWORD}).status_code == 403
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as admin:
        login(admin, "chef")
        pending = admin.get("/admin?status=pending")
        assert "nouvelle" in pending.text and "Voisine" in pending.text
        assert post_form(admin, "/admin/users/nouvelle/approve", {}, token_from="/admin").status_code == 303
        assert (
            post_form(
                admin, "/admin/users/nouvelle/role", {"role": "coordinator"}, token_from="/admin"
            ).status_code
            == 303
        )
        assert (
            post_form(
                admin, "/admin/users/nouvelle/role", {"role": "emperor"}, token_from="/admin"
            ).status_code
            == 400
        )
        assert (
            post_form(admin, "/admin/users/chef/role", {"role": "member"}, token_from="/admin").status_code
            == 409
        )
        invite = post_form(admin, "/admin/invites", {"note": "pour Zoé"}, token_from="/admin")
        assert invite.status_code == 201 and 'id="new-invite"' in invite.text
    with db.session_scope(engine) as s:
        person = service.get_user("nouvelle", session=s)
        assert person.status == AccountStatus.ACTIVE and person.role == Role.COORDINATOR
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as member_client:
        make_user(engine, "simple")
        login(member_client, "simple")
        assert member_client.get("/admin").status_code == 403
        token = csrf(member_client, "/", "/logout")  # a valid token: the member just has no right
        refused = member_client.post("/admin/users/nouvelle/suspend", data={"csrf_token": token})
        assert refused.status_code == 403


@pytest.mark.parametrize("path", ["/settings/account", "/settings/profile", "/admin", "/settings/export"])
def test_private_pages_send_visitors_to_login(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_secure_cookie_on_https(settings: Settings, engine: Engine) -> None:
    make_user(engine, "amina")
    app = create_app(settings.replace(base_url="https://services.example"), engine=engine)
    with TestClient(app, base_url="https://services.example", follow_redirects=False) as c:
        response = login(c, "amina")
        assert "Secure" in response.headers["set-cookie"]
