"""Demo data: realistic French people and profiles for a node started with ``asasap demo``."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from node.accounts import service
from node.accounts.models import ProviderStatus, Role, User
from node.activitypub import keys

DEMO_PASSWORD = "asasap-demo-2026"


@dataclass(frozen=True)
class DemoPerson:
    username: str
    display_name: str
    role: Role
    postal_code: str
    commune: str
    bio: str
    offers: bool = False
    requests: bool = True
    provider_status: ProviderStatus = ProviderStatus.NONE
    siret: str = ""
    categories: tuple[str, ...] = field(default_factory=tuple)


MONTREUIL = (
    DemoPerson(
        "admin",
        "Administration du nœud",
        Role.ADMIN,
        "93100",
        "Montreuil",
        "Compte d'administration du nœud de démonstration.",
        requests=False,
    ),
    DemoPerson(
        "coordination",
        "Sophie Martin",
        Role.COORDINATOR,
        "93100",
        "Montreuil",
        "Coordinatrice : je valide les inscriptions et j'accompagne les membres.",
        requests=False,
    ),
    DemoPerson(
        "amina",
        "Amina Benali",
        Role.MEMBER,
        "93100",
        "Montreuil",
        "Maman de deux enfants, je cherche de l'aide pour le ménage et les sorties d'école.",
    ),
    DemoPerson(
        "bernard",
        "Bernard Lefèvre",
        Role.MEMBER,
        "93170",
        "Bagnolet",
        "Auto-entrepreneur : ménage, repassage et petits travaux de jardinage.",
        offers=True,
        requests=False,
        provider_status=ProviderStatus.SELF_EMPLOYED,
        siret="73282932000074",
        categories=("housework", "gardening", "handyman"),
    ),
    DemoPerson(
        "chloe",
        "Chloé Nguyen",
        Role.MEMBER,
        "93100",
        "Montreuil",
        "Étudiante bénévole : soutien scolaire et aide informatique.",
        offers=True,
        provider_status=ProviderStatus.VOLUNTEER,
        categories=("tutoring", "computer-assistance"),
    ),
)


def seed(session: Session, secret: str, people: tuple[DemoPerson, ...] = MONTREUIL) -> list[DemoPerson]:
    """Create the demo accounts that do not exist yet; returns the people created."""
    created = []
    for person in people:
        if session.exec(select(User.id).where(User.username == person.username)).first() is not None:
            continue
        user = service.create_user(
            session, username=person.username, password=DEMO_PASSWORD, role=person.role
        )
        service.update_profile(
            session,
            user,
            service.ProfileInput(
                display_name=person.display_name,
                bio=person.bio,
                postal_code=person.postal_code,
                commune_name=person.commune,
                offers_services=person.offers,
                requests_services=person.requests,
                provider_status=person.provider_status.value,
                siret=person.siret,
                categories=list(person.categories),
            ),
        )
        keys.ensure_key(session, keys.user_owner(user.id or 0), secret, user_id=user.id)
        created.append(person)
    return created
