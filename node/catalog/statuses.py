"""The statuses under which a person provides services: self-employed (with a SIRET), association,
cooperative member or entrepreneur-salarié, volunteer, family carer, private individual. A person's
status gates the categories they may offer (:mod:`node.catalog.eligibility`)."""

from __future__ import annotations

from enum import StrEnum

from node.core.errors import N_


class ProviderStatus(StrEnum):
    """Status under which a person provides services; gates care-adjacent categories later."""

    NONE = "none"
    SELF_EMPLOYED = "self_employed"
    ASSOCIATION = "association"
    COOPERATIVE_MEMBER = "cooperative_member"
    VOLUNTEER = "volunteer"
    FAMILY_CARER = "family_carer"
    PRIVATE_INDIVIDUAL = "private_individual"


PROVIDER_STATUS_LABELS: dict[ProviderStatus, str] = {
    ProviderStatus.NONE: N_("Not a provider"),
    ProviderStatus.SELF_EMPLOYED: N_("Self-employed (SIRET)"),
    ProviderStatus.ASSOCIATION: N_("Association"),
    ProviderStatus.COOPERATIVE_MEMBER: N_("Cooperative member or employee-entrepreneur"),
    ProviderStatus.VOLUNTEER: N_("Volunteer"),
    ProviderStatus.FAMILY_CARER: N_("Family carer"),
    ProviderStatus.PRIVATE_INDIVIDUAL: N_("Private individual"),
}
