"""Groups for tests: one made through the real service, as its founder would."""

from __future__ import annotations

from sqlalchemy import Engine

from node.accounts.models import User
from node.core import db
from node.groups import profile as group_profile
from node.groups import service
from node.settings import Settings

REMOTE_MEMBER = "https://bagnolet.test/users/rita"


def make_group(
    engine: Engine,
    settings: Settings,
    founder: User,
    *,
    shape: str = "scic",
    joining: tuple[User, ...] = (),
    remote_member: bool = False,
) -> None:
    """The open group ``coop`` founded by ``founder``, which ``joining`` (people here) and, with
    ``remote_member``, :data:`REMOTE_MEMBER` (another node's, by their ``Join``) joined."""
    with db.session_scope(engine) as session:
        group = group_profile.create_group(
            settings,
            founder,
            group_profile.GroupInput(name="coop", display_name="Coop", legal_shape=shape, join_policy="open"),
            session=session,
        )
        for person in joining:
            service.join(settings, person, group, session=session)
        if remote_member:
            service.receive_join(
                settings,
                group,
                REMOTE_MEMBER,
                "Rita",
                "https://bagnolet.test/activities/1",
                "",
                session=session,
            )
