"""Who may provide or answer which category."""

from __future__ import annotations

import pytest

from node.catalog.categories import CATEGORIES, UnknownCategory, by_slug
from node.catalog.eligibility import (
    DEFAULT_RULES,
    eligible_statuses,
    may_answer,
    may_provide,
    rules_from_mapping,
)
from node.catalog.statuses import ProviderStatus

S = ProviderStatus
HOLDERS = {S.SELF_EMPLOYED, S.ASSOCIATION, S.COOPERATIVE_MEMBER}
NOT_HOLDERS = {S.VOLUNTEER, S.FAMILY_CARER, S.PRIVATE_INDIVIDUAL}


@pytest.mark.parametrize("category", [c for c in CATEGORIES if c.requires_approval], ids=lambda c: c.slug)
def test_regulated_categories_only_for_statuses_that_can_hold_an_approval(category: object) -> None:
    for status in ProviderStatus:
        assert may_provide(category, status) is (status in HOLDERS), status  # type: ignore[arg-type]


@pytest.mark.parametrize("category", [c for c in CATEGORIES if not c.requires_approval], ids=lambda c: c.slug)
def test_declared_categories_for_every_provider(category: object) -> None:
    for status in ProviderStatus:
        assert may_provide(category, status) is (status is not S.NONE), status  # type: ignore[arg-type]


def test_examples_by_slug_and_status_value() -> None:
    assert may_answer("childcare-under-3", "association")
    assert may_answer("elderly-disabled-assistance", S.COOPERATIVE_MEMBER)
    assert not may_answer("elderly-disabled-assistance", "volunteer")
    assert not may_answer("child-escort-under-3", S.FAMILY_CARER)
    assert may_answer("housework", "private_individual")
    assert may_answer("temporary-personal-assistance", S.VOLUNTEER)
    assert not may_answer("housework", S.NONE)
    assert not may_answer("housework", "astronaut")  # unknown status: nothing


def test_answering_an_offer_means_asking_for_the_service() -> None:
    assert may_answer("elderly-disabled-assistance", S.NONE, purpose="offer")
    assert not may_answer("elderly-disabled-assistance", S.NONE, purpose="request")


def test_proposals_without_category_follow_the_least_demanding_rule() -> None:
    assert may_provide(None, S.VOLUNTEER)
    assert not may_provide(None, S.NONE)


def test_unknown_category_raises() -> None:
    with pytest.raises(UnknownCategory):
        may_provide("rocket-science", S.SELF_EMPLOYED)


def test_eligible_statuses() -> None:
    assert eligible_statuses("childcare-under-3") == HOLDERS
    assert eligible_statuses(by_slug("housework")) == set(ProviderStatus) - {S.NONE}
    assert not (eligible_statuses("elderly-disabled-driving") & NOT_HOLDERS)


def test_rules_are_data_a_node_can_adjust() -> None:
    strict = rules_from_mapping(
        {"declaration": ["self_employed", "volunteer"], "agrement": ["association"], "autorisation": []}
    )
    assert may_provide("housework", S.VOLUNTEER, rules=strict)
    assert not may_provide("housework", S.PRIVATE_INDIVIDUAL, rules=strict)
    assert may_provide("childcare-under-3", S.ASSOCIATION, rules=strict)
    assert not may_provide("childcare-under-3", S.SELF_EMPLOYED, rules=strict)
    assert not may_provide("elderly-disabled-assistance", S.ASSOCIATION, rules=strict)
    partial = rules_from_mapping({"declaration": ["volunteer"]})
    assert not may_provide("childcare-under-3", S.ASSOCIATION, rules=partial)  # missing regime: nobody
    assert DEFAULT_RULES.statuses_for("agrement") == HOLDERS


def test_rules_refuse_typos() -> None:
    with pytest.raises(ValueError, match="regime"):
        rules_from_mapping({"agreement": ["association"]})
    with pytest.raises(ValueError):
        rules_from_mapping({"agrement": ["asociation"]})
