"""Make the filled database of a release, for the upgrade test (tests/core/test_upgrade.py).

    .venv/bin/python scripts/upgrade_fixture.py --revision 0005 --output tests/data/upgrade/release-0005.json

Run it with the code of the release whose schema is captured (``--revision`` is that release's head
migration; today's head carries its tables unchanged, so today's code makes a faithful 0005-era
database). It fills a fresh SQLite node through the real services, as people would (accounts and
profiles, API tokens and a login session, an offer and a demand, an answer accepted into an agreement
that both parties confirm and evaluate, notifications, a remote follower with deliveries waiting, an
incoming activity waiting in the inbox, the node's and people's key pairs), then writes every row of
every table that exists at ``--revision``, only the columns that exist there, as JSON (datetimes,
decimals and bytes tagged). The upgrade test loads it into a database migrated to that revision, on
SQLite and PostgreSQL, migrates to head and reads everything back.
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import MetaData, select

from node.accounts import credentials, service
from node.accounts.models import Role, User
from node.activitypub import keys
from node.activitypub.actors import local
from node.activitypub.models import Follow, FollowState, InboxActivity, RemoteActor
from node.activitypub.outbox.publish import publish
from node.core import db
from node.market.agreements import service as agreements
from node.market.bids import service as bids
from node.market.evaluations import service as evaluations
from node.market.proposals import service as proposals
from node.market.proposals.input import ProposalInput
from node.models import metadata
from node.settings import RegistrationPolicy, load_settings

SECRET = "upgrade-fixture-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
BASE_URL = "http://127.0.0.1:8001"
PASSWORD = "une phrase de passe solide"


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.astimezone(UTC).isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    return value


def fill(url: str) -> None:
    """A small node with a bit of everything, made through the services."""
    settings = load_settings(
        env={},
        base_url=BASE_URL,
        database_url=url,
        secret_key=SECRET,
        registration=RegistrationPolicy.OPEN,
        node_name="Montreuil Services",
        territory="Montreuil (93)",
    )
    engine = db.make_engine(url)
    db.migrate(engine)
    start = (datetime.now(UTC) + timedelta(days=10)).replace(hour=9, minute=0, second=0, microsecond=0)
    with db.session_scope(engine, write=True) as session:
        keys.ensure_key(keys.NODE_OWNER, SECRET, session=session)
        people = {}
        for name, role in (("admin", Role.ADMIN), ("amina", Role.MEMBER), ("bilal", Role.MEMBER)):
            user = service.create_user(
                username=name, password=PASSWORD, email=f"{name}@example.org", role=role, session=session
            )
            keys.ensure_key(keys.user_owner(user.pk), SECRET, user_id=user.pk, session=session)
            people[name] = user
        profile = service.ProfileInput(
            display_name="Bilal K.",
            bio="Petits travaux et jardinage.",
            postal_code="93100",
            commune_name="Montreuil",
            offers_services=True,
            provider_status="volunteer",
            categories=["gardening", "handyman"],
        )
        service.update_profile(people["bilal"], profile, session=session)
        service.register(
            settings, service.RegistrationInput("zoe", PASSWORD, note="Bonjour"), session=session
        )
        credentials.create_api_token(people["amina"], "mon application", session=session)
        credentials.open_web_session(people["bilal"], days=30, session=session)
        credentials.create_invite(session=session, by=people["admin"], note="voisins")
    with db.session_scope(engine, write=True) as session:
        amina, bilal = (session.get(User, people[name].pk) for name in ("amina", "bilal"))
        assert amina is not None and bilal is not None
        proposals.create(
            settings,
            bilal,
            ProposalInput(
                purpose="offer",
                title="Taille de haies",
                description="<p>Avec mon matériel.</p>",
                category="gardening",
                postal_code="93100",
                commune_name="Montreuil",
                quantity="2",
                price="20",
                currency="EUR",
                lifetime_days="30",
            ),
            session=session,
        )
        demand = proposals.create(
            settings,
            amina,
            ProposalInput(
                purpose="request",
                title="Ménage du mardi",
                description="<p>Deux pièces, matériel fourni.</p>",
                category="housework",
                postal_code="93100",
                commune_name="Montreuil",
                schedule_kind="window",
                start=start.isoformat(),
                end=(start + timedelta(hours=2)).isoformat(),
                quantity="2",
                price="18",
                currency="EUR",
                lifetime_days="30",
            ),
            session=session,
        )
        bid = bids.place_bid(settings, bilal, demand, bids.BidInput(message="Disponible"), session=session)
        agreement = bids.accept_bid(settings, amina, bid, session=session)
        later = start + timedelta(hours=3)
        agreements.confirm_completion(settings, bilal, agreement, session=session, now=later)
        agreements.confirm_completion(settings, amina, agreement, session=session, now=later)
        for evaluator, score in ((amina, 5), (bilal, 4)):
            evaluations.submit(
                settings,
                evaluator,
                agreement,
                evaluations.EvaluationInput(overall=score, comment="Merci !"),
                session=session,
                now=later + timedelta(hours=1),
            )
        remote = "https://bagnolet.example/users/chloe"
        session.add(
            RemoteActor(
                uri=remote,
                domain="bagnolet.example",
                inbox=remote + "/inbox",
                shared_inbox="https://bagnolet.example/inbox",
                preferred_username="chloe",
            )
        )
        actor = local.person(settings, amina)
        session.add(
            Follow(
                follower_uri=remote,
                followee_uri=actor.uri,
                activity_id=remote + "#follow-1",
                state=FollowState.ACCEPTED.value,
                local_followee_id=amina.pk,
            )
        )
        session.flush()
        publish(
            settings,
            actor=actor,
            activity={
                "type": "Create",
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
                "object": {"id": actor.uri + "/notes/1", "type": "Note", "content": "Bonjour"},
            },
            to_followers=True,
            public=True,
            session=session,
        )
        session.add(
            InboxActivity(
                activity_id="https://bagnolet.example/activities/1",
                actor_uri=remote,
                type="Like",
                key_id=remote + "#main-key",
                payload=json.dumps({"id": "https://bagnolet.example/activities/1", "type": "Like"}),
            )
        )
    engine.dispose()


def dump(url: str, revision: str) -> dict[str, Any]:
    """Every row of the tables of ``revision``'s schema, their columns only."""
    with tempfile.TemporaryDirectory() as scratch:
        old = db.make_engine(f"sqlite:///{scratch}/old.db")
        config = db.alembic_config(old.url.render_as_string(hide_password=False))
        with old.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        schema = MetaData()
        schema.reflect(old)
        old.dispose()
    engine = db.make_engine(url)
    tables: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as connection:
        for table in schema.sorted_tables:
            if table.name == "alembic_version":
                continue
            current = metadata.tables[table.name]
            columns = [current.c[column.name] for column in table.columns]
            order = [current.c[c.name] for c in current.primary_key.columns]
            rows = connection.execute(select(*columns).order_by(*order)).mappings()
            tables[table.name] = [{key: _encode(value) for key, value in row.items()} for row in rows]
    engine.dispose()
    return {"revision": revision, "made_by": "scripts/upgrade_fixture.py", "tables": tables}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--revision", required=True, help="the release's head migration, e.g. 0005")
    parser.add_argument("--output", required=True, type=Path, help="the JSON file to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        url = f"sqlite:///{work}/node.db"
        fill(url)
        data = dump(url, args.revision)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    counts = {name: len(rows) for name, rows in data["tables"].items() if rows}
    print(f"{args.output}: revision {args.revision}, rows {counts}")


if __name__ == "__main__":
    main()
