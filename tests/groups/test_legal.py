"""Every legal-shape rule, with the article it applies, met and not met (``node.groups.legal``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from node.groups import legal
from node.groups.legal import Associate, Category, Shape, Snapshot

D = Decimal


def people(*categories: str, capital: dict[int, str] | None = None) -> list[Associate]:
    shares = capital or {}
    return [Associate(f"m{i}", category=c, capital=D(shares.get(i, "0"))) for i, c in enumerate(categories)]


def check(rule: legal.Rule, snapshot: Snapshot) -> legal.Check:
    return rule(snapshot)


SCIC_OK = people(Category.EMPLOYEE, Category.BENEFICIARY, Category.VOLUNTEER)


def test_scic_needs_three_categories_art_19_septies() -> None:
    result = check(legal.scic_three_categories, Snapshot(people(Category.EMPLOYEE, Category.BENEFICIARY)))
    assert not result.ok and result.values == {"count": "2"}
    assert result.article == "Loi n° 47-1775 du 10 septembre 1947, art. 19 septies"
    assert result.url.startswith("https://www.legifrance.gouv.fr/")
    assert check(legal.scic_three_categories, Snapshot(SCIC_OK)).ok
    # Three people of one category are one category.
    assert not check(legal.scic_three_categories, Snapshot(people(*[Category.EMPLOYEE] * 3))).ok


def test_scic_needs_employees_or_producers_art_19_septies() -> None:
    without = Snapshot(people(Category.BENEFICIARY, Category.VOLUNTEER, Category.FUNDER))
    result = check(legal.scic_employees, without)
    assert not result.ok and "employees" in result.missing and "19 septies" in result.article
    assert check(legal.scic_employees, Snapshot(SCIC_OK)).ok
    producers = Snapshot(people(Category.PRODUCER, Category.BENEFICIARY, Category.VOLUNTEER))
    assert check(legal.scic_employees, producers).ok


def test_scic_needs_beneficiaries_art_19_septies() -> None:
    result = check(
        legal.scic_beneficiaries, Snapshot(people(Category.EMPLOYEE, Category.VOLUNTEER, Category.FUNDER))
    )
    assert (
        not result.ok
        and legal.missing_text(result) == "An associate of the category beneficiaries is missing."
    )
    assert check(legal.scic_beneficiaries, Snapshot(SCIC_OK)).ok


@pytest.mark.parametrize(("share", "ok"), [("50", True), ("50.01", False), ("0", True)])
def test_public_bodies_hold_at_most_half_of_the_capital_art_19_septies(share: str, ok: bool) -> None:
    members = [*SCIC_OK, Associate("Ville", Category.PUBLIC_BODY, capital=D(share))]
    result = check(legal.scic_public_capital, Snapshot(members))
    assert result.ok is ok and "19 septies" in result.article
    if not ok:
        assert (
            legal.missing_text(result)
            == f"Public bodies hold {share} % of the capital: at most 50 % is allowed."
        )


def test_public_bodies_capital_adds_up_across_them() -> None:
    members = [
        *SCIC_OK,
        Associate("Ville", Category.PUBLIC_BODY, capital=D("30")),
        Associate("EPT", Category.PUBLIC_BODY, capital=D("21")),
    ]
    assert not check(legal.scic_public_capital, Snapshot(members)).ok


def test_colleges_are_none_or_three_art_19_octies() -> None:
    assert check(legal.scic_college_count, Snapshot(SCIC_OK)).ok
    two = Snapshot(SCIC_OK, {"salariés": D("50"), "usagers": D("50")})
    result = check(legal.scic_college_count, two)
    assert not result.ok and result.article.endswith("art. 19 octies") and not result.verified
    assert check(legal.scic_college_count, Snapshot(SCIC_OK, {"a": D("40"), "b": D("30"), "c": D("30")})).ok


def test_college_weights_lie_within_10_and_50_percent_art_19_octies() -> None:
    inside = Snapshot(SCIC_OK, {"a": D("10"), "b": D("40"), "c": D("50")})
    assert check(legal.scic_college_bounds, inside).ok
    outside = Snapshot(SCIC_OK, {"a": D("9.99"), "b": D("45"), "c": D("45.01")})
    result = check(legal.scic_college_bounds, outside)
    assert not result.ok and result.values == {"names": "a"}


def test_no_college_holds_a_majority_alone_art_19_octies() -> None:
    result = check(legal.scic_no_majority, Snapshot(SCIC_OK, {"a": D("51"), "b": D("25"), "c": D("24")}))
    assert not result.ok and result.values == {"names": "a"}
    assert check(legal.scic_no_majority, Snapshot(SCIC_OK, {"a": D("50"), "b": D("25"), "c": D("25")})).ok


def test_college_weights_add_up_to_all_the_votes() -> None:
    assert not check(
        legal.scic_college_total, Snapshot(SCIC_OK, {"a": D("40"), "b": D("30"), "c": D("20")})
    ).ok
    assert check(legal.scic_college_total, Snapshot(SCIC_OK, {"a": D("40"), "b": D("30"), "c": D("30")})).ok


def test_a_cae_supports_entrepreneurs_salaries_art_26_41() -> None:
    assert not check(legal.cae_entrepreneurs, Snapshot(people(Category.EMPLOYEE))).ok
    result = check(legal.cae_entrepreneurs, Snapshot(people(Category.ENTREPRENEUR)))
    assert result.ok and "26-41" in result.article


def test_each_entrepreneur_contract_has_the_items_of_l7331_2() -> None:
    partial = Associate("Inès", Category.ENTREPRENEUR, contract_items=frozenset({"objectives", "pay"}))
    full = Associate("Yann", Category.ENTREPRENEUR, contract_items=frozenset(legal.CONTRACT_ITEMS))
    result = check(legal.cae_contracts, Snapshot([partial, full]))
    assert (
        not result.ok
        and result.values == {"names": "Inès"}
        and result.article == "Code du travail, art. L7331-2"
    )
    assert check(legal.cae_contracts, Snapshot([full])).ok


def test_entrepreneurs_become_associates_within_three_years_l7331_3() -> None:
    signed = date(2021, 3, 1)
    late = Associate("Inès", Category.ENTREPRENEUR, contract_signed_on=signed)
    result = check(legal.cae_associates_in_time, Snapshot([late], today=date(2024, 3, 1)))
    assert not result.ok and result.article == "Code du travail, art. L7331-3"
    assert check(legal.cae_associates_in_time, Snapshot([late], today=date(2024, 2, 29))).ok
    associate = Associate("Inès", Category.ENTREPRENEUR, contract_signed_on=signed, associate=True)
    assert check(legal.cae_associates_in_time, Snapshot([associate], today=date(2030, 1, 1))).ok


def test_scop_employee_associates_hold_the_capital_majority() -> None:
    members = people(
        Category.EMPLOYEE, Category.EMPLOYEE, Category.OTHER, capital={0: "30", 1: "20", 2: "50"}
    )
    result = check(legal.scop_employee_capital, Snapshot(members))
    assert not result.ok and not result.verified and "78-763" in result.article
    members = people(
        Category.EMPLOYEE, Category.EMPLOYEE, Category.OTHER, capital={0: "30", 1: "21", 2: "49"}
    )
    assert check(legal.scop_employee_capital, Snapshot(members)).ok
    assert not check(legal.scop_employees, Snapshot(people(Category.EMPLOYEE))).ok


def test_an_association_is_two_people_and_someone_in_charge_loi_1901() -> None:
    alone = Snapshot([Associate("Ana")])
    assert not check(legal.association_members, alone).ok
    assert check(legal.association_members, alone).article == "Loi du 1er juillet 1901, art. 1"
    two = Snapshot([Associate("Ana", bureau_role="president"), Associate("Bo")])
    assert check(legal.association_members, two).ok
    assert check(legal.association_administration, two).ok
    assert not check(legal.association_administration, Snapshot([Associate("Ana"), Associate("Bo")])).ok


def test_a_bureau_is_advice_not_the_law() -> None:
    result = check(legal.association_bureau, Snapshot([Associate("Ana", bureau_role="president")]))
    assert not result.ok and result.advice and result.values == {"roles": "treasurer, secretary"}
    full = [Associate(r, bureau_role=r) for r in legal.BUREAU_ROLES]
    assert check(legal.association_bureau, Snapshot(full)).ok
    # Advice never blocks the shape's completeness.
    checks = legal.checklist(
        Shape.ASSOCIATION, Snapshot([Associate("Ana", bureau_role="president"), Associate("Bo")])
    )
    assert legal.complete(checks) and not all(c.ok for c in checks)


def test_an_informal_collective_checks_each_member_can_invoice() -> None:
    members = [
        Associate("Ana", may_invoice=True),
        Associate("Bo", may_invoice=False),
        Associate("Cy", may_invoice=None),
    ]
    result = check(legal.collective_invoicing, Snapshot(members))
    assert not result.ok and result.values == {"names": "Bo"} and result.article == ""
    assert check(legal.collective_members, Snapshot(members)).ok


def test_the_scic_checklist_turns_complete_with_three_categories() -> None:
    incomplete = legal.checklist(Shape.SCIC, Snapshot(people(Category.EMPLOYEE)))
    assert not legal.complete(incomplete)
    complete = legal.checklist(Shape.SCIC, Snapshot(SCIC_OK))
    assert legal.complete(complete) and [c.rule for c in complete][:3] == [
        "scic.three_categories",
        "scic.employees",
        "scic.beneficiaries",
    ]
    assert all(c.article for c in complete)
