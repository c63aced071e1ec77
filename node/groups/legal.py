"""The legal shapes a group may aim at, and the rules each one sets, checked against the group's members.

Each rule is a function of a :class:`Snapshot` (the active members with their category of associate,
capital share, college and bureau role; the colleges and their weights) returning a :class:`Check`: met
or not, what is missing in words a person understands, and the article that sets the rule with a link
to its official text. :func:`checklist` gives every rule of a shape, in order.

Sources (read for this work; the research notes are in the project's shared research):

- Loi n° 47-1775 du 10 septembre 1947 portant statut de la coopération: SCIC in Titre II ter
  (art. 19 quinquies to 19 quindecies). Art. 19 septies as rewritten by loi n° 2014-856 du 31 juillet 2014
  (art. 33): at least three categories of associates, among them necessarily the people who habitually
  benefit from the cooperative's activities and the employees (or, without employees, the producers of
  its goods or services); local authorities, their groupings and territorial public bodies together hold
  at most 50 % of the capital. Art. 19 octies: one associate, one vote in the general meeting or in their
  college; the statutes may group associates in three or more colleges whose share of the votes they set,
  no college holding more than 50 % of the votes alone nor less than 10 %. (The 10 %/50 % bounds and the
  three colleges are taken from the research notes and the team's reading; the text of 19 octies itself
  was not read in a primary source during this work — see ``verified``.)
- CAE: loi n° 47-1775 art. 26-41 (the cooperative of activity and employment); Code du travail
  art. L7331-2 (the entrepreneur-salarié's written contract and its items a to f) and L7331-3 (they become
  an associate within three years of the contract).
- SCOP: loi n° 78-763 du 19 juillet 1978 (employee associates hold the majority of the capital and of the
  votes); article numbers not confirmed in a primary source here (``verified`` false).
- Association: loi du 1er juillet 1901, art. 1 (an agreement between two or more persons) and art. 5 (the
  declaration names those in charge of its administration). A bureau (president, treasurer, secretary)
  is what usual statutes set, not the law: it is advice.
- Informal collective of self-employed people: no law governs it; the checks are the platform's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from node.core.errors import N_

HUNDRED = Decimal("100")
COLLEGE_MIN = Decimal("10")
COLLEGE_MAX = Decimal("50")
PUBLIC_CAPITAL_MAX = Decimal("50")
SCOP_EMPLOYEE_CAPITAL_MIN = Decimal("51")
CAE_ASSOCIATE_YEARS = 3

LEGIFRANCE_1947 = "https://www.legifrance.gouv.fr/loda/id/JORFTEXT000000684004"
LEGIFRANCE_19_SEPTIES = "https://www.legifrance.gouv.fr/jorf/article_jo/JORFARTI000029313828"
LEGIFRANCE_L7331_2 = "https://www.legifrance.gouv.fr/search/all?query=L7331-2%20code%20du%20travail"
LEGIFRANCE_L7331_3 = "https://www.legifrance.gouv.fr/search/all?query=L7331-3%20code%20du%20travail"
LEGIFRANCE_1901 = "https://www.legifrance.gouv.fr/loda/id/JORFTEXT000000497458"
LEGIFRANCE_SCOP = "https://www.legifrance.gouv.fr/search/all?query=loi%2078-763%20du%2019%20juillet%201978"


class Shape(StrEnum):
    """The legal shape a group aims at."""

    SCIC = "scic"
    CAE = "cae"
    SCOP = "scop"
    ASSOCIATION = "association"
    COLLECTIVE = "collective"


SHAPE_LABELS: dict[Shape, str] = {
    Shape.SCIC: N_("SCIC (cooperative society of collective interest)"),
    Shape.CAE: N_("CAE (cooperative of activity and employment)"),
    Shape.SCOP: N_("SCOP (workers' cooperative)"),
    Shape.ASSOCIATION: N_("Association (loi 1901)"),
    Shape.COLLECTIVE: N_("Informal collective of self-employed people"),
}


class Category(StrEnum):
    """Categories of associates (SCIC: art. 19 septies; CAE: entrepreneurs-salariés)."""

    EMPLOYEE = "employee"
    PRODUCER = "producer"
    BENEFICIARY = "beneficiary"
    VOLUNTEER = "volunteer"
    PUBLIC_BODY = "public_body"
    FUNDER = "funder"
    ENTREPRENEUR = "entrepreneur"
    OTHER = "other"


CATEGORY_LABELS: dict[Category, str] = {
    Category.EMPLOYEE: N_("Employees"),
    Category.PRODUCER: N_("Producers of goods or services"),
    Category.BENEFICIARY: N_("Beneficiaries"),
    Category.VOLUNTEER: N_("Volunteers"),
    Category.PUBLIC_BODY: N_("Local authorities and public bodies"),
    Category.FUNDER: N_("Funders"),
    Category.ENTREPRENEUR: N_("Entrepreneurs-salariés"),
    Category.OTHER: N_("Other contributors"),
}

BUREAU_ROLES = ("president", "treasurer", "secretary")
BUREAU_LABELS = {"president": N_("President"), "treasurer": N_("Treasurer"), "secretary": N_("Secretary")}

# The items of the entrepreneur-salarié's written contract, Code du travail art. L7331-2, 2° a) to f).
CONTRACT_ITEMS: dict[str, str] = {
    "objectives": N_("Objectives and minimum activity (L7331-2 a)"),
    "support": N_("Support and control by the cooperative (L7331-2 b)"),
    "contribution": N_("How the contribution to shared services is computed (L7331-2 c)"),
    "pay": N_("Fixed part and variable part of the pay (L7331-2 d)"),
    "statutes": N_("Mention of the statutes in force (L7331-2 e)"),
    "clients": N_("Rights on clients and intellectual property (L7331-2 f)"),
}


@dataclass(frozen=True)
class Associate:
    """An active member as the rules see them."""

    name: str
    category: str = ""
    capital: Decimal = Decimal("0")
    college: str | None = None
    associate: bool = False
    bureau_role: str = ""
    contract_items: frozenset[str] = frozenset()
    contract_signed_on: date | None = None
    may_invoice: bool | None = None  # None: not known here (a member of another node)


@dataclass(frozen=True)
class Snapshot:
    """What the rules read of a group: its active members, its colleges (name → weight), and the day."""

    members: Sequence[Associate]
    colleges: dict[str, Decimal] = field(default_factory=dict)
    today: date = field(default_factory=date.today)


@dataclass(frozen=True)
class Check:
    """One rule's result. ``missing`` says what is missing (a message id, with ``values``); ``advice``
    marks what usual statutes set rather than the law; ``verified`` false: the article is cited from
    secondary sources."""

    rule: str
    label: str
    article: str
    url: str
    ok: bool
    missing: str = ""
    values: dict[str, str] = field(default_factory=dict)
    advice: bool = False
    verified: bool = True


Rule = Callable[[Snapshot], Check]


def _categories(snapshot: Snapshot) -> set[str]:
    return {m.category for m in snapshot.members if m.category}


def _capital(snapshot: Snapshot, category: str) -> Decimal:
    return sum((m.capital for m in snapshot.members if m.category == category), Decimal("0"))


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}"


# --- SCIC: loi n° 47-1775, art. 19 septies and 19 octies ---------------------------------------------

ART_19_SEPTIES = "Loi n° 47-1775 du 10 septembre 1947, art. 19 septies"
ART_19_OCTIES = "Loi n° 47-1775 du 10 septembre 1947, art. 19 octies"


def scic_three_categories(snapshot: Snapshot) -> Check:
    """A SCIC has at least three categories of associates (art. 19 septies, al. 2)."""
    count = len(_categories(snapshot))
    return Check(
        "scic.three_categories",
        N_("At least three categories of associates"),
        ART_19_SEPTIES,
        LEGIFRANCE_19_SEPTIES,
        count >= 3,
        N_("%(count)s categories of associates so far: at least three are needed."),
        {"count": str(count)},
    )


def scic_employees(snapshot: Snapshot) -> Check:
    """Employees are a mandatory category; producers stand in for them when there are no employees
    (art. 19 septies, al. 2)."""
    found = _categories(snapshot) & {Category.EMPLOYEE.value, Category.PRODUCER.value}
    return Check(
        "scic.employees",
        N_("Employees (or, without employees, producers) among the associates"),
        ART_19_SEPTIES,
        LEGIFRANCE_19_SEPTIES,
        bool(found),
        N_("An associate of the category employees (or producers) is missing."),
    )


def scic_beneficiaries(snapshot: Snapshot) -> Check:
    """Beneficiaries are a mandatory category (art. 19 septies, al. 2)."""
    return Check(
        "scic.beneficiaries",
        N_("Beneficiaries among the associates"),
        ART_19_SEPTIES,
        LEGIFRANCE_19_SEPTIES,
        Category.BENEFICIARY.value in _categories(snapshot),
        N_("An associate of the category beneficiaries is missing."),
    )


def scic_public_capital(snapshot: Snapshot) -> Check:
    """Local authorities, their groupings and territorial public bodies hold together at most 50 % of the
    capital (art. 19 septies, last paragraph, since loi n° 2014-856)."""
    held = _capital(snapshot, Category.PUBLIC_BODY.value)
    return Check(
        "scic.public_capital",
        N_("Public bodies hold at most 50 %% of the capital together"),
        ART_19_SEPTIES,
        LEGIFRANCE_19_SEPTIES,
        held <= PUBLIC_CAPITAL_MAX,
        N_("Public bodies hold %(percent)s %% of the capital: at most 50 %% is allowed."),
        {"percent": _percent(held)},
    )


def scic_college_count(snapshot: Snapshot) -> Check:
    """Colleges, when the statutes set them, are three or more (art. 19 octies)."""
    count = len(snapshot.colleges)
    return Check(
        "scic.college_count",
        N_("No colleges, or three or more"),
        ART_19_OCTIES,
        LEGIFRANCE_1947,
        count == 0 or count >= 3,
        N_("%(count)s colleges: statutes that set colleges set at least three."),
        {"count": str(count)},
        verified=False,
    )


def scic_college_bounds(snapshot: Snapshot) -> Check:
    """Each college holds between 10 % and 50 % of the votes (art. 19 octies)."""
    outside = sorted(name for name, w in snapshot.colleges.items() if not COLLEGE_MIN <= w <= COLLEGE_MAX)
    return Check(
        "scic.college_bounds",
        N_("Each college holds between 10 %% and 50 %% of the votes"),
        ART_19_OCTIES,
        LEGIFRANCE_1947,
        not outside,
        N_("Colleges outside 10–50 %%: %(names)s."),
        {"names": ", ".join(outside)},
        verified=False,
    )


def scic_no_majority(snapshot: Snapshot) -> Check:
    """No college holds a majority of the votes alone (art. 19 octies)."""
    over = sorted(name for name, w in snapshot.colleges.items() if w > COLLEGE_MAX)
    return Check(
        "scic.no_majority",
        N_("No college holds a majority alone"),
        ART_19_OCTIES,
        LEGIFRANCE_1947,
        not over,
        N_("These colleges hold more than half of the votes alone: %(names)s."),
        {"names": ", ".join(over)},
        verified=False,
    )


def scic_college_total(snapshot: Snapshot) -> Check:
    """The colleges' weights add up to all the votes (100 %)."""
    total = sum(snapshot.colleges.values(), Decimal("0"))
    return Check(
        "scic.college_total",
        N_("The colleges' weights add up to 100 %%"),
        ART_19_OCTIES,
        LEGIFRANCE_1947,
        not snapshot.colleges or total == HUNDRED,
        N_("The colleges add up to %(percent)s %% of the votes, not 100 %%."),
        {"percent": _percent(total)},
        verified=False,
    )


