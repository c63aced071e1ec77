"""Demo data: three nodes of Est Ensemble (Seine-Saint-Denis) with realistic French people, offers and
demands, the bids people of one node send to proposals of another, and one agreement carried out
and evaluated. ``asasap demo`` prepares the nodes from it; :mod:`node.demo.seeding` publishes the
marketplace part through the real services, so that it federates.

Everything here is fictional: names, SIRET numbers (14 digits passing the Luhn check) and the
association are made up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from sqlmodel import Session, select

from node.accounts import service
from node.accounts.models import Role, User
from node.activitypub import keys
from node.catalog.statuses import ProviderStatus
from node.market.proposals.input import ProposalInput
from node.settings import Mode

DEMO_PASSWORD = "asasap-demo-2026"

_S = ProviderStatus


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


@dataclass(frozen=True)
class Window:
    """One time window, ``in_days`` days from the day of seeding, local times ``HH:MM``."""

    in_days: int
    start: str
    end: str


@dataclass(frozen=True)
class Weekly:
    """A weekly slot on ``days`` (``MO``…``SU``) for ``weeks`` weeks, from ``in_days`` days ahead."""

    days: tuple[str, ...]
    start: str
    end: str
    weeks: int
    in_days: int = 1


@dataclass(frozen=True)
class DemoProposal:
    """An offer or a demand; ``key`` names it for the bids and the agreement below."""

    key: str
    author: str
    purpose: Literal["offer", "request"]
    title: str
    description: str
    category: str
    postal_code: str
    commune: str
    hours: str
    price: str = ""  # empty: a demand that leaves the amount to the answers
    basis: Literal["per_hour", "total"] = "per_hour"
    free: bool = False
    schedule: Window | Weekly | None = None
    bids_for_days: int | None = None  # market demands: open to bids until this many days ahead

    def as_input(self, today: date) -> ProposalInput:
        """What the author would type on ``today`` (dates of the schedule and deadline from it)."""
        data = ProposalInput(
            purpose=self.purpose,
            title=self.title,
            description=self.description,
            category=self.category,
            postal_code=self.postal_code,
            commune_name=self.commune,
            quantity=self.hours,
            price=self.price,
            price_basis=self.basis,
            free=self.free,
        )
        if isinstance(self.schedule, Window):
            day = (today + timedelta(days=self.schedule.in_days)).isoformat()
            data.schedule_kind = "window"
            data.start, data.end = f"{day}T{self.schedule.start}", f"{day}T{self.schedule.end}"
        elif isinstance(self.schedule, Weekly):
            first = today + timedelta(days=self.schedule.in_days)
            data.schedule_kind = "weekly"
            data.weekdays = list(self.schedule.days)
            data.start_time, data.end_time = self.schedule.start, self.schedule.end
            data.first_day = first.isoformat()
            data.last_day = (first + timedelta(weeks=self.schedule.weeks)).isoformat()
        if self.bids_for_days is not None:
            data.bidding_deadline = f"{today + timedelta(days=self.bids_for_days)}T20:00"
        return data


@dataclass(frozen=True)
class DemoNode:
    slug: str
    name: str
    territory: str
    mode: Mode
    people: tuple[DemoPerson, ...]
    proposals: tuple[DemoProposal, ...] = ()


@dataclass(frozen=True)
class DemoBid:
    """``bidder`` (on node ``node``) answers the proposal ``proposal`` of another node."""

    node: str
    bidder: str
    proposal: str
    amount: str = ""  # empty: the proposal's own price
    message: str = ""


@dataclass(frozen=True)
class DemoEvaluation:
    node: str
    evaluator: str
    overall: int
    criteria: dict[str, int]
    comment: str


@dataclass(frozen=True)
class DemoAgreement:
    """The bid of ``bidder`` on ``proposal`` is accepted, both confirm completion, both evaluate."""

    proposal: str
    bidder: str
    evaluations: tuple[DemoEvaluation, ...]


def _staff(node: str, commune: str, postal_code: str, coordinator: str) -> tuple[DemoPerson, DemoPerson]:
    return (
        DemoPerson(
            "admin",
            "Administration du nœud",
            Role.ADMIN,
            postal_code,
            commune,
            f"Compte d'administration du nœud de démonstration {node}.",
            requests=False,
        ),
        DemoPerson(
            "coordination",
            coordinator,
            Role.COORDINATOR,
            postal_code,
            commune,
            "Coordination : je valide les inscriptions et j'accompagne les membres.",
            requests=False,
        ),
    )


MONTREUIL = (
    *_staff("Montreuil Services", "Montreuil", "93100", "Sophie Martin"),
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
        provider_status=_S.SELF_EMPLOYED,
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
        provider_status=_S.VOLUNTEER,
        categories=("tutoring", "computer-assistance"),
    ),
    DemoPerson(
        "josette",
        "Josette Moreau",
        Role.MEMBER,
        "93100",
        "Montreuil",
        "Retraitée, je vis seule dans le Bas-Montreuil ; un coup de main pour les courses m'aiderait.",
    ),
    DemoPerson(
        "mamadou",
        "Mamadou Diallo",
        Role.MEMBER,
        "93130",
        "Noisy-le-Sec",
        "Intervenant de l'association Voisins Solidaires : aide et accompagnement des personnes âgées.",
        offers=True,
        requests=False,
        provider_status=_S.ASSOCIATION,
        categories=("elderly-disabled-assistance", "elderly-disabled-escort", "meal-preparation"),
    ),
)

BAGNOLET = (
    *_staff("Bagnolet Entraide", "Bagnolet", "93170", "Karim Haddad"),
    DemoPerson(
        "fatou",
        "Fatou Traoré",
        Role.MEMBER,
        "93170",
        "Bagnolet",
        "Auto-entrepreneuse depuis six ans : ménage, repassage, garde d'enfants après l'école.",
        offers=True,
        requests=False,
        provider_status=_S.SELF_EMPLOYED,
        siret="84215937800012",
        categories=("housework", "childcare-over-3", "child-escort-over-3", "laundry-delivery"),
    ),
    DemoPerson(
        "julien",
        "Julien Petit",
        Role.MEMBER,
        "93260",
        "Les Lilas",
        "Artisan auto-entrepreneur : montage de meubles, petites réparations, dépannage informatique.",
        offers=True,
        requests=False,
        provider_status=_S.SELF_EMPLOYED,
        siret="90133728700014",
        categories=("handyman", "gardening", "computer-assistance"),
    ),
    DemoPerson(
        "nadia",
        "Nadia Rahmani",
        Role.MEMBER,
        "93170",
        "Bagnolet",
        "Infirmière en horaires décalés, deux enfants au collège.",
    ),
    DemoPerson(
        "marcel",
        "Marcel Dubois",
        Role.MEMBER,
        "93310",
        "Le Pré-Saint-Gervais",
        "Ancien cheminot, un petit jardin que je n'arrive plus à entretenir seul.",
    ),
    DemoPerson(
        "ines",
        "Inès Carvalho",
        Role.MEMBER,
        "93230",
        "Romainville",
        "Étudiante, je promène les chiens et fais les courses de mes voisins.",
        offers=True,
        provider_status=_S.PRIVATE_INDIVIDUAL,
        categories=("pet-care-dependent", "grocery-delivery"),
    ),
)

COOPERATIVE = (
    *_staff("Coopérative Est Ensemble", "Pantin", "93500", "Élodie Garnier"),
    DemoPerson(
        "yasmine",
        "Yasmine Cherif",
        Role.MEMBER,
        "93500",
        "Pantin",
        "Entrepreneuse-salariée de la coopérative : repas, ménage, aide aux personnes âgées.",
        offers=True,
        provider_status=_S.COOPERATIVE_MEMBER,
        categories=("meal-preparation", "housework", "elderly-disabled-assistance"),
    ),
    DemoPerson(
        "thomas",
        "Thomas Lambert",
        Role.MEMBER,
        "93000",
        "Bobigny",
        "Associé de la coopérative : bricolage, plomberie légère, jardins partagés.",
        offers=True,
        provider_status=_S.COOPERATIVE_MEMBER,
        categories=("handyman", "gardening", "home-watch"),
    ),
    DemoPerson(
        "odile",
        "Odile Fontaine",
        Role.MEMBER,
        "93140",
        "Bondy",
        "Professeure des écoles à la retraite, bénévole : démarches administratives, aide aux devoirs.",
        offers=True,
        provider_status=_S.VOLUNTEER,
        categories=("administrative-assistance", "computer-assistance", "tutoring"),
    ),
    DemoPerson(
        "rachid",
        "Rachid Benkirane",
        Role.MEMBER,
        "93130",
        "Noisy-le-Sec",
        "J'accompagne mon père de 84 ans qui vit chez moi.",
    ),
    DemoPerson(
        "mai",
        "Mai Tran",
        Role.MEMBER,
        "93230",
        "Romainville",
        "Maman solo d'un garçon de 5 ans, je travaille parfois le soir.",
    ),
)


MONTREUIL_PROPOSALS = (
    DemoProposal(
        "amina-travaux",
        "amina",
        "request",
        "Grand ménage après travaux dans un F3",
        "<p>Les peintres viennent de finir : poussière partout, vitres et sols à nettoyer. "
        "Produits fournis, aspirateur sur place.</p>",
        "housework",
        "93100",
        "Montreuil",
        "5",
        price="100",
        basis="total",
        bids_for_days=5,
    ),
    DemoProposal(
        "amina-ecole",
        "amina",
        "request",
        "Sortie d'école et goûter pour deux enfants (6 et 8 ans)",
        "<p>Aller chercher mes enfants à l'école Jules-Ferry, goûter et devoirs jusqu'à mon retour.</p>",
        "child-escort-over-3",
        "93100",
        "Montreuil",
        "2",
        price="13",
        schedule=Weekly(("MO", "TU", "TH", "FR"), "16:30", "18:30", weeks=10, in_days=8),
        bids_for_days=6,
    ),
    DemoProposal(
        "bernard-menage",
        "bernard",
        "offer",
        "Ménage et repassage à domicile",
        "<p>Ménage complet, repassage, rangement. Je viens avec mes produits si vous le souhaitez.</p>",
        "housework",
        "93100",
        "Montreuil",
        "3",
        price="22",
    ),
    DemoProposal(
        "bernard-jardin",
        "bernard",
        "offer",
        "Taille de haies et entretien de jardin",
        "<p>Taille, tonte, désherbage et évacuation des déchets verts.</p>",
        "gardening",
        "93100",
        "Montreuil",
        "4",
        price="25",
        schedule=Window(10, "09:00", "13:00"),
    ),
    DemoProposal(
        "chloe-devoirs",
        "chloe",
        "offer",
        "Aide aux devoirs, niveau collège",
        "<p>Étudiante en sciences, j'aide bénévolement en maths, physique et français.</p>",
        "tutoring",
        "93100",
        "Montreuil",
        "2",
        free=True,
        schedule=Weekly(("WE",), "14:00", "16:00", weeks=8),
    ),
    DemoProposal(
        "chloe-smartphone",
        "chloe",
        "offer",
        "Initiation à l'ordinateur et au smartphone",
        "<p>Courriels, appels vidéo avec la famille, démarches en ligne : à votre rythme.</p>",
        "computer-assistance",
        "93100",
        "Montreuil",
        "1.5",
        free=True,
    ),
    DemoProposal(
        "josette-courses",
        "josette",
        "request",
        "Courses du samedi et port des sacs",
        "<p>Accompagnement au marché de la Croix-de-Chavaux puis au supermarché, "
        "et aide pour monter les sacs (3e étage sans ascenseur).</p>",
        "grocery-delivery",
        "93100",
        "Montreuil",
        "1.5",
        price="15",
        schedule=Weekly(("SA",), "10:00", "11:30", weeks=8),
    ),
    DemoProposal(
        "mamadou-rdv",
        "mamadou",
        "offer",
        "Accompagnement aux rendez-vous médicaux",
        "<p>L'association accompagne les personnes âgées à leurs rendez-vous, à pied ou en transports.</p>",
        "elderly-disabled-escort",
        "93130",
        "Noisy-le-Sec",
        "2",
        price="24",
    ),
)

BAGNOLET_PROPOSALS = (
    DemoProposal(
        "nadia-maths",
        "nadia",
        "request",
        "Soutien scolaire en mathématiques pour ma fille en 4e",
        "<p>Une séance par semaine pour reprendre les bases (fractions, équations).</p>",
        "tutoring",
        "93170",
        "Bagnolet",
        "1.5",
        price="20",
        schedule=Weekly(("TU",), "17:30", "19:00", weeks=10, in_days=8),
        bids_for_days=6,
    ),
    DemoProposal(
        "fatou-garde",
        "fatou",
        "offer",
        "Garde d'enfants après l'école (plus de 3 ans)",
        "<p>Sortie d'école, goûter, bain et repas. Références sur demande.</p>",
        "childcare-over-3",
        "93170",
        "Bagnolet",
        "2.5",
        price="14",
        schedule=Weekly(("MO", "TU", "TH", "FR"), "16:30", "19:00", weeks=12),
    ),
    DemoProposal(
        "fatou-repassage",
        "fatou",
        "offer",
        "Repassage à domicile, linge rendu plié",
        "<p>Chemises, draps, linge de maison : deux heures suffisent pour une famille de quatre.</p>",
        "housework",
        "93170",
        "Bagnolet",
        "2",
        price="20",
    ),
    DemoProposal(
        "julien-meubles",
        "julien",
        "offer",
        "Montage de meubles et petites réparations",
        "<p>Meubles en kit, étagères, tringles, joints de robinet. Outillage fourni.</p>",
        "handyman",
        "93260",
        "Les Lilas",
        "2",
        price="30",
    ),
    DemoProposal(
        "julien-informatique",
        "julien",
        "offer",
        "Dépannage informatique à domicile",
        "<p>Ordinateur lent, box internet, imprimante, sauvegardes.</p>",
        "computer-assistance",
        "93260",
        "Les Lilas",
        "1.5",
        price="35",
    ),
    DemoProposal(
        "marcel-jardin",
        "marcel",
        "request",
        "Entretien d'un petit jardin au printemps",
        "<p>Environ 40 m² : tonte, taille d'un lilas, désherbage des allées.</p>",
        "gardening",
        "93310",
        "Le Pré-Saint-Gervais",
        "3",
        price="75",
        basis="total",
        schedule=Window(12, "09:00", "12:00"),
        bids_for_days=8,
    ),
    DemoProposal(
        "ines-chiens",
        "ines",
        "offer",
        "Promenade de chiens pour personnes à mobilité réduite",
        "<p>Une heure de promenade au parc Jean-Moulin, le matin avant mes cours.</p>",
        "pet-care-dependent",
        "93230",
        "Romainville",
        "1",
        price="12",
        schedule=Weekly(("MO", "WE", "FR"), "08:00", "09:00", weeks=10),
    ),
    DemoProposal(
        "nadia-papiers",
        "nadia",
        "request",
        "Aide pour les démarches administratives (CAF, impôts)",
        "<p>Je m'y perds dans les formulaires en ligne ; deux heures devraient suffire.</p>",
        "administrative-assistance",
        "93170",
        "Bagnolet",
        "2",
    ),
)

COOPERATIVE_PROPOSALS = (
    DemoProposal(
        "yasmine-repas",
        "yasmine",
        "offer",
        "Préparation de repas à domicile",
        "<p>Repas équilibrés préparés chez vous, courses comprises, pour deux ou trois jours.</p>",
        "meal-preparation",
        "93500",
        "Pantin",
        "2",
        price="1",
        schedule=Weekly(("TU", "TH"), "11:00", "13:00", weeks=8),
    ),
    DemoProposal(
        "yasmine-menage",
        "yasmine",
        "offer",
        "Ménage écologique, produits fournis",
        "<p>Vinaigre blanc, savon noir et bicarbonate : un ménage complet sans produits agressifs.</p>",
        "housework",
        "93500",
        "Pantin",
        "3",
        price="1",
    ),
    DemoProposal(
        "thomas-bricolage",
        "thomas",
        "offer",
        "Petits travaux de bricolage et de plomberie",
        "<p>Fuite sous l'évier, chasse d'eau, prises, fixation au mur.</p>",
        "handyman",
        "93000",
        "Bobigny",
        "2",
        price="1",
    ),
    DemoProposal(
        "thomas-vacances",
        "thomas",
        "offer",
        "Surveillance du logement pendant vos vacances",
        "<p>Relève du courrier, arrosage des plantes, ouverture des volets.</p>",
        "home-watch",
        "93000",
        "Bobigny",
        "1",
        price="1",
    ),
    DemoProposal(
        "odile-permanence",
        "odile",
        "offer",
        "Permanence d'aide administrative",
        "<p>Chaque lundi après-midi, bénévolement : courriers, dossiers de retraite, impôts.</p>",
        "administrative-assistance",
        "93140",
        "Bondy",
        "2",
        free=True,
        schedule=Weekly(("MO",), "14:00", "16:00", weeks=12),
    ),
    DemoProposal(
        "rachid-pere",
        "rachid",
        "request",
        "Aide le matin en semaine pour mon père âgé",
        "<p>Aide au lever et au petit-déjeuner, du lundi au vendredi.</p>",
        "elderly-disabled-assistance",
        "93130",
        "Noisy-le-Sec",
        "1.5",
        price="1",
        schedule=Weekly(("MO", "TU", "WE", "TH", "FR"), "08:30", "10:00", weeks=6),
    ),
    DemoProposal(
        "mai-garde",
        "mai",
        "request",
        "Garde ponctuelle de mon fils de 5 ans un soir",
        "<p>De 18 h 30 à 22 h 30 : repas, histoire et coucher.</p>",
        "childcare-over-3",
        "93230",
        "Romainville",
        "4",
        price="4",
        basis="total",
        schedule=Window(9, "18:30", "22:30"),
    ),
    DemoProposal(
        "mai-courses",
        "mai",
        "request",
        "Livraison de courses le mercredi soir",
        "<p>Une liste d'une quinzaine d'articles, à livrer au 2e étage.</p>",
        "grocery-delivery",
        "93230",
        "Romainville",
        "1",
        price="1",
        schedule=Weekly(("WE",), "17:00", "18:00", weeks=6),
    ),
)

DEMO_NODES = (
    DemoNode(
        "montreuil", "Montreuil Services", "Montreuil (93)", Mode.MARKET, MONTREUIL, MONTREUIL_PROPOSALS
    ),
    DemoNode("bagnolet", "Bagnolet Entraide", "Bagnolet (93)", Mode.MARKET, BAGNOLET, BAGNOLET_PROPOSALS),
    DemoNode(
        "cooperative",
        "Coopérative Est Ensemble",
        "Est Ensemble (93)",
        Mode.COOPERATIVE,
        COOPERATIVE,
        COOPERATIVE_PROPOSALS,
    ),
)

# Residents following residents of other nodes: ((node, username), (node, username)).
DEMO_FOLLOWS = (
    (("montreuil", "josette"), ("cooperative", "thomas")),
    (("bagnolet", "nadia"), ("montreuil", "chloe")),
    (("cooperative", "mai"), ("bagnolet", "fatou")),
    (("cooperative", "rachid"), ("montreuil", "mamadou")),
    (("montreuil", "amina"), ("bagnolet", "fatou")),
)

DEMO_BIDS = (
    DemoBid(
        "bagnolet",
        "fatou",
        "amina-travaux",
        "95",
        "Disponible dès la semaine prochaine, j'apporte mon matériel.",
    ),
    DemoBid(
        "cooperative",
        "yasmine",
        "amina-travaux",
        "90",
        "Je peux venir un samedi matin, produits écologiques.",
    ),
    DemoBid(
        "montreuil",
        "chloe",
        "nadia-maths",
        "12",
        "Étudiante en licence de maths, j'ai l'habitude du collège.",
    ),
    DemoBid(
        "cooperative", "odile", "nadia-maths", "10", "Ancienne professeure ; le tarif couvre mes transports."
    ),
    DemoBid(
        "bagnolet", "marcel", "bernard-jardin", "", "Bonjour, mon jardin fait 40 m², au Pré-Saint-Gervais."
    ),
    DemoBid(
        "montreuil", "josette", "thomas-bricolage", "", "Mon robinet de cuisine fuit, pouvez-vous passer ?"
    ),
    DemoBid(
        "montreuil",
        "mamadou",
        "rachid-pere",
        "1",
        "Notre association intervient chaque matin à Noisy-le-Sec.",
    ),
)

DEMO_AGREEMENT = DemoAgreement(
    proposal="amina-travaux",
    bidder="fatou",
    evaluations=(
        DemoEvaluation(
            "montreuil",
            "amina",
            5,
            {"punctuality": 5, "quality": 5, "respect": 5},
            "Travail impeccable, Fatou est arrivée à l'heure et a tout laissé propre. Je recommande !",
        ),
        DemoEvaluation(
            "bagnolet",
            "fatou",
            4,
            {"clarity": 4, "welcome": 5, "payment": 5},
            "Consignes claires et accueil chaleureux ; paiement comme convenu.",
        ),
    ),
)


def proposal_named(key: str) -> tuple[DemoNode, DemoProposal]:
    """The demo proposal ``key`` and the node of its author."""
    for node in DEMO_NODES:
        for proposal in node.proposals:
            if proposal.key == key:
                return node, proposal
    raise KeyError(key)


def seed(secret: str, people: tuple[DemoPerson, ...] = MONTREUIL, *, session: Session) -> list[DemoPerson]:
    """Create the demo accounts that do not exist yet; returns the people created."""
    created = []
    for person in people:
        if session.exec(select(User.id).where(User.username == person.username)).first() is not None:
            continue
        user = service.create_user(
            username=person.username, password=DEMO_PASSWORD, role=person.role, session=session
        )
        service.update_profile(
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
            session=session,
        )
        keys.ensure_key(keys.user_owner(user.id or 0), secret, user_id=user.id, session=session)
        created.append(person)
    return created
