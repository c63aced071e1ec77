"""A group's public activities are served at their ids (what it announces, and its ``Announce``), so that
a node given only an id can fetch it from its origin; what goes to the members only is not, nor anyone
else's activity; secure mode asks for a signature as for the rest of the node."""

from __future__ import annotations

import json

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.activitypub.actors import local
from node.activitypub.addressing import PUBLIC
from node.activitypub.models import OutboxActivity
from node.activitypub.outbox.publish import publish
from node.app import create_app
from node.core import db
from node.groups import profile as group_profile
from node.groups import service
from node.settings import Settings
from tests.support.groups import make_group
from tests.support.market import person

AS = "application/activity+json"


def test_a_groups_public_activities_are_served_at_their_ids(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    amina = person(engine, "amina")
    make_group(engine, settings, amina, remote_member=True)
    with db.session_scope(engine) as s:
        group = service.group_named("coop", session=s)
        group_profile.update_profile(
            settings,
            amina,
            group,
            group_profile.GroupInput(display_name="Coop Montreuil", legal_shape="scic"),
            session=s,
        )
        service.post_notice(settings, amina, group, "Réunion jeudi", session=s)
        publish(
            settings,
            actor=local.person(settings, amina),
            activity={"type": "Create", "object": {"type": "Note", "content": "Bonjour"}, "to": [PUBLIC]},
            public=True,
            session=s,
        )
    group_uri = settings.url("/groups/coop")
    with Session(engine) as s:
        rows = s.exec(select(OutboxActivity).where(col(OutboxActivity.actor_uri) == group_uri)).all()
        person_rows = s.exec(select(OutboxActivity).where(col(OutboxActivity.actor_uri) != group_uri)).all()
    by_type: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_type.setdefault(row.type, []).append(json.loads(row.payload))
    [update] = by_type["Update"]
    announces = by_type["Announce"]
    public_announce = next(
        a for a in announces if isinstance(a["object"], dict) and a["object"]["type"] == "Update"
    )
    notice = next(a for a in announces if isinstance(a["object"], dict) and a["object"]["type"] == "Create")

    def path_of(activity: dict[str, object]) -> str:
        value = str(activity["id"])
        assert value.startswith(settings.url("/activities/"))
        return value[len(settings.url("")) :]

    for activity in (update, public_announce):
        served = client.get(path_of(activity), headers={"Accept": AS})
        assert served.status_code == 200, served.text
        assert served.headers["content-type"].startswith("application/activity+json")
        assert served.json()["id"] == activity["id"] and served.json()["actor"] == group_uri
    # A browser is sent to the group's page.
    page = client.get(path_of(update), headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/groups/coop"
    # The notice to members, and its Create, are not served; nor an unknown id; nor a person's activity.
    assert client.get(path_of(notice), headers={"Accept": AS}).status_code == 404
    assert client.get(path_of(notice["object"]), headers={"Accept": AS}).status_code == 404  # type: ignore[arg-type]
    assert client.get("/activities/nothing-here", headers={"Accept": AS}).status_code == 404
    assert len(person_rows) == 1
    for row in person_rows:
        assert client.get(path_of(json.loads(row.payload)), headers={"Accept": AS}).status_code == 404

    # Secure mode: an unsigned fetch is refused, as for the group's collections.
    secure = create_app(settings.replace(secure_mode=True), engine=engine)
    with TestClient(secure, base_url="http://testserver", follow_redirects=False) as c:
        refused = c.get(path_of(update), headers={"Accept": AS})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