# --- CAE: loi n° 47-1775 art. 26-41; Code du travail L7331-2 and L7331-3 --------------------------------


def cae_entrepreneurs(snapshot: Snapshot) -> Check:
    """A CAE supports entrepreneurs-salariés (loi n° 47-1775, art. 26-41)."""
    found = any(m.category == Category.ENTREPRENEUR.value for m in snapshot.members)
    return Check(
        "cae.entrepreneurs",
        N_("At least one entrepreneur-salarié"),
        "Loi n° 47-1775 du 10 septembre 1947, art. 26-41",
        LEGIFRANCE_1947,
        found,
        N_("A member of the category entrepreneurs-salariés is missing."),
    )


def cae_contracts(snapshot: Snapshot) -> Check:
    """Each entrepreneur-salarié has a written contract with the items a) to f) of art. L7331-2."""
    incomplete = sorted(
        m.name
        for m in snapshot.members
        if m.category == Category.ENTREPRENEUR.value and not set(CONTRACT_ITEMS) <= m.contract_items
    )
    return Check(
        "cae.contracts",
        N_("Each entrepreneur-salarié's contract has its six items"),
        "Code du travail, art. L7331-2",
        LEGIFRANCE_L7331_2,
        not incomplete,
        N_("Contract items are missing for: %(names)s."),
        {"names": ", ".join(incomplete)},
    )


