"""Who may provide which service: the provider statuses allowed for each legal regime of a category.

The rule, from French law:

- The 5 activities of article D7231-1 I of the Code du travail (childcare and escort of children
  under 3; assistance, driving and escort of elderly, disabled or chronically ill people) may be
  provided as a service only under an **agrément** (article L7232-1: "Toute personne morale ou
  entreprise individuelle qui exerce les activités [...] est soumise à agrément", delivered by the
  préfet, R7232-4) or, for home-help services to elderly and disabled people in *prestataire* mode,
  an **autorisation** of the conseil départemental (Code de l'action sociale et des familles,
  L313-1). Both are granted to organisations (legal persons: companies, associations, cooperatives)
  and to sole traders (entreprise individuelle, micro-entrepreneurs included).
- Hence the statuses that can hold one: self-employed (``self_employed``), associations
  (``association``), and cooperative members or employee-entrepreneurs of a CAE, who work under the
  cooperative's own agrément (``cooperative_member``).
- Volunteers, family carers and private individuals hold no agrément: they cannot provide these
  activities as a service through the platform. (A household may still employ someone directly,
  "particulier employeur", without agrément; a node cannot check that relationship, so it is outside
  this default.)
- The 21 activities of D7231-1 II need at most the optional **déclaration** (L7232-1-1): any person
  who says they provide services may answer. A person whose status is ``none`` has not said so and
  answers nothing until their profile does.

The platform relies on the status people declare; checking agrément numbers is not done here. The
rule is data: :class:`EligibilityRules` maps each regime to the statuses it admits, and a node may
build its own with :func:`rules_from_mapping` (from its settings) and pass it to the functions below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from node.catalog.categories import Category, Regime, by_slug
from node.catalog.statuses import ProviderStatus

__all__ = [
    "DEFAULT_RULES",
    "EligibilityRules",
    "eligible_statuses",
    "may_answer",
    "may_provide",
    "rules_from_mapping",
]

_S = ProviderStatus
_PROVIDERS = frozenset(s for s in ProviderStatus if s is not _S.NONE)
_APPROVAL_HOLDERS = frozenset({_S.SELF_EMPLOYED, _S.ASSOCIATION, _S.COOPERATIVE_MEMBER})
_REGIMES: frozenset[str] = frozenset(get_args(Regime))


@dataclass(frozen=True)
class EligibilityRules:
    """The provider statuses admitted for each regime (``declaration``, ``agrement``, ``autorisation``);
    a regime missing from ``allowed`` admits nobody."""

    allowed: Mapping[str, frozenset[ProviderStatus]]

    def statuses_for(self, regime: str) -> frozenset[ProviderStatus]:
        return self.allowed.get(regime, frozenset())


DEFAULT_RULES = EligibilityRules(
    allowed={"declaration": _PROVIDERS, "agrement": _APPROVAL_HOLDERS, "autorisation": _APPROVAL_HOLDERS}
)


def rules_from_mapping(mapping: Mapping[str, Iterable[str]]) -> EligibilityRules:
    """Rules from plain data (e.g. a node's settings): regime name → provider status values.

    Raises :class:`ValueError` on an unknown regime or status, so a typo never opens a category.
    """
    allowed: dict[str, frozenset[ProviderStatus]] = {}
    for regime, statuses in mapping.items():
        if regime not in _REGIMES:
            raise ValueError(f"unknown regime {regime!r}; expected one of {sorted(_REGIMES)}")
        allowed[regime] = frozenset(ProviderStatus(s) for s in statuses)
    return EligibilityRules(allowed)


def _regime(category: Category | str | None) -> str:
    if category is None:
        # A proposal from software without our categories: only the least demanding rule can apply.
        return "declaration"
    cat = by_slug(category) if isinstance(category, str) else category
    return cat.regime


def _status(value: ProviderStatus | str) -> ProviderStatus | None:
    try:
        return ProviderStatus(value)
    except ValueError:
        return None


def eligible_statuses(
    category: Category | str | None, rules: EligibilityRules = DEFAULT_RULES
) -> frozenset[ProviderStatus]:
    """The provider statuses that may provide ``category`` (a category, its slug, or None)."""
    return rules.statuses_for(_regime(category))


def may_provide(
    category: Category | str | None,
    provider_status: ProviderStatus | str,
    *,
    rules: EligibilityRules = DEFAULT_RULES,
) -> bool:
    """True when someone with ``provider_status`` may provide ``category``: publish an offer of it,
    or answer a demand for it. An unknown status may provide nothing; an unknown slug raises
    :class:`~node.catalog.categories.UnknownCategory`."""
    status = _status(provider_status)
    return status is not None and status in eligible_statuses(category, rules)


def may_answer(
    category: Category | str | None,
    provider_status: ProviderStatus | str,
    *,
    purpose: Literal["offer", "request"] = "request",
    rules: EligibilityRules = DEFAULT_RULES,
) -> bool:
    """True when someone with ``provider_status`` may answer a proposal of ``category``.

    Answering a demand (``request``) means providing the service: :func:`may_provide` decides.
    Answering an offer means asking for the service, which anyone may do.
    """
    if purpose == "offer":
        return True
    return may_provide(category, provider_status, rules=rules)
