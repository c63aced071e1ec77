"""WebFinger, host-meta and NodeInfo: the documents, the resource parser, and a real server."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.accounts import actors as accounts_actors
from node.accounts import credentials
from node.accounts.models import AccountStatus, User
from node.activitypub import discovery
from node.activitypub.discovery import MalformedResource, Usage, parse_resource
from node.app import create_app
from node.core import db
from node.core.timeutil import utcnow
from node.settings import Mode, RegistrationPolicy, Settings, load_settings
from tests.support.accounts import PASSWORD, make_user
from tests.support.data import VECTORS
from tests.support.nodes import NodeProcess
from tests.support.settings import TEST_SECRET

JRD = "application/jrd+json; charset=utf-8"
AS = "application/activity+json"


def schema(version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"nodeinfo-{version}.schema.json").read_text())
    return data


def validate_nodeinfo(document: dict[str, Any], version: str) -> None:
    spec = schema(version)
    validator = jsonschema.validators.validator_for(spec)
    validator.check_schema(spec)
    validator(spec).validate(document)


def bare_settings(base_url: str = "http://testserver", **changes: Any) -> Settings:
    return load_settings(env={}, base_url=base_url, secret_key=TEST_SECRET, **changes)


def suspend(engine: Engine, username: str) -> None:
    with db.session_scope(engine) as s:
        user = s.exec(select(User).where(User.username == username)).one()
        user.status = AccountStatus.SUSPENDED.value
        s.add(user)


# --- resource parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("acct:amina@testserver", "amina"),
        ("ACCT:Amina@TestServer", "amina"),
        ("acct:@amina@testserver", "amina"),
        ("amina@testserver", "amina"),
        ("@amina@testserver", "amina"),
        ("acct:amina@testserver:80", "amina"),
        ("  acct:amina@testserver ", "amina"),
        ("http://testserver/users/amina", "amina"),
        ("http://TESTSERVER/users/Amina", "amina"),
        ("acct:node@testserver", "node"),
        ("http://testserver/actor", "node"),
        ("acct:amina@elsewhere.example", None),
        ("acct:amina@testserver:8080", None),
        ("https://testserver/users/amina", None),
        ("http://elsewhere.example/users/amina", None),
        ("http://testserver/users/amina/outbox", None),
        ("http://testserver/users/amina?x=1", None),
        ("http://testserver/", None),
        ("mailto:amina@testserver", None),
    ],
)
def test_parse_resource(resource: str, expected: str | None) -> None:
    assert parse_resource(bare_settings(), resource) == expected


@pytest.mark.parametrize(
    "resource",
    [
        "",
        "   ",
        "acct:",
        "acct:amina",
        "acct:@testserver",
        "acct:amina@",
        "acct:a@b@testserver",
        "acct:amina@testserver/path",
        "acct:a b@testserver",
        "acct:amina@test\x00server",
        "amina",
        "http://",
        "http://[::1/users/amina",
        "http://testserver:99999/users/amina",
        "ftp://testserver/users/amina",
        "acct:" + "a" * 3000 + "@testserver",
    ],
)
def test_malformed_resources(resource: str) -> None:
    with pytest.raises(MalformedResource):
        parse_resource(bare_settings(), resource)


def test_resources_on_a_node_with_a_port() -> None:
    settings = bare_settings("http://127.0.0.1:8001")
    assert parse_resource(settings, "acct:amina@127.0.0.1:8001") == "amina"
    assert parse_resource(settings, "acct:amina@127.0.0.1") is None
    assert parse_resource(settings, "acct:amina@127.0.0.1:8002") is None
    assert parse_resource(settings, "http://127.0.0.1:8001/users/amina") == "amina"
    https = bare_settings("https://montreuil.example")
    assert parse_resource(https, "acct:amina@montreuil.example:443") == "amina"
    assert parse_resource(https, "acct:amina@montreuil.example:80") is None


def test_webfinger_document_and_rel_filter() -> None:
    settings = bare_settings("http://127.0.0.1:8001")
    actor = "http://127.0.0.1:8001/users/amina"
    doc = discovery.webfinger_document(settings, "amina", actor, actor)
    assert doc["subject"] == "acct:amina@127.0.0.1:8001"
    assert doc["aliases"] == [actor]
    assert {"rel": "self", "type": AS, "href": actor} in doc["links"]
    assert {"rel": discovery.PROFILE_PAGE_REL, "type": "text/html", "href": actor} in doc["links"]
    assert discovery.filter_links(doc, []) == doc
    assert [link["rel"] for link in discovery.filter_links(doc, ["self"])["links"]] == ["self"]


# --- NodeInfo documents -------------------------------------------------------------------------


@pytest.mark.parametrize("version", discovery.NODEINFO_VERSIONS)
@pytest.mark.parametrize("policy", list(RegistrationPolicy))
def test_nodeinfo_documents_are_valid(version: discovery.NodeInfoVersion, policy: RegistrationPolicy) -> None:
    settings = bare_settings(
        node_name="Coop Bagnolet", territory="Bagnolet (93)", mode=Mode.COOPERATIVE, registration=policy
    )
    doc = discovery.nodeinfo_document(
        settings, version, Usage(3, 2, 1), "1.2.3", repository="https://code.example/asasap", homepage=None
    )
    validate_nodeinfo(doc, version)
    assert doc["version"] == version and doc["software"]["name"] == "asasap"
    assert doc["software"]["version"] == "1.2.3" and doc["protocols"] == ["activitypub"]
    assert doc["openRegistrations"] is (policy == RegistrationPolicy.OPEN)
    assert doc["usage"]["users"] == {"total": 3, "activeMonth": 2, "activeHalfyear": 1}
    assert doc["metadata"] == {
        "nodeName": "Coop Bagnolet",
        "territory": "Bagnolet (93)",
        "mode": "cooperative",
        "registration": policy.value,
    }
    if version == "2.1":
        assert doc["software"]["repository"] == "https://code.example/asasap"
    else:
        assert set(doc["software"]) == {"name", "version"}


def test_the_schemas_reject_what_they_should() -> None:
    doc = discovery.nodeinfo_document(
        bare_settings(), "2.0", Usage(1, 1, 1), "1", repository="https://x.example"
    )
    doc["software"]["repository"] = "https://x.example"  # 2.0 has no repository
    with pytest.raises(jsonschema.ValidationError):
        validate_nodeinfo(doc, "2.0")
    doc = discovery.nodeinfo_document(bare_settings(), "2.1", Usage(1, 1, 1), "1")
    doc["software"]["name"] = "ASASAP"
    with pytest.raises(jsonschema.ValidationError):
        validate_nodeinfo(doc, "2.1")


def test_host_meta_documents() -> None:
    settings = bare_settings("https://montreuil.example")
    root = ET.fromstring(discovery.host_meta_xml(settings))
    assert root.tag == "{http://docs.oasis-open.org/ns/xri/xrd-1.0}XRD"
    (link,) = list(root)
    assert link.attrib == {
        "rel": "lrdd",
        "template": "https://montreuil.example/.well-known/webfinger?resource={uri}",
    }
    assert discovery.host_meta_json(settings)["links"][0]["template"] == link.attrib["template"]


# --- usage counts -------------------------------------------------------------------------------


def test_usage_counts(engine: Engine, session: Session) -> None:
    now = utcnow()
    for name in ("recent", "old", "oldweb", "oldtoken", "suspended", "pending"):
        make_user(engine, name)
    with db.session_scope(engine) as s:
        users = {u.username: u for u in s.exec(select(User)).all()}
        for name in ("old", "oldweb", "oldtoken", "suspended"):
            users[name].created_at = now - timedelta(days=400)
        users["suspended"].status = AccountStatus.SUSPENDED.value
        users["pending"].status = AccountStatus.PENDING.value
        credentials.open_web_session(users["oldweb"], days=30, session=s)
        token, _ = credentials.create_api_token(users["oldtoken"], "app", session=s)
        token.last_used_at = now - timedelta(days=60)
        s.add_all([*users.values(), token])
    usage = accounts_actors.usage(now=now, session=session)
    assert usage == Usage(total=4, active_month=2, active_halfyear=3)
    session.rollback()
    assert accounts_actors.usage(now=now + timedelta(days=365), session=session) == Usage(4, 0, 0)


# --- over HTTP ----------------------------------------------------------------------------------


def test_webfinger_for_a_person(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    response = client.get("/.well-known/webfinger", params={"resource": "acct:amina@testserver"})
    assert response.status_code == 200
    assert response.headers["content-type"] == JRD
    assert response.headers["access-control-allow-origin"] == "*"
    doc = response.json()
    assert doc["subject"] == "acct:amina@testserver"
    assert doc["aliases"] == ["http://testserver/users/amina"]
    assert {"rel": "self", "type": AS, "href": "http://testserver/users/amina"} in doc["links"]
    # The actor URL as resource gives the same answer; the self link leads to the actor.
    by_url = client.get("/.well-known/webfinger", params={"resource": "http://testserver/users/amina"})
    assert by_url.json() == doc
    actor = client.get("/users/amina", headers={"Accept": AS}).json()
    assert actor["id"] == doc["links"][0]["href"]
    only_self = client.get(
        "/.well-known/webfinger", params={"resource": "acct:amina@testserver", "rel": "self"}
    )
    assert [link["rel"] for link in only_self.json()["links"]] == ["self"]


def test_webfinger_for_the_node(client: TestClient) -> None:
    for resource in ("acct:node@testserver", "http://testserver/actor"):
        doc = client.get("/.well-known/webfinger", params={"resource": resource}).json()
        assert doc["subject"] == "acct:node@testserver"
        assert {"rel": "self", "type": AS, "href": "http://testserver/actor"} in doc["links"]


@pytest.fixture
def ported_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(settings.replace(base_url="http://127.0.0.1:8001"), engine=engine)
    with TestClient(app, base_url="http://127.0.0.1:8001") as c:
        yield c


def test_webfinger_with_a_port(ported_client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    doc = ported_client.get("/.well-known/webfinger", params={"resource": "acct:amina@127.0.0.1:8001"}).json()
    assert doc["subject"] == "acct:amina@127.0.0.1:8001"
    assert doc["links"][0]["href"] == "http://127.0.0.1:8001/users/amina"
    response = ported_client.get("/.well-known/webfinger", params={"resource": "acct:amina@127.0.0.1"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "resource",
    ["acct:amina@elsewhere.example", "acct:nobody@testserver", "acct:suspended@testserver", "mailto:a@b"],
)
def test_webfinger_unknown_is_404(client: TestClient, engine: Engine, resource: str) -> None:
    make_user(engine, "amina")
    make_user(engine, "suspended")
    suspend(engine, "suspended")
    response = client.get("/.well-known/webfinger", params={"resource": resource})
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query", ["", "?resource=", "?resource=amina", "?resource=acct:amina", "?resource=a&resource=b"]
)
def test_webfinger_malformed_is_400(client: TestClient, query: str) -> None:
    response = client.get("/.well-known/webfinger" + query)
    assert response.status_code == 400
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["error"]["code"] == "bad_request"


def test_host_meta_over_http(client: TestClient) -> None:
    response = client.get("/.well-known/host-meta")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xrd+xml; charset=utf-8"
    assert 'template="http://testserver/.well-known/webfinger?resource={uri}"' in response.text
    as_json = client.get("/.well-known/host-meta.json")
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json()["links"][0]["rel"] == "lrdd"


def test_nodeinfo_over_http(client: TestClient, engine: Engine) -> None:
    make_user(engine, "amina")
    make_user(engine, "bruno")
    make_user(engine, "carla")
    suspend(engine, "carla")
    index = client.get("/.well-known/nodeinfo")
    assert index.status_code == 200 and index.headers["access-control-allow-origin"] == "*"
    links = index.json()["links"]
    assert [link["href"] for link in links] == [
        "http://testserver/nodeinfo/2.0",
        "http://testserver/nodeinfo/2.1",
    ]
    for link in links:
        version = link["href"].rsplit("/", 1)[1]
        assert link["rel"] == f"http://nodeinfo.diaspora.software/ns/schema/{version}"
        response = client.get(link["href"].removeprefix("http://testserver"))
        assert response.status_code == 200
        assert response.headers["content-type"] == (
            f'application/json; profile="http://nodeinfo.diaspora.software/ns/schema/{version}#"'
        )
        doc = response.json()
        validate_nodeinfo(doc, version)
        assert doc["usage"]["users"] == {"total": 2, "activeMonth": 2, "activeHalfyear": 2}
        assert doc["openRegistrations"] is True
        assert doc["metadata"]["nodeName"] == "Montreuil Services"
        assert doc["metadata"]["territory"] == "Montreuil (93)" and doc["metadata"]["mode"] == "market"
    assert client.get("/nodeinfo/3.0").status_code == 404


# --- a real server ------------------------------------------------------------------------------


@pytest.mark.process
def test_a_real_node_serves_its_actor_and_webfinger(tmp_path: Path, database_url: str) -> None:
    node = NodeProcess(tmp_path / "node", database_url, extra_env={"ASASAP_NODE_NAME": "Bagnolet Entraide"})
    node.init("--admin", "chef", "--password-stdin", stdin=PASSWORD)
    node.start()
    try:
        with httpx.Client(base_url=node.base_url, timeout=10) as http:
            domain = node.base_url.removeprefix("http://")
            finger = http.get("/.well-known/webfinger", params={"resource": f"acct:chef@{domain}"})
            assert finger.status_code == 200, finger.text
            assert finger.headers["content-type"] == JRD
            self_link = next(link for link in finger.json()["links"] if link["rel"] == "self")
            assert self_link["href"] == f"{node.base_url}/users/chef"
            actor = http.get(self_link["href"], headers={"Accept": AS})
            assert actor.status_code == 200
            assert actor.headers["content-type"] == "application/activity+json; charset=utf-8"
            doc = actor.json()
            assert doc["id"] == self_link["href"] and doc["publicKey"]["owner"] == doc["id"]
            assert "BEGIN PUBLIC KEY" in doc["publicKey"]["publicKeyPem"]
            node_doc = http.get("/actor", headers={"Accept": AS}).json()
            assert node_doc["type"] == "Application" and node_doc["name"] == "Bagnolet Entraide"
            info = http.get("/nodeinfo/2.1").json()
            validate_nodeinfo(info, "2.1")
            assert info["usage"]["users"]["total"] == 1
    finally:
        node.stop()