def cae_associates_in_time(snapshot: Snapshot) -> Check:
    """An entrepreneur-salarié becomes an associate within three years of the contract (art. L7331-3)."""
    late = []
    for m in snapshot.members:
        if m.category != Category.ENTREPRENEUR.value or m.associate or m.contract_signed_on is None:
            continue
        signed = m.contract_signed_on
        try:
            deadline = signed.replace(year=signed.year + CAE_ASSOCIATE_YEARS)
        except ValueError:  # 29 February
            deadline = signed.replace(year=signed.year + CAE_ASSOCIATE_YEARS, day=28)
        if deadline <= snapshot.today:
            late.append(m.name)
    return Check(
        "cae.associates_in_time",
        N_("Entrepreneurs-salariés become associates within three years"),
        "Code du travail, art. L7331-3",
        LEGIFRANCE_L7331_3,
        not late,
        N_("Three years have passed without becoming an associate for: %(names)s."),
        {"names": ", ".join(sorted(late))},
    )


# --- SCOP: loi n° 78-763 -------------------------------------------------------------------------------


def scop_employee_capital(snapshot: Snapshot) -> Check:
    """Employee associates hold the majority of the capital (loi n° 78-763)."""
    held = _capital(snapshot, Category.EMPLOYEE.value)
    return Check(
        "scop.employee_capital",
        N_("Employee associates hold at least 51 %% of the capital"),
        "Loi n° 78-763 du 19 juillet 1978",
        LEGIFRANCE_SCOP,
        held >= SCOP_EMPLOYEE_CAPITAL_MIN,
        N_("Employee associates hold %(percent)s %% of the capital: at least 51 %% is needed."),
        {"percent": _percent(held)},
        verified=False,
    )


