"""Write tests/data/matching/corpus.json: about 300 French proposals with their expected matches, for
tests/search/test_matching_corpus.py (precision at 5 of the matching).

Provenance: every text is made here from the phrase lists below, written for this project; places are
communes of the node's gazetteer (INSEE codes). The output is deterministic (a fixed seed): run
``.venv/bin/python scripts/matching_corpus.py`` again and the file does not change.

The labels come from what the generator knows, not from the matcher: each provider does some
*tasks* (e.g. mowing, hedges) of one or two categories, from one commune, within a radius; each demand
asks for one task of one category, in one commune. A provider is **relevant** to a demand when they do
that very task, are within their radius of the demand's commune (the demand's position rounded as a
proposal stores it), and their status may provide the category (an agrément is needed for help to
elderly people at home: volunteers may not). Providers of the same category who do other tasks, or who
are too far, are the distractors."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from node.catalog.eligibility import may_provide
from node.market.proposals.columns import commune_columns
from node.places.gazetteer import default_gazetteer, great_circle_km

SEED = 20261207
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "matching" / "corpus.json"
PROVIDERS = 60
DEMANDS = 240

# East of Paris around Montreuil, 0 to 17 km apart; two far communes for people out of reach.
COMMUNES = (
    "93048 93006 94080 94033 93063 93045 93064 94067 94052 93061 93049 94058 93008 93055 93010 93077 "
    "94042 94018 94015 94046 93029 94017 94041 75056 94068 94028 93051 93066 94019 94071 93073 94075 69123"
).split()
RADII = (3, 5, 8, 10, 15, 20)

# category -> task -> (phrases a demand uses, phrases an offer uses)
TASKS: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "housework": {
        "menage": (
            ["ménage de l'appartement", "entretien de la maison", "nettoyage du logement chaque semaine"],
            ["ménage et entretien du logement", "nettoyage complet de maisons et appartements"],
        ),
        "vitres": (
            ["nettoyage des vitres", "laver les fenêtres et les baies vitrées", "vitres et carreaux à laver"],
            ["lavage de vitres et fenêtres", "vitres, baies vitrées et vérandas"],
        ),
    },
    "gardening": {
        "tonte": (
            ["tonte de la pelouse", "tondre le gazon du jardin", "pelouse à tondre tous les quinze jours"],
            ["tonte de pelouse et ramassage de l'herbe", "entretien des pelouses et gazon"],
        ),
        "haies": (
            ["taille de haies", "tailler les haies et les arbustes", "haie de thuyas à tailler"],
            ["taille de haies, arbustes et rosiers", "haies et arbustes taillés proprement"],
        ),
        "potager": (
            ["entretien du potager", "désherbage et plantation des légumes", "aide pour mon potager"],
            ["potager : plantation, semis et désherbage", "entretien de potagers et plates-bandes"],
        ),
    },
    "handyman": {
        "meubles": (
            ["montage de meubles en kit", "monter une armoire et un lit", "meuble à monter"],
            ["montage de meubles en kit et étagères", "meubles montés et fixés au mur"],
        ),
        "plomberie": (
            [
                "petite plomberie, fuite sous l'évier",
                "changer un robinet qui fuit",
                "réparer une chasse d'eau",
            ],
            ["petite plomberie : robinets, joints, fuites", "réparation de fuites et chasses d'eau"],
        ),
        "peinture": (
            ["peinture d'une chambre", "repeindre les murs du salon", "travaux de peinture intérieure"],
            ["peinture intérieure de murs et plafonds", "peinture de chambres et de salons"],
        ),
    },
    "tutoring": {
        "maths": (
            [
                "soutien scolaire en mathématiques",
                "cours de maths pour un collégien",
                "aide en maths au lycée",
            ],
            ["cours de mathématiques du collège au lycée", "soutien en maths, algèbre et géométrie"],
        ),
        "anglais": (
            ["cours d'anglais", "conversation en anglais pour progresser", "aide aux devoirs d'anglais"],
            ["cours d'anglais et conversation", "anglais : grammaire et conversation"],
        ),
        "francais": (
            [
                "aide en français et orthographe",
                "cours de français pour la rédaction",
                "orthographe à revoir",
            ],
            ["français : orthographe, grammaire, rédaction", "cours de français et méthodologie"],
        ),
    },
    "childcare-over-3": {
        "ecole": (
            [
                "sortie d'école à 16 h 30",
                "récupérer les enfants à l'école",
                "aller chercher ma fille à l'école",
            ],
            ["sorties d'école et goûter", "je récupère vos enfants à l'école"],
        ),
        "soir": (
            ["baby-sitting le soir", "garde d'enfants en soirée", "garder deux enfants un samedi soir"],
            ["garde d'enfants le soir et le week-end", "baby-sitting en soirée"],
        ),
    },
    "computer-assistance": {
        "ordinateur": (
            [
                "installer mon nouvel ordinateur",
                "aide informatique pour configurer le PC",
                "ordinateur très lent",
            ],
            ["installation et réglage d'ordinateurs", "dépannage informatique à domicile"],
        ),
        "smartphone": (
            [
                "apprendre à utiliser mon smartphone",
                "prise en main d'un téléphone portable",
                "réglages du smartphone",
            ],
            ["prise en main de smartphones et tablettes", "aide au téléphone portable et aux applications"],
        ),
    },
    "pet-care-dependent": {
        "chien": (
            ["promenade de mon chien", "sortir le chien le midi", "promener un labrador"],
            ["promenades de chiens en forêt", "sorties de chiens tous les jours"],
        ),
        "chat": (
            ["nourrir mon chat pendant les vacances", "visites au chat pendant mon absence", "garde de chat"],
            ["visites aux chats à domicile", "je nourris et câline vos chats"],
        ),
    },
    "elderly-disabled-assistance": {
        "toilette": (
            [
                "aide à la toilette pour ma mère",
                "aide au lever et à la toilette",
                "toilette d'une personne âgée",
            ],
            ["aide à la toilette et à l'habillage", "lever, toilette et coucher des personnes âgées"],
        ),
    },
    "administrative-assistance": {
        "papiers": (
            [
                "aide pour les papiers administratifs",
                "remplir ma déclaration d'impôts",
                "classer les courriers",
            ],
            ["papiers administratifs et déclarations", "aide aux démarches et aux impôts"],
        ),
    },
}
OPENINGS = [
    "Bonjour, je cherche quelqu'un pour",
    "Recherche",
    "Besoin d'aide :",
    "Je souhaite",
    "Qui pourrait",
]
CLOSINGS = [
    "Merci d'avance.",
    "Disponible en semaine.",
    "Plutôt le samedi matin.",
    "Paiement en CESU possible.",
    "Quartier calme, accès facile.",
    "",
]
STATUSES = ["self_employed", "association", "cooperative_member", "volunteer", "private_individual"]
FIRST_NAMES = (
    "Amina Bruno Chloé David Élise Farid Gaëlle Hugo Inès Jules Karima Léo Maëlle Nadia Omar".split()
)


def _position(insee: str, *, stored: bool) -> tuple[float, float]:
    commune = default_gazetteer().by_insee(insee)
    assert commune is not None and commune.lat is not None and commune.lon is not None, insee
    if stored:  # a proposal keeps its commune's centre rounded to 0.01°
        columns = commune_columns(commune)
        return columns["latitude"], columns["longitude"]
    return commune.lat, commune.lon


def _providers(rng: random.Random) -> list[dict[str, Any]]:
    found = []
    categories = sorted(TASKS)
    for n in range(PROVIDERS):
        first = categories[n % len(categories)]
        chosen = [first] + ([rng.choice(categories)] if rng.random() < 0.3 else [])
        tasks = {
            c: sorted(rng.sample(sorted(TASKS[c]), rng.randint(1, min(2, len(TASKS[c]))))) for c in chosen
        }
        task_list = [(c, t) for c in sorted(tasks) for t in tasks[c]]
        category, task = task_list[0]
        offer_phrase = rng.choice(TASKS[category][task][1])
        others = [rng.choice(TASKS[c][t][1]) for c, t in task_list[1:]]
        found.append(
            {
                "username": f"p{n:02d}",
                "insee": rng.choice(COMMUNES[:-3]) if rng.random() < 0.9 else rng.choice(COMMUNES[-3:]),
                "radius_km": rng.choice(RADII),
                "status": rng.choice(STATUSES),
                "categories": sorted(tasks),
                "tasks": [f"{c}/{t}" for c, t in task_list],
                "bio": f"{rng.choice(FIRST_NAMES)}, " + ", ".join(others + [offer_phrase]) + ".",
                "offer": {
                    "title": offer_phrase[0].upper() + offer_phrase[1:],
                    "description": f"Je propose : {offer_phrase}. {rng.choice(CLOSINGS)}".strip(),
                    "category": category,
                },
            }
        )
    return found


def _relevant(provider: dict[str, Any], category: str, task: str, insee: str) -> bool:
    if f"{category}/{task}" not in provider["tasks"] or not may_provide(category, provider["status"]):
        return False
    lat, lon = _position(insee, stored=True)
    plat, plon = _position(provider["insee"], stored=False)
    return great_circle_km(lat, lon, plat, plon) <= float(provider["radius_km"])


def build() -> dict[str, Any]:
    """The corpus, from :data:`SEED`."""
    rng = random.Random(SEED)
    providers = _providers(rng)
    demands = []
    pairs = [(c, t) for c in sorted(TASKS) for t in sorted(TASKS[c])]
    for n in range(DEMANDS):
        category, task = pairs[n % len(pairs)]
        phrase = rng.choice(TASKS[category][task][0])
        insee = rng.choice(COMMUNES[:-3]) if rng.random() < 0.95 else rng.choice(COMMUNES[-3:])
        demands.append(
            {
                "key": f"d{n:03d}",
                "title": phrase[0].upper() + phrase[1:],
                "description": f"{rng.choice(OPENINGS)} {phrase}. {rng.choice(CLOSINGS)}".strip(),
                "category": category,
                "task": f"{category}/{task}",
                "insee": insee,
                "relevant": [p["username"] for p in providers if _relevant(p, category, task, insee)],
            }
        )
    return {
        "provenance": "Written for ASASAP by scripts/matching_corpus.py (phrase lists of that script, "
        "communes of the node's gazetteer); labels from the generator's tasks, radii and eligibility.",
        "seed": SEED,
        "providers": providers,
        "demands": demands,
    }


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
