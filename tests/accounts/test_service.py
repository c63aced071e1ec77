from __future__ import annotations

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from node.accounts import credentials, gdpr, service
from node.accounts.models import AccountStatus, ApiToken, LoginFailure, Role, User, UserCategory
from node.core import db
from node.core.errors import AuthenticationFailed, Conflict, PermissionDenied, Throttled, ValidationFailed
from node.settings import RegistrationPolicy, Settings
from tests.support.accounts import PASSWORD, make_user
from tests.support.costs import production_password_hashing_fixture  # noqa: F401 - a fixture used by name


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.mark.usefixtures("production_password_hashing")
def test_create_user_hashes_password_with_argon2(session: Session) -> None:
    user = service.create_user(
        username="Amina", password=PASSWORD, email="Amina@Example.org", session=session
    )
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
        service.create_user(username=username, password=password, email=email, session=session)
    assert field in caught.value.fields
    session.rollback()
    assert _count(session, User) == 0


def test_duplicate_username_and_email(engine: Engine, session: Session) -> None:
    with db.session_scope(engine) as s:
        service.create_user(username="amina", password=PASSWORD, email="a@example.org", session=s)
    with pytest.raises(Conflict):
        service.create_user(username="AMINA", password=PASSWORD, session=session)
    session.rollback()
    with pytest.raises(ValidationFailed) as caught:
        service.create_user(username="bernard", password=PASSWORD, email="A@example.org", session=session)
    assert "email" in caught.value.fields
    session.rollback()
    assert _count(session, User) == 1


def _settings(settings: Settings, policy: RegistrationPolicy) -> Settings:
    return settings.replace(registration=policy)


def test_registration_policies(engine: Engine, settings: Settings) -> None:
    with db.session_scope(engine) as s:
        open_user = service.register(
            _settings(settings, RegistrationPolicy.OPEN),
            service.RegistrationInput("ouvert", PASSWORD),
            session=s,
        )
        pending = service.register(
            _settings(settings, RegistrationPolicy.APPROVAL),
            service.RegistrationInput("attente", PASSWORD, note="Bonjour"),
            session=s,
        )
    assert open_user.status == AccountStatus.ACTIVE
    assert pending.status == AccountStatus.PENDING
    invite_settings = _settings(settings, RegistrationPolicy.INVITE)
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed) as caught:
        service.register(
            invite_settings, service.RegistrationInput("invite", PASSWORD, invite_code="wrong"), session=s
        )
    assert "invite_code" in caught.value.fields
    with db.session_scope(engine) as s:
        _invite, code = credentials.create_invite(by=None, session=s)
    with db.session_scope(engine) as s:
        invited = service.register(
            invite_settings, service.RegistrationInput("invite", PASSWORD, invite_code=code), session=s
        )
    assert invited.is_active
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
        service.register(
            invite_settings, service.RegistrationInput("second", PASSWORD, invite_code=code), session=s
        )


def test_pending_account_cannot_log_in_until_approved(engine: Engine, settings: Settings) -> None:
    with db.session_scope(engine) as s:
        service.register(
            _settings(settings, RegistrationPolicy.APPROVAL),
            service.RegistrationInput("zoe", PASSWORD),
            session=s,
        )
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        service.authenticate(settings, username="zoe", password=PASSWORD, remote_addr="10.0.0.1", session=s)
    coordinator = make_user(engine, "coord", Role.COORDINATOR)
    with db.session_scope(engine) as s:
        service.approve(service.get_user("zoe", session=s), by=coordinator, session=s)
    with db.session_scope(engine) as s:
        assert service.authenticate(
            settings, username="zoe", password=PASSWORD, remote_addr=None, session=s
        ).is_active


def test_failed_logins_lock_the_account_and_address_pair_only(engine: Engine, settings: Settings) -> None:
    """A stranger's wrong passwords lock the stranger out, not the account's owner elsewhere."""
    make_user(engine, "amina")
    for _ in range(settings.login_max_failures):
        with pytest.raises(AuthenticationFailed), db.session_scope(engine) as s:
            service.authenticate(
                settings, username="amina", password="wrong password!", remote_addr="10.1.1.1", session=s
            )
    with db.session_scope(engine) as s, pytest.raises(Throttled) as caught:
        service.authenticate(settings, username="amina", password=PASSWORD, remote_addr="10.1.1.1", session=s)
    assert 0 < caught.value.retry_after <= settings.login_window_seconds + 1
    with db.session_scope(engine) as s:
        assert _count(s, LoginFailure) >= settings.login_max_failures
        delay = service.login_delay(settings, "amina", session=s)
    assert 0 < delay <= settings.login_delay_max_seconds  # the account is slowed down, not locked
    with db.session_scope(engine) as s:
        user = service.authenticate(
            settings, username="amina", password=PASSWORD, remote_addr="10.2.2.2", session=s
        )
    assert user.username == "amina"
    with db.session_scope(engine) as s:
        assert service.login_delay(settings, "amina", session=s) == 0  # a success clears the account's count