def scop_employees(snapshot: Snapshot) -> Check:
    """A SCOP's associates are first of all its employees (loi n° 78-763)."""
    count = sum(1 for m in snapshot.members if m.category == Category.EMPLOYEE.value)
    return Check(
        "scop.employees",
        N_("At least two employee associates"),
        "Loi n° 78-763 du 19 juillet 1978",
        LEGIFRANCE_SCOP,
        count >= 2,
        N_("%(count)s employee associates so far: at least two are needed."),
        {"count": str(count)},
        verified=False,
    )


# --- association: loi du 1er juillet 1901 --------------------------------------------------------------


def association_members(snapshot: Snapshot) -> Check:
    """An association is an agreement between two or more persons (loi 1901, art. 1)."""
    count = len(snapshot.members)
    return Check(
        "association.members",
        N_("At least two members"),
        "Loi du 1er juillet 1901, art. 1",
        LEGIFRANCE_1901,
        count >= 2,
        N_("%(count)s members so far: an association needs at least two."),
        {"count": str(count)},
    )


def association_administration(snapshot: Snapshot) -> Check:
    """The declaration names those in charge of the administration (loi 1901, art. 5)."""
    return Check(
        "association.administration",
        N_("Someone in charge of the administration"),
        "Loi du 1er juillet 1901, art. 5",
        LEGIFRANCE_1901,
        any(m.bureau_role for m in snapshot.members),
        N_("Nobody is named in charge of the administration (a president, for example)."),
    )


