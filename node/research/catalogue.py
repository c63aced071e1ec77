"""The catalogue of indicators: what each figure means. The data dictionary of every export, the
researchers' page and docs/research.md are generated from it, so a figure and its definition cannot part.

Every indicator is computed per month and per scope: ``local`` (what this node holds as its own:
proposals published here, agreements held here, evaluations of those agreements) and ``federated``
(copies of other nodes' objects this node received); the two are never added together, so that figures
from several nodes can be compared without counting the same object twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.core.errors import N_

COUNT_RULE = (
    "Withheld when fewer than k people are behind the cell; when one cell of the group is withheld, "
    "more are (fewest people first) until the withheld cells come from at least k people."
)
QUANTILE_RULE = (
    "Withheld when computed from fewer than k values or fewer than k people, or when the count of its "
    "population is withheld."
)
POOLED_RULE = "Withheld when fewer than k people are behind it."
CARE_RULE = "Withheld when fewer than k providers or fewer than k beneficiaries are behind it."
COUNT_NOISE = (
    "Cell key method: each count, and the items and people beside it, within 2 of the true one "
    "(-2, -1, 0, +1, +2 with probabilities 5, 20, 50, 20, 5 %); an empty count stays 0."
)
QUANTILE_NOISE = "Not perturbed (values from at least k of them); the count beside it is, as the counts."
MEAN_NOISE = (
    "Quartiles not perturbed; the mean moves by the cell key perturbation (at most 2) over the demands."
)
CARE_NOISE = (
    "Cell key method: counts within 2 of the true ones; hours move by the perturbation times the hours "
    "of a typical visit, anomalies per 100 visits by the perturbation times 100 over the visits."
)
MAGNITUDE_NOISE = (
    "Cell key method: counts within 2 of the true ones; hours move by the perturbation times the mean "
    "hours of a transfer, the share by the perturbation over the assignments."
)


@dataclass(frozen=True)
class Indicator:
    """One indicator of the catalogue (see the module doc for scopes)."""

    name: str
    title: str
    definition: str
    unit: str
    population: str
    breakdown: str
    suppression: str
    perturbation: str = COUNT_NOISE
    scopes: tuple[str, ...] = ("local", "federated")
    cooperative_only: bool = False

    @property
    def definition_fr(self) -> str:
        return FRENCH[self.name]

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "title": self.title,
            "definition_fr": self.definition_fr,
            "definition": self.definition,
            "unit": self.unit,
            "population": self.population,
            "breakdown": self.breakdown,
            "suppression": self.suppression,
            "perturbation": self.perturbation,
            "scopes": list(self.scopes),
        }


CATALOGUE: tuple[Indicator, ...] = (
    Indicator(
        "proposals",
        N_("Proposals posted"),
        "Offers and demands published in the month, by purpose and category.",
        "proposals",
        "Proposals published in the month; people: their authors.",
        "`offer:<category>` or `request:<category>`; `offer:*` and `request:*` are the totals.",
        COUNT_RULE,
    ),
    Indicator(
        "demand_answers",
        N_("Demands answered"),
        "Demands published in the month that received at least one answer (bid), and those that did not.",
        "demands",
        "Demands published in the month; people: their authors and first answerers.",
        "`answered`, `unanswered`; `*` is the total.",
        COUNT_RULE,
    ),
    Indicator(
        "first_answer_hours",
        N_("Time to first answer"),
        "Hours from a demand's publication to its first answer: quartiles.",
        "hours",
        "Demands published in the month that received an answer; people: authors and first answerers.",
        "`q1`, `median`, `q3`.",
        QUANTILE_RULE,
        QUANTILE_NOISE,
    ),
    Indicator(
        "bids_per_demand",
        N_("Answers per demand"),
        "Number of answers (bids) each demand published in the month received: quartiles and mean.",
        "bids",
        "Demands published in the month; people: their authors and every bidder.",
        "`q1`, `median`, `q3`, `mean`.",
        QUANTILE_RULE,
        MEAN_NOISE,
    ),
    Indicator(
        "agreement_hours",
        N_("Time to agreement"),
        "Hours from a proposal's publication to an agreement on it: quartiles.",
        "hours",
        "Agreements made in the month whose proposal is known here; people: both parties.",
        "`q1`, `median`, `q3`.",
        QUANTILE_RULE,
        QUANTILE_NOISE,
    ),
    Indicator(
        "agreement_pricing",
        N_("Agreements by kind of price"),
        "Agreements made in the month priced in euros, in time tokens, or without a usable price.",
        "agreements",
        "Agreements made in the month; people: both parties.",
        "`euros`, `tokens`, `other`; `*` is the total.",
        COUNT_RULE,
    ),
    Indicator(
        "price_eur_hour",
        N_("Price per hour"),
        "Agreed price in euros per hour of service (a total price divided by the agreed hours): quartiles.",
        "€/h",
        "Agreements made in the month priced in euros with known hours; people: both parties.",
        "`q1`, `median`, `q3`.",
        QUANTILE_RULE,
        QUANTILE_NOISE,
    ),
    Indicator(
        "token_rate",
        N_("Token rate"),
        "Agreed time tokens per hour of service: quartiles (1 means an hour for an hour).",
        "tokens/h",
        "Agreements made in the month priced in time tokens with known hours; people: both parties.",
        "`q1`, `median`, `q3`.",
        QUANTILE_RULE,
        QUANTILE_NOISE,
    ),
    Indicator(
        "agreement_outcomes",
        N_("Outcomes of agreements"),
        "Agreements made in the month by where they stand: completed, cancelled late, cancelled in time, "
        "disputed, still under way. The share is the rate (completion, cancellation, dispute rates).",
        "agreements",
        "Agreements made in the month; people: both parties.",
        "`completed`, `cancelled_late`, `cancelled`, `disputed`, `ongoing`; `*` is the total.",
        COUNT_RULE,
    ),
    Indicator(
        "evaluations",
        N_("Evaluations by role"),
        "Revealed evaluations in the month by the role of the person evaluated and the overall score "
        "(1 to 5). Sealed evaluations (not yet revealed to the parties) are never counted.",
        "evaluations",
        "Evaluations revealed in the month; people: the evaluator and the person evaluated.",
        "`provider:<score>`, `requester:<score>`; `provider:*` and `requester:*` are the totals.",
        COUNT_RULE,
    ),
    Indicator(
        "repeat_agreements",
        N_("Repeat relationships"),
        "Agreements made in the month between two people who had already agreed before, and first ones.",
        "agreements",
        "Agreements made in the month; people: both parties.",
        "`repeat`, `first`; `*` is the total.",
        COUNT_RULE,
    ),
    Indicator(
        "cross_node_agreements",
        N_("Agreements across nodes"),
        "Agreements made in the month whose two parties are on different nodes, and those on one node.",
        "agreements",
        "Agreements made in the month; people: both parties.",
        "`cross_node`, `same_node`; `*` is the total.",
        COUNT_RULE,
    ),
    Indicator(
        "token_circulation",
        N_("Token circulation"),
        "Time tokens moved between people in the month (payments of agreements and gifts): the number "
        "of transfers and the hours moved.",
        "transfers, hours",
        "Settled transfers between two people's accounts in the month; people: payers and payees.",
        "`transfers`, `hours`.",
        POOLED_RULE,
        MAGNITUDE_NOISE,
        scopes=("local",),
        cooperative_only=True,
    ),
    Indicator(
        "group_work",
        N_("Work shared in groups"),
        "Agreements of this node's groups assigned in the month to a member: the assignments, the members "
        "who carried work, and the share of the assignments done by each group's busiest member.",
        "assignments, members, share",
        "Assignments of this node's groups made in the month; people: the members assigned.",
        "`assignments`, `members`, `busiest_share`.",
        POOLED_RULE,
        MAGNITUDE_NOISE,
        scopes=("local",),
    ),
    Indicator(
        "care_hours",
        N_("Planned and done hours of care"),
        "Telemanagement visits starting in the month (assigned to a provider, not cancelled): their number, "
        "the hours planned, and the hours clocked (check-in to check-out) on those done.",
        "visits, hours",
        "Visits starting in the month; people: their providers and their beneficiaries.",
        "`visits`, `planned`, `done`.",
        CARE_RULE,
        CARE_NOISE,
        scopes=("local",),
    ),
    Indicator(
        "visit_anomalies",
        N_("Anomalies of visits"),
        "Visits starting in the month whose slot is over, those with at least one anomaly (late, missing "
        "check-in or check-out, too short, outside the slot, clocked by hand), and the anomalies per 100 "
        "visits.",
        "visits, anomalies per 100 visits",
        "Visits starting in the month whose slot is over; people: their providers and their beneficiaries.",
        "`visits`, `with_anomaly`, `per_100_visits`.",
        CARE_RULE,
        CARE_NOISE,
        scopes=("local",),
    ),
    Indicator(
        "punctuality",
        N_("Punctuality of visits"),
        "Visits starting in the month whose slot is over: checked in on time (within the node's tolerance), "
        "late, or never. The share of `on_time` is the punctuality.",
        "visits",
        "Visits starting in the month whose slot is over; people: their providers and their beneficiaries.",
        "`on_time`, `late`, `missed`; `*` is the total.",
        CARE_RULE + " " + COUNT_RULE.split("; ", 1)[1].capitalize(),
        scopes=("local",),
    ),
)

BY_NAME = {indicator.name: indicator for indicator in CATALOGUE}

# The definitions in French (French first on the pages and in the exports, then English).
FRENCH: dict[str, str] = {
    "proposals": "Offres et demandes publiées dans le mois, par nature et par catégorie.",
    "demand_answers": "Demandes publiées dans le mois qui ont reçu au moins une réponse (offre de "
    "service), et celles qui n'en ont reçu aucune.",
    "first_answer_hours": "Heures entre la publication d'une demande et sa première réponse : quartiles.",
    "bids_per_demand": "Nombre de réponses reçues par chaque demande publiée dans le mois : quartiles "
    "et moyenne.",
    "agreement_hours": "Heures entre la publication d'une annonce et un accord conclu sur elle : quartiles.",
    "agreement_pricing": "Accords conclus dans le mois au prix en euros, en jetons de temps, ou sans prix "
    "utilisable.",
    "price_eur_hour": "Prix convenu en euros par heure de service (un prix global divisé par les heures "
    "convenues) : quartiles.",
    "token_rate": "Jetons de temps convenus par heure de service : quartiles (1 signifie une heure pour "
    "une heure).",
    "agreement_outcomes": "Accords conclus dans le mois selon leur état : réalisés, annulés tardivement, "
    "annulés à temps, en litige, en cours. La part est le taux (de réalisation, d'annulation, de litige).",
    "evaluations": "Évaluations révélées dans le mois, selon le rôle de la personne évaluée et la note "
    "globale (1 à 5). Les évaluations encore scellées ne sont jamais comptées.",
    "repeat_agreements": "Accords conclus dans le mois entre deux personnes qui s'étaient déjà accordées, "
    "et premiers accords.",
    "cross_node_agreements": "Accords conclus dans le mois entre deux personnes de nœuds différents, et "
    "ceux d'un même nœud.",
    "token_circulation": "Jetons de temps échangés entre personnes dans le mois (paiements d'accords et "
    "dons) : nombre de virements et heures échangées.",
    "group_work": "Accords des groupes de ce nœud confiés dans le mois à un membre : les affectations, les "
    "membres qui ont travaillé, et la part des affectations faite par le membre le plus sollicité de "
    "chaque groupe.",
    "care_hours": "Interventions de télégestion commençant dans le mois (confiées à un intervenant, non "
    "annulées) : leur nombre, les heures prévues, et les heures pointées (de l'arrivée au départ) sur "
    "celles réalisées.",
    "visit_anomalies": "Interventions commençant dans le mois dont le créneau est passé, celles qui ont "
    "au moins une anomalie (retard, arrivée ou départ non pointé, trop courte, hors créneau, pointage "
    "manuel), et les anomalies pour 100 interventions.",
    "punctuality": "Interventions commençant dans le mois dont le créneau est passé : arrivée pointée à "
    "l'heure (dans la tolérance du nœud), en retard, ou jamais. La part `on_time` est la ponctualité.",
}


def dictionary(k: int) -> list[dict[str, object]]:
    """The data dictionary of an export: every indicator, with k written into its suppression rule."""
    return [{**i.as_json(), "suppression": i.suppression.replace("k ", f"k = {k} ")} for i in CATALOGUE]


def markdown(k: int = 5) -> str:
    """The data dictionary as the Markdown table of docs/research.md (a test keeps the two equal)."""
    lines = [
        "| indicator | définition | definition | unit | population | breakdown | suppression "
        "| perturbation |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in dictionary(k):
        cells = [
            f"`{entry['name']}`",
            entry["definition_fr"],
            entry["definition"],
            entry["unit"],
            entry["population"],
            entry["breakdown"],
            entry["suppression"],
            entry["perturbation"],
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
