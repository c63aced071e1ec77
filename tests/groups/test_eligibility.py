"""A group offers and answers under the status of its legal shape, never its coordinator's: a
cooperative or an association may provide the activities under agrément (its members work under its
agrément) whatever the coordinator's own status; an informal collective holds no agrément and provides
the declared activities only, even when its coordinator is self-employed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from node.catalog.statuses import ProviderStatus
from node.core import db
from node.core.errors import PermissionDenied, ValidationFailed
from node.groups import legal, service
from node.groups import profile as group_profile
from node.groups import work as group_work
from node.market.bids import service as bids
from node.market.models import Proposal
from node.market.proposals import service as proposals
from node.settings import Settings
from tests.support.market import make_proposal, person

CARE = "elderly-disabled-assistance"  # D7231-1 I: under agrément


def offer(category: str) -> proposals.ProposalInput:
    return proposals.ProposalInput(
        purpose="offer",
        title="Aide à domicile en coopérative",
        category=category,
        postal_code="93100",
        commune_name="Montreuil",
        quantity="2",
        price="22",
        lifetime_days="30",
    )


def test_every_legal_shape_has_a_status() -> None:
    assert set(group_work.STATUS_OF_SHAPE) == set(legal.Shape)


@pytest.mark.parametrize(
    ("shape", "coordinator_status", "allowed"),
    [
        ("scic", "volunteer", True),
        ("cae", "family_carer", True),
        ("scop", "none", True),
        ("association", "private_individual", True),
        ("collective", "self_employed", False),
    ],
)
def test_a_group_offers_and_answers_care_under_its_own_status(
    engine: Engine, settings: Settings, shape: str, coordinator_status: str, allowed: bool
) -> None:
    coordinator = person(engine, "amina", status=coordinator_status)
    dora = person(engine, "dora")
    with db.session_scope(engine) as s:
        group = group_profile.create_group(
            settings,
            coordinator,
            group_profile.GroupInput(name="coop", display_name="Coop", legal_shape=shape),
            session=s,
        )
        demand = make_proposal(s, settings, dora, category=CARE)
        demand_id = demand.id
    assert group_work.provider_status(group) is not ProviderStatus.NONE
    with db.session_scope(engine) as s:
        group = service.group_named("coop", session=s)
        if allowed:
            row = group_work.publish_offer(settings, coordinator, group, offer(CARE), session=s)
            assert row.author_uri == settings.url("/groups/coop")
        else:
            with pytest.raises(ValidationFailed) as refused:
                group_work.publish_offer(settings, coordinator, group, offer(CARE), session=s)
            assert "category" in refused.value.fields
    with db.session_scope(engine) as s:
        group = service.group_named("coop", session=s)
        fresh = s.get(Proposal, demand_id)
        assert fresh is not None
        if allowed:
            group_work.answer(settings, coordinator, group, fresh, bids.BidInput(), session=s)
        else:
            with pytest.raises(PermissionDenied):
                group_work.answer(settings, coordinator, group, fresh, bids.BidInput(), session=s)
    # The declared activities stay open to every shape.
    with db.session_scope(engine) as s:
        group = service.group_named("coop", session=s)
        group_work.publish_offer(settings, coordinator, group, offer("housework"), session=s)