def association_bureau(snapshot: Snapshot) -> Check:
    """Usual statutes set a bureau: a president, a treasurer and a secretary (advice, not the law)."""
    missing = [role for role in BUREAU_ROLES if not any(m.bureau_role == role for m in snapshot.members)]
    return Check(
        "association.bureau",
        N_("A bureau: president, treasurer, secretary"),
        "Statuts types (usage)",
        LEGIFRANCE_1901,
        not missing,
        N_("The bureau lacks: %(roles)s."),
        {"roles": ", ".join(missing)},
        advice=True,
    )


# --- informal collective (the platform's own checks) ----------------------------------------------------


def collective_members(snapshot: Snapshot) -> Check:
    """A collective brings together at least two people."""
    count = len(snapshot.members)
    return Check(
        "collective.members",
        N_("At least two members"),
        "",
        "",
        count >= 2,
        N_("%(count)s members so far: a collective needs at least two."),
        {"count": str(count)},
        advice=True,
    )


def collective_invoicing(snapshot: Snapshot) -> Check:
    """A collective has no legal personality: each member invoices in their own name (a status that
    allows it: self-employed with a SIRET, an association, a cooperative)."""
    cannot = sorted(m.name for m in snapshot.members if m.may_invoice is False)
    return Check(
        "collective.invoicing",
        N_("Each member can invoice in their own name"),
        "",
        "",
        not cannot,
        N_("These members have no status to invoice under: %(names)s."),
        {"names": ", ".join(cannot)},
        advice=True,
    )


RULES: dict[Shape, tuple[Rule, ...]] = {
    Shape.SCIC: (
        scic_three_categories,
        scic_employees,
        scic_beneficiaries,
        scic_public_capital,
        scic_college_count,
        scic_college_bounds,
        scic_no_majority,
        scic_college_total,
    ),
    Shape.CAE: (cae_entrepreneurs, cae_contracts, cae_associates_in_time),
    Shape.SCOP: (scop_employees, scop_employee_capital),
    Shape.ASSOCIATION: (association_members, association_administration, association_bureau),
    Shape.COLLECTIVE: (collective_members, collective_invoicing),
}

CATEGORIES_OF: dict[Shape, tuple[Category, ...]] = {
    Shape.SCIC: (
        Category.EMPLOYEE,
        Category.PRODUCER,
        Category.BENEFICIARY,
        Category.VOLUNTEER,
        Category.PUBLIC_BODY,
        Category.FUNDER,
        Category.OTHER,
    ),
    Shape.CAE: (Category.ENTREPRENEUR, Category.EMPLOYEE, Category.OTHER),
    Shape.SCOP: (Category.EMPLOYEE, Category.OTHER),
    Shape.ASSOCIATION: (),
    Shape.COLLECTIVE: (),
}


def checklist(shape: Shape, snapshot: Snapshot) -> list[Check]:
    """Every rule of ``shape``, checked against ``snapshot``, in order."""
    return [rule(snapshot) for rule in RULES[shape]]


def label_text(check: Check, translate: Callable[[str], str] = lambda message: message) -> str:
    """The rule's label, translated by ``translate`` (labels write a percent sign ``%%``, as every
    message the pages %-format)."""
    return translate(check.label).replace("%%", "%")


def missing_text(check: Check, translate: Callable[[str], str] = lambda message: message) -> str:
    """What ``check`` says is missing, translated by ``translate`` and filled in."""
    return (
        translate(check.missing) % check.values
        if check.values
        else translate(check.missing).replace("%%", "%")
    )


def complete(checks: Sequence[Check]) -> bool:
    """Whether every rule that the law sets is met (advice aside)."""
    return all(check.ok for check in checks if not check.advice)