def test_failed_logins_from_one_address_throttle_other_names(engine: Engine, settings: Settings) -> None:
    settings = settings.replace(login_address_max_failures=4)
    make_user(engine, "amina")
    for index in range(settings.login_address_max_failures):
        with pytest.raises(AuthenticationFailed), db.session_scope(engine) as s:
            service.authenticate(
                settings, username=f"guess{index}", password="x" * 12, remote_addr="10.9.9.9", session=s
            )
    with db.session_scope(engine) as s, pytest.raises(Throttled):
        service.authenticate(settings, username="amina", password=PASSWORD, remote_addr="10.9.9.9", session=s)
    with db.session_scope(engine) as s:
        assert service.authenticate(
            settings, username="amina", password=PASSWORD, remote_addr="10.8.8.8", session=s
        ).is_active


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
        service.update_profile(s.get(User, user.id), good, session=s)  # type: ignore[arg-type]
    with db.session_scope(engine) as s:
        saved = s.get(User, user.id)
        assert saved is not None
        assert saved.commune_insee == "93048" and saved.commune_name == "Montreuil"
        assert saved.siret == "73282932000074"
        assert service.user_categories(saved, session=s) == ["housework", "gardening"]
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
            service.update_profile(service.get_user("bernard", session=s), data, session=s)
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
        service.set_role(service.get_user("chef", session=s), Role.MEMBER, by=admin, session=s)
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        service.set_role(service.get_user("chef", session=s), Role.MEMBER, by=member, session=s)
    with db.session_scope(engine) as s:
        service.set_role(service.get_user("membre", session=s), Role.ADMIN, by=admin, session=s)
    with db.session_scope(engine) as s:
        service.set_role(service.get_user("chef", session=s), Role.MEMBER, session=s)
        assert service.get_user("chef", session=s).role == Role.MEMBER


def test_suspension_closes_sessions_and_tokens(engine: Engine, settings: Settings) -> None:
    user = make_user(engine, "amina")
    coordinator = make_user(engine, "coord", Role.COORDINATOR)
    with db.session_scope(engine) as s:
        cookie = credentials.open_web_session(user, days=1, session=s)
        _token, secret = credentials.create_api_token(user, "app", session=s)
    with db.session_scope(engine) as s:
        assert credentials.user_for_web_session(cookie, session=s) is not None
        assert credentials.user_for_api_token(secret, session=s) is not None
        service.suspend(service.get_user("amina", session=s), by=coordinator, session=s)
    with db.session_scope(engine) as s:
        assert credentials.user_for_web_session(cookie, session=s) is None
        assert credentials.user_for_api_token(secret, session=s) is None
        with pytest.raises(PermissionDenied):
            service.authenticate(settings, username="amina", password=PASSWORD, remote_addr=None, session=s)


def test_api_tokens_are_stored_hashed_and_revocable(engine: Engine) -> None:
    user = make_user(engine, "amina")
    with db.session_scope(engine) as s:
        token, secret = credentials.create_api_token(user, "mon application", session=s)
    with db.session_scope(engine) as s:
        stored = s.exec(select(ApiToken)).one()
        assert secret not in stored.token_hash and stored.prefix == secret[:12]
        found = credentials.user_for_api_token(secret, session=s)
        assert found is not None and found.username == "amina"
        assert credentials.user_for_api_token(secret + "x", session=s) is None
        assert credentials.user_for_api_token("garbage", session=s) is None
    with db.session_scope(engine) as s:
        assert token.id is not None
        credentials.revoke_api_token(user, token.id, session=s)
    with db.session_scope(engine) as s:
        assert credentials.user_for_api_token(secret, session=s) is None
        assert credentials.list_api_tokens(user, session=s) == []


def test_export_and_delete(engine: Engine, settings: Settings) -> None:
    user = make_user(engine, "amina")
    with db.session_scope(engine) as s:
        credentials.create_api_token(user, "app", session=s)
        service.update_profile(
            service.get_user("amina", session=s),
            service.ProfileInput(display_name="Amina", offers_services=True, categories=["tutoring"]),
            session=s,
        )
    with db.session_scope(engine) as s:
        data = gdpr.export_account(
            service.get_user("amina", session=s), node_url="http://testserver", session=s
        )
    assert data["account"]["username"] == "amina"
    assert data["profile"]["categories"] == ["tutoring"]
    assert data["api_tokens"][0]["name"] == "app"
    assert "password_hash" not in str(data)
    with db.session_scope(engine) as s, pytest.raises(ValidationFailed):
        gdpr.delete_account(
            service.get_user("amina", session=s), password=PASSWORD, confirm_username="someone", session=s
        )
    with db.session_scope(engine) as s:
        gdpr.delete_account(
            service.get_user("amina", session=s), password=PASSWORD, confirm_username="amina", session=s
        )
    with db.session_scope(engine) as s:
        tombstone = service.get_user("amina", session=s)
        assert tombstone.status == AccountStatus.DELETED
        assert (tombstone.email, tombstone.display_name, tombstone.bio, tombstone.commune_name) == (
            None,
            "",
            "",
            "",
        )
        assert _count(s, ApiToken) == 0
        assert _count(s, UserCategory) == 0
        assert service.list_users(session=s) == []
    with db.session_scope(engine) as s, pytest.raises(AuthenticationFailed):
        service.authenticate(settings, username="amina", password=PASSWORD, remote_addr=None, session=s)
    with db.session_scope(engine) as s, pytest.raises(Conflict):
        service.create_user(username="amina", password=PASSWORD, session=s)


def test_last_admin_cannot_delete_themselves(engine: Engine) -> None:
    make_user(engine, "chef", Role.ADMIN)
    with db.session_scope(engine) as s, pytest.raises(Conflict):
        gdpr.delete_account(
            service.get_user("chef", session=s), password=PASSWORD, confirm_username="chef", session=s
        )
