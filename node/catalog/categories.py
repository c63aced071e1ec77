"""The 26 activities of "services à la personne" (SAP) as stable categories.

Source: Code du travail, article D7231-1 (version in force as consulted in 2025,
wording issued from Décret n° 2016-750 du 6 juin 2016 and later amendments),
read together with articles L7232-1 (agrément) and L7232-1-1 (déclaration).

* D7231-1 I lists the 5 activities that require an **agrément** from the State
  (article L7232-1). For the three activities aimed at elderly, disabled or
  chronically ill people (I 3°, 4°, 5°) the agrément covers the *mandataire*
  mode (article L7232-6 1° and 2°); in *prestataire* mode the same activities are
  run by a "service d'aide et d'accompagnement à domicile" that needs an
  **autorisation** from the conseil départemental (code de l'action sociale et
  des familles, L313-1). They are tagged ``"autorisation"`` here, the most
  demanding of the two, and ``requires_approval`` is true for all five.
* D7231-1 II lists the 21 activities that only need the optional
  **déclaration** (article L7232-1-1), which gives access to the tax and social
  advantages.

The age limit for childcare (I 1°, I 2°, II 4°, II 15°) is set by a joint
arrêté: 3 years (18 years for disabled children).

Slugs are a public interface: they appear in federated JSON documents and URLs.
Never rename one; add a new category instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = [
    "CATEGORIES",
    "GROUP_LABELS",
    "Category",
    "CategoryGroup",
    "Regime",
    "UnknownCategory",
    "by_slug",
    "group_label",
    "in_group",
    "is_category",
    "label",
]

Regime = Literal["declaration", "agrement", "autorisation"]

SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class CategoryGroup(StrEnum):
    """Coarse grouping of the activities, used for browsing and filters."""

    HOUSEHOLD = "household"
    FAMILY = "family"
    DEPENDENT = "dependent"
    HOME_GARDEN = "home_garden"
    OTHER = "other"


GROUP_LABELS: dict[CategoryGroup, dict[str, str]] = {
    CategoryGroup.HOUSEHOLD: {"fr": "Vie quotidienne et ménage", "en": "Household and daily life"},
    CategoryGroup.FAMILY: {"fr": "Enfants et famille", "en": "Children and family"},
    CategoryGroup.DEPENDENT: {
        "fr": "Personnes âgées, handicapées ou dépendantes",
        "en": "Elderly, disabled or dependent people",
    },
    CategoryGroup.HOME_GARDEN: {
        "fr": "Bricolage, jardin et entretien du logement",
        "en": "DIY, garden and home upkeep",
    },
    CategoryGroup.OTHER: {"fr": "Autres services", "en": "Other services"},
}


class UnknownCategory(ValueError):
    """Raised when a slug names no SAP category."""

    def __init__(self, slug: str) -> None:
        super().__init__(f"unknown service category: {slug!r}")
        self.slug = slug


@dataclass(frozen=True)
class Category:
    """One activity of article D7231-1."""

    slug: str
    label_fr: str
    label_en: str
    group: CategoryGroup
    regime: Regime
    legal_ref: str

    @property
    def requires_approval(self) -> bool:
        """True when an agrément or an autorisation is needed to provide it."""
        return self.regime != "declaration"


def _c(slug: str, fr: str, en: str, group: CategoryGroup, regime: Regime, ref: str) -> Category:
    return Category(slug, fr, en, group, regime, f"D7231-1 {ref}")


_G = CategoryGroup

# In the order of the article: I 1° to 5°, then II 1° to 21°.
CATEGORIES: tuple[Category, ...] = (
    # --- D7231-1 I: agrément (L7232-1) ---
    _c(
        "childcare-under-3",
        "Garde d'enfants de moins de 3 ans à domicile",
        "Childcare at home, children under 3",
        _G.FAMILY,
        "agrement",
        "I 1°",
    ),
    _c(
        "child-escort-under-3",
        "Accompagnement des enfants de moins de 3 ans dans leurs déplacements",
        "Accompanying children under 3 outside the home",
        _G.FAMILY,
        "agrement",
        "I 2°",
    ),
    _c(
        "elderly-disabled-assistance",
        "Assistance aux personnes âgées, handicapées ou atteintes de pathologies chroniques",
        "Daily-living assistance for elderly, disabled or chronically ill people",
        _G.DEPENDENT,
        "autorisation",
        "I 3°",
    ),
    _c(
        "elderly-disabled-driving",
        "Conduite du véhicule personnel des personnes âgées, handicapées ou malades chroniques",
        "Driving the personal vehicle of elderly, disabled or chronically ill people",
        _G.DEPENDENT,
        "autorisation",
        "I 4°",
    ),
    _c(
        "elderly-disabled-escort",
        "Accompagnement des personnes âgées, handicapées ou malades chroniques dans leurs déplacements",
        "Accompanying elderly, disabled or chronically ill people outside the home",
        _G.DEPENDENT,
        "autorisation",
        "I 5°",
    ),
    # --- D7231-1 II: déclaration (L7232-1-1) ---
    _c(
        "housework",
        "Entretien de la maison et travaux ménagers",
        "Housework and cleaning",
        _G.HOUSEHOLD,
        "declaration",
        "II 1°",
    ),
    _c(
        "gardening",
        "Petits travaux de jardinage, y compris débroussaillage",
        "Light gardening, including clearing brush",
        _G.HOME_GARDEN,
        "declaration",
        "II 2°",
    ),
    _c(
        "handyman",
        "Petit bricolage dit « homme toutes mains »",
        "Small handyman jobs",
        _G.HOME_GARDEN,
        "declaration",
        "II 3°",
    ),
    _c(
        "childcare-over-3",
        "Garde d'enfants de plus de 3 ans à domicile",
        "Childcare at home, children over 3",
        _G.FAMILY,
        "declaration",
        "II 4°",
    ),
    _c(
        "tutoring",
        "Soutien scolaire et cours à domicile",
        "Tutoring and lessons at home",
        _G.FAMILY,
        "declaration",
        "II 5°",
    ),
    _c(
        "beauty-care-dependent",
        "Soins d'esthétique à domicile pour les personnes dépendantes",
        "Beauty care at home for dependent people",
        _G.DEPENDENT,
        "declaration",
        "II 6°",
    ),
    _c(
        "meal-preparation",
        "Préparation de repas à domicile, y compris les courses",
        "Meal preparation at home, including shopping",
        _G.HOUSEHOLD,
        "declaration",
        "II 7°",
    ),
    _c(
        "meal-delivery",
        "Livraison de repas à domicile",
        "Meal delivery",
        _G.HOUSEHOLD,
        "declaration",
        "II 8°",
    ),
    _c(
        "laundry-delivery",
        "Collecte et livraison à domicile de linge repassé",
        "Collection and delivery of ironed laundry",
        _G.HOUSEHOLD,
        "declaration",
        "II 9°",
    ),
    _c(
        "grocery-delivery",
        "Livraison de courses à domicile",
        "Grocery delivery",
        _G.HOUSEHOLD,
        "declaration",
        "II 10°",
    ),
    _c(
        "computer-assistance",
        "Assistance informatique à domicile",
        "Computer assistance at home",
        _G.OTHER,
        "declaration",
        "II 11°",
    ),
    _c(
        "pet-care-dependent",
        "Soins et promenades d'animaux de compagnie pour les personnes dépendantes",
        "Pet care and walking for dependent people",
        _G.DEPENDENT,
        "declaration",
        "II 12°",
    ),
    _c(
        "home-watch",
        "Maintenance, entretien et vigilance temporaires de la résidence",
        "Temporary upkeep and watch of the home",
        _G.HOME_GARDEN,
        "declaration",
        "II 13°",
    ),
    _c(
        "administrative-assistance",
        "Assistance administrative à domicile",
        "Administrative assistance at home",
        _G.OTHER,
        "declaration",
        "II 14°",
    ),
    _c(
        "child-escort-over-3",
        "Accompagnement des enfants de plus de 3 ans dans leurs déplacements",
        "Accompanying children over 3 outside the home",
        _G.FAMILY,
        "declaration",
        "II 15°",
    ),
    _c(
        "telecare",
        "Téléassistance et visioassistance",
        "Telecare and video assistance",
        _G.DEPENDENT,
        "declaration",
        "II 16°",
    ),
    _c(
        "sign-language",
        "Interprète en langue des signes, technicien de l'écrit, codeur LPC",
        "Sign-language interpreting, speech-to-text and cued speech",
        _G.DEPENDENT,
        "declaration",
        "II 17°",
    ),
    _c(
        "temporary-disability-driving",
        "Conduite du véhicule personnel des personnes en invalidité temporaire",
        "Driving the personal vehicle of temporarily disabled people",
        _G.DEPENDENT,
        "declaration",
        "II 18°",
    ),
    _c(
        "temporary-disability-escort",
        "Accompagnement des personnes en invalidité temporaire dans leurs déplacements",
        "Accompanying temporarily disabled people outside the home",
        _G.DEPENDENT,
        "declaration",
        "II 19°",
    ),
    _c(
        "temporary-personal-assistance",
        "Assistance aux personnes ayant temporairement besoin d'une aide personnelle à domicile",
        "Personal assistance at home for people temporarily in need",
        _G.DEPENDENT,
        "declaration",
        "II 20°",
    ),
    _c(
        "service-coordination",
        "Coordination et délivrance des services à la personne",
        "Coordination and delivery of personal services",
        _G.OTHER,
        "declaration",
        "II 21°",
    ),
)

_BY_SLUG: dict[str, Category] = {c.slug: c for c in CATEGORIES}


def by_slug(slug: str) -> Category:
    """Return the category named ``slug``; raise :class:`UnknownCategory` if none."""
    try:
        return _BY_SLUG[slug]
    except KeyError:
        raise UnknownCategory(slug) from None


def is_category(slug: str) -> bool:
    """True when ``slug`` names one of the 26 categories."""
    return slug in _BY_SLUG


def in_group(group: CategoryGroup | str) -> tuple[Category, ...]:
    """The categories of ``group`` (an enum member or its value), in the article's order."""
    g = CategoryGroup(group)
    return tuple(c for c in CATEGORIES if c.group is g)


def label(category: Category | str, lang: str) -> str:
    """Label of a category (or slug) in ``lang`` ("fr" or "en"); French otherwise."""
    cat = by_slug(category) if isinstance(category, str) else category
    if lang.lower().startswith("en"):
        return cat.label_en
    return cat.label_fr


def group_label(group: CategoryGroup | str, lang: str) -> str:
    """Label of a group in ``lang`` ("fr" or "en"); French otherwise."""
    labels = GROUP_LABELS[CategoryGroup(group)]
    return labels["en"] if lang.lower().startswith("en") else labels["fr"]
