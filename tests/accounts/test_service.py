from __future__ import annotations

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from node.accounts import credentials, gdpr, service
from node.accounts.models import AccountStatus, ApiToken, LoginFailure, Role, User, UserCategory
from node.core import db
from node.core.errors import AuthenticationFailed, Conflict, PermissionDenied, Throttled, ValidationFailed
from node.settings import RegistrationPolicy, Settings
from tests.conftest import PASSWORD, make_user


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_create_user_hashes_password_with_argon2(session: Session) -> None:
    user = service.create_user(session, username="Amina", password=PASSWORD, email="Amina@Example.org")
    session.commit()
    assert user.username == "amina"
    assert user.email == "amina@example.org"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("username", "password", "email", "field"),
    [
        ("a", PASSWORD, "", "username"),
        ("amina!", PASSWORD, "", "username"),
        ("x" * 31, PASSWORD, "", "username"),
        ("node", PASSWORD, "", "username"),
        ("amina", "court", "", "password"),
        ("amina", "azertyuiop", "", "password"),
        ("amina", "amina-2026-secret", "", "password"),
        ("amina", PASSWORD, "not-an-email", "email"),
    ],
)
def test_invalid_registration_data_creates_nothing(
    session: Session, username: str, password: str, email: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create_user(session, username=username, password=password, email=email)
    assert field in caught.value.fields
    session.rollback()
    assert _count(session, User) == 0


def test_duplicate_username_and_email(engine: Engine, session: Session) -> None:
    with db.session_scope(engine) as s:
        service.create_user(s, username="amina", password=PASSWORD, email="a@example.org")
    with pytest.raises(Conflict):
        service.create_user(session, username="AMINA", password=PASSWORD)
    session.rollback()
    with pytest.raises(ValidationFailed) as caught:
        service.create_user(session, username="bernard", password=PASSWORD, email="A@example.org")
    assert "email" in caught.value.fields
    session.rollback()
    assert _count(session, User) == 1


def _settings(settings: Settings, policy: RegistrationPolicy) -> Settings:
    return settings.replace(registration=policy)


def test_registration_policies(engine: Engine, settings: Settings) -> None:
    with db.session_scope(engine) as s:
        open_user = service.register(
            s, _settings(settings, RegistrationPolicy.OPEN), service.RegistrationInput("ouvert", PASSWORD)
        )
        pending = service.register(
            s,
            _settings(settings, RegistrationPolicy.APPROVAL),
            service.RegistrationInput("attente", PASSWORD, note="Bonjour"),
        )
    assert open_user.status == AccountStatus.ACTIVE
    assert pending.status == AccountStatus.PENDING
    invite_settings = _settings(settings, RegistrationPolicy.INVITE)
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as caught:
        service.register(
            s, invite_settings, service.RegistrationInput("invite", PASSWORD, invite_code="wrong")
        )
    assert "invite_code" in caught.value.fields
    with db.session_scope(engine) as s:
        _invite, code = credentials.create_invite(s, by=None)
    with db.session_scope(engine) as s:
        invited = service.register(
            s, invite_settings, service.RegistrationInput("invite", PASSWORD, invite_code=code)
        )
    assert invited.is_active
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
        service.register(s, invite_settings, service.RegistrationInput("second", PASSWORD, invite_code=code))


def test_pending_account_cannot_log_in_until_approved(engine: Engine, settings: Settings) -> None:
    with db.session_scope(engine) as s:
        service.register(
            s, _settings(settings, RegistrationPolicy.APPROVAL), service.RegistrationInput("zoe", PASSWORD)
        )
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        service.authenticate(s, settings, username="zoe", password=PASSWORD, remote_addr="10.0.0.1")
    coordinator = make_user(engine, "coord", Role.COORDINATOR)
    with db.session_scope(engine) as s:
        service.approve(s, service.get_user(s, "zoe"), by=coordinator)
    with db.session_scope(engine) as s:
        assert service.authenticate(
            s, settings, username="zoe", password=PASSWORD, remote_addr=None
        ).is_active


def test_failed_logins_are_throttled(engine: Engine, settings: Settings) -> None:
    make_user(engine, "amina")
    for _ in range(settings.login_max_failures):
        with pytest.raises(AuthenticationFailed), db.session_scope(engine) as s:
            service.authenticate(
                s, settings, username="amina", password="wrong password!", remote_addr="10.1.1.1"
            )
    with db.session_scope(engine) as s, pytest.raises(Throttled) as caught:
        service.authenticate(s, settings, username="amina", password=PASSWORD, remote_addr="10.2.2.2")
    assert 0 < caught.value.retry_after <= settings.login_window_seconds + 1
    with db.session_scope(engine) as s:
        assert _count(s, LoginFailure) >= settings.login_max_failures


def test_failed_logins_from_one_address_throttle_other_names(engine: Engine, settings: Settings) -> None:
    make_user(engine, "amina")
    for index in range(settings.login_max_failures):
        with pytest.raises(AuthenticationFailed), db.session_scope(engine) as s:
            service.authenticate(
                s, settings, username=f"guess{index}", password="x" * 12, remote_addr="10.9.9.9"
            )
    with db.session_scope(engine) as s, pytest.raises(Throttled):
        service.authenticate(s, settings, username="amina", password=PASSWORD, remote_addr="10.9.9.9")


def test_profile_update_rules(engine: Engine) -> None:
    user = make_user(engine, "bernard")
    good = service.ProfileInput(
        display_name="Bernard M.",
        bio="Repassage et petits travaux.",
        postal_code="93100",
        commune_name="montreuil",
        offers_services=True,
        provider_status="self_employed",
        siret="732 829 320 00074",
        categories=["housework", "gardening"],
    )
    with db.session_scope(engine) as s:
        service.update_profile(s, s.get(User, user.id), good)  # type: ignore[arg-type]
    with db.session_scope(engine) as s:
        saved = s.get(User, user.id)
        assert saved is not None
        assert saved.commune_insee == "93048" and saved.commune_name == "Montreuil"
        assert saved.siret == "73282932000074"
        assert service.user_categories(s, saved) == ["housework", "gardening"]
    bad_cases = [
        ({"siret": "12345678901234"}, "siret"),
        ({"categories": ["weeding-the-moon"]}, "categories"),
        ({"postal_code": "93170", "commune_name": "Montreuil"}, "commune_name"),
        ({"postal_code": "ABCDE"}, "postal_code"),
        ({"provider_status": "pirate"}, "provider_status"),
        ({"display_name": "x" * 81}, "display_name"),
    ]
    for change, field in bad_cases:
        data = service.ProfileInput(**{**good.__dict__, **change})  # type: ignore[dict-item]
        with pytest.raises(ValidationFailed) as caught, db.session_scope(engine) as s:
            service.update_profile(s, service.get_user(s, "bernard"), data)
        assert field in caught.value.fields, (change, caught.value.fields)
    with db.session_scope(engine) as s:
        unchanged = s.get(User, user.id)
        assert unchanged is not None and unchanged.siret == "73282932000074"
        assert _count(s, UserCategory) == 2


def test_siret_checksum() -> None:
    assert service.siret_is_valid("73282932000074")
    assert not service.siret_is_valid("73282932000075")
    assert service.siret_is_valid("35600000000001")  # La Poste: digit sum multiple of 5
    assert not service.siret_is_valid("7328293200007")


def test_roles_keep_one_admin(engine: Engine) -> None:
    admin = make_user(engine, "chef", Role.ADMIN)
    member = make_user(engine, "membre")
    with db.session_scope(engine) as s, pytest.raises(Conflict):
        service.set_role(s, service.get_user(s, "chef"), Role.MEMBER, by=admin)
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        service.set_role(s, service.get_user(s, "chef"), Role.MEMBER, by=member)
    with db.session_scope(engine) as s:
        service.set_role(s, service.get_user(s, "membre"), Role.ADMIN, by=admin)
    with db.session_scope(engine) as s:
        service.set_role(s, service.get_user(s, "chef"), Role.MEMBER)
        assert service.get_user(s, "chef").role == Role.MEMBER


def test_suspension_closes_sessions_and_tokens(engine: Engine, settings: Settings) -> None:
    user = make_user(engine, "amina")
    coordinator = make_user(engine, "coord", Role.COORDINATOR)
    with db.session_scope(engine) as s:
        cookie = credentials.open_web_session(s, user, days=1)
        _token, secret = credentials.create_api_token(s, user, "app")
    with db.session_scope(engine) as s:
        assert credentials.user_for_web_session(s, cookie) is not None
        assert credentials.user_for_api_token(s, secret) is not None
        service.suspend(s, service.get_user(s, "amina"), by=coordinator)
    with db.session_scope(engine) as s:
        assert credentials.user_for_web_session(s, cookie) is None
        assert credentials.user_for_api_token(s, secret) is None
        with pytest.raises(PermissionDenied):
            service.authenticate(s, settings, username="amina", password=PASSWORD, remote_addr=None)


def test_api_tokens_are_stored_hashed_and_revocable(engine: Engine) -> None:
    user = make_user(engine, "amina")
    with db.session_scope(engine) as s:
        token, secret = credentials.create_api_token(s, user, "mon application")
    with db.session_scope(engine) as s:
        stored = s.exec(select(ApiToken)).one()
        assert secret not in stored.token_hash and stored.prefix == secret[:12]
        found = credentials.user_for_api_token(s, secret)
        assert found is not None and found.username == "amina"
        assert credentials.user_for_api_token(s, secret + "x") is None
        assert credentials.user_for_api_token(s, "garbage") is None
    with db.session_scope(engine) as s:
        assert token.id is not None
        credentials.revoke_api_token(s, user, token.id)
    with db.session_scope(engine) as s:
        assert credentials.user_for_api_token(s, secret) is None
        assert credentials.list_api_tokens(s, user) == []


def test_export_and_delete(engine: Engine, settings: Settings) -> None:
    user = make_user(engine, "amina")
    with db.session_scope(engine) as s:
        credentials.create_api_token(s, user, "app")
        service.update_profile(
            s,
            service.get_user(s, "amina"),
            service.ProfileInput(display_name="Amina", offers_services=True, categories=["tutoring"]),
        )
    with db.session_scope(engine) as s:
        data = gdpr.export_account(s, service.get_user(s, "amina"), node_url="http://testserver")
    assert data["account"]["username"] == "amina"
    assert data["profile"]["categories"] == ["tutoring"]
    assert data["api_tokens"][0]["name"] == "app"
    assert "password_hash" not in str(data)
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
        gdpr.delete_account(s, service.get_user(s, "amina"), password=PASSWORD, confirm_username="someone")
    with db.session_scope(engine) as s:
        gdpr.delete_account(s, service.get_user(s, "amina"), password=PASSWORD, confirm_username="amina")
    with db.session_scope(engine) as s:
        tombstone = service.get_user(s, "amina")
        assert tombstone.status == AccountStatus.DELETED
        assert (tombstone.email, tombstone.display_name, tombstone.bio, tombstone.commune_name) == (
            None,
            "",
            "",
            "",
        )
        assert _count(s, ApiToken) == 0
        assert _count(s, UserCategory) == 0
        assert service.list_users(s) == []
    with db.session_scope(engine) as s, pytest.raises(AuthenticationFailed):
        service.authenticate(s, settings, username="amina", password=PASSWORD, remote_addr=None)
    with db.session_scope(engine) as s, pytest.raises(Conflict):
        service.create_user(s, username="amina", password=PASSWORD)


def test_last_admin_cannot_delete_themselves(engine: Engine) -> None:
    make_user(engine, "chef", Role.ADMIN)
    with db.session_scope(engine) as s, pytest.raises(Conflict):
        gdpr.delete_account(s, service.get_user(s, "chef"), password=PASSWORD, confirm_username="chef")
