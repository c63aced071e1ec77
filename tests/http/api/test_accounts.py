from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from node.accounts import credentials, service
from node.accounts.models import Role, User
from node.core import db
from node.http.api import v1
from tests.support.accounts import make_user


def _token(engine: Engine, username: str, role: Role = Role.MEMBER) -> str:
    user = make_user(engine, username, role)
    with db.session_scope(engine) as s:
        return credentials.create_api_token(user, "tests", session=s)[1]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
    if code:
        assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error


def test_me_requires_a_valid_bearer_token(client: TestClient, engine: Engine) -> None:
    _assert_error(client.get("/api/v1/me"), 401, "unauthenticated")
    _assert_error(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)
    _assert_error(client.get("/api/v1/me", headers={"Authorization": "Bearer"}), 401)
    _assert_error(client.get("/api/v1/me", headers={"Authorization": "Bearer asa_nope"}), 401)
    _assert_error(client.get("/api/v1/me", headers={"Authorization": "Bearer a b c"}), 401)
    token = _token(engine, "amina")
    me = client.get("/api/v1/me", headers=_auth(token))
    assert me.status_code == 200
    assert me.json()["username"] == "amina"
    assert me.json()["url"] == "http://testserver/users/amina"


def test_patch_me_validates_and_changes_nothing_on_error(client: TestClient, engine: Engine) -> None:
    token = _token(engine, "amina")
    ok = client.patch(
        "/api/v1/me",
        headers=_auth(token),
        json={
            "display_name": "Amina",
            "postal_code": "93170",
            "commune_name": "Bagnolet",
            "offers_services": True,
            "categories": ["housework"],
            "language": "en",
        },
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["profile"]["commune_insee"] == "93006"
    assert ok.json()["language"] == "en"
    bad = client.patch("/api/v1/me", headers=_auth(token), json={"categories": ["space-travel"]})
    fields = _assert_error(bad, 422, "validation_failed")["fields"]
    assert [name.split(".")[0] for name in fields] == ["categories"]  # the schema's enum says which
    unknown_field = client.patch("/api/v1/me", headers=_auth(token), json={"role": "admin"})
    _assert_error(unknown_field, 422)
    wrong_type = client.patch("/api/v1/me", headers=_auth(token), json={"offers_services": "perhaps"})
    _assert_error(wrong_type, 422)
    _assert_error(
        client.patch(
            "/api/v1/me",
            headers=_auth(token),
            content=b"{not json",
        ),
        415,
    )
    _assert_error(
        client.patch(
            "/api/v1/me", headers={**_auth(token), "Content-Type": "application/json"}, content=b"{not json"
        ),
        400,
        "bad_request",
    )
    _assert_error(
        client.patch(
            "/api/v1/me", headers={**_auth(token), "Content-Type": "application/json"}, content=b"[1, 2]"
        ),
        400,
    )
    with db.session_scope(engine) as s:
        user = service.get_user("amina", session=s)
        assert service.user_categories(user, session=s) == ["housework"]
        assert user.role == "member"


def test_patch_me_sets_and_removes_the_approval_number(client: TestClient, engine: Engine) -> None:
    token = _token(engine, "amina")
    ok = client.patch("/api/v1/me", headers=_auth(token), json={"approval_number": "  SAP/123456789 "})
    assert ok.status_code == 200, ok.text
    assert ok.json()["profile"]["approval_number"] == "SAP/123456789"
    # Another field alone leaves it as it is.
    assert client.patch("/api/v1/me", headers=_auth(token), json={"bio": "Bonjour"}).status_code == 200
    assert (
        client.get("/api/v1/me", headers=_auth(token)).json()["profile"]["approval_number"] == "SAP/123456789"
    )
    bad = client.patch("/api/v1/me", headers=_auth(token), json={"approval_number": "<script>"})
    assert list(_assert_error(bad, 422, "validation_failed")["fields"]) == ["approval_number"]
    with db.session_scope(engine) as s:
        assert service.get_user("amina", session=s).approval_number == "SAP/123456789"  # unchanged
    gone = client.patch("/api/v1/me", headers=_auth(token), json={"approval_number": ""})
    assert gone.status_code == 200 and gone.json()["profile"]["approval_number"] is None


def test_oversized_json_is_refused(client: TestClient, engine: Engine) -> None:
    token = _token(engine, "amina")
    huge = b'{"bio": "' + b"x" * 2_000_000 + b'"}'
    response = client.patch(
        "/api/v1/me", headers={**_auth(token), "Content-Type": "application/json"}, content=huge
    )
    _assert_error(response, 413, "payload_too_large")


def test_tokens_lifecycle(client: TestClient, engine: Engine) -> None:
    token = _token(engine, "amina")
    created = client.post("/api/v1/tokens", headers=_auth(token), json={"name": "script"})
    assert created.status_code == 201
    new = created.json()
    assert new["token"].startswith("asa_")
    listed = client.get("/api/v1/tokens", headers=_auth(token)).json()
    assert {t["name"] for t in listed} == {"tests", "script"}
    assert all("token" not in t for t in listed)
    assert client.delete(f"/api/v1/tokens/{new['id']}", headers=_auth(token)).status_code == 204
    _assert_error(client.get("/api/v1/me", headers=_auth(new["token"])), 401)
    _assert_error(client.delete(f"/api/v1/tokens/{new['id']}", headers=_auth(token)), 404, "not_found")
    _assert_error(client.post("/api/v1/tokens", headers=_auth(token), json={"name": ""}), 422)


def test_another_persons_token_cannot_be_revoked(client: TestClient, engine: Engine) -> None:
    mine = _token(engine, "amina")
    theirs_user = make_user(engine, "bernard")
    with db.session_scope(engine) as s:
        theirs, _ = credentials.create_api_token(theirs_user, "b", session=s)
    _assert_error(client.delete(f"/api/v1/tokens/{theirs.id}", headers=_auth(mine)), 404)


def test_export(client: TestClient, engine: Engine) -> None:
    token = _token(engine, "amina")
    data = client.get("/api/v1/me/export", headers=_auth(token)).json()
    assert data["account"]["username"] == "amina" and data["format"].startswith("asasap-account-export")


def test_public_reference_endpoints(client: TestClient) -> None:
    categories = client.get("/api/v1/categories").json()
    assert len(categories) == 26
    node = client.get("/api/v1/node").json()
    assert node == {**node, "name": "Montreuil Services", "mode": "market", "software": "asasap"}


def test_admin_listing_needs_a_coordinator(client: TestClient, engine: Engine) -> None:
    member = _token(engine, "amina")
    _assert_error(client.get("/api/v1/admin/users", headers=_auth(member)), 403, "forbidden")
    coordinator = _token(engine, "coord", Role.COORDINATOR)
    people = client.get("/api/v1/admin/users?status=active", headers=_auth(coordinator)).json()
    assert {p["username"] for p in people} == {"amina", "coord"}


def test_unknown_api_route_and_method(client: TestClient) -> None:
    _assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    _assert_error(client.put("/api/v1/categories"), 405, "method_not_allowed")


def test_openapi_document_lists_every_operation(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    api = v1.api()
    declared = {(op.method.lower(), "/api/v1" + op.path.replace(":int", "")) for op in api.operations}
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert declared == documented
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], (method, path)
            if operation.get("security"):
                assert "401" in operation["responses"]
    # Every API route of the application is declared (nothing served outside the document).
    served = {r.path for r in v1.routes(api) if hasattr(r, "path")} - {"/api/v1/openapi.json"}
    assert served == {"/api/v1" + op.path for op in api.operations}


def test_openapi_schemas_validate_real_responses(client: TestClient, engine: Engine) -> None:
    document = client.get("/api/v1/openapi.json").json()
    token = _token(engine, "amina")
    me = client.get("/api/v1/me", headers=_auth(token)).json()
    schema = {**document["components"]["schemas"]["Account"], "components": document["components"]}
    jsonschema.validate(me, schema)
    error = client.get("/api/v1/me").json()
    jsonschema.validate(error, document["components"]["schemas"]["Error"])


@pytest.mark.parametrize("status", ["active", "pending", "suspended"])
def test_suspended_or_pending_token_owner_is_refused(client: TestClient, engine: Engine, status: str) -> None:
    token = _token(engine, "amina")
    with db.session_scope(engine) as s:
        user = s.get(User, service.get_user("amina", session=s).id)
        assert user is not None
        user.status = status
        s.add(user)
    expected = 200 if status == "active" else 401
    assert client.get("/api/v1/me", headers=_auth(token)).status_code == expected
