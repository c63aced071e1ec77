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
COUNT_NOISE = (
    "Cell key method: each count, and the items and people beside it, within 2 of the true one "
    "(-2, -1, 0, +1, +2 with probabilities 5, 20, 50, 20, 5 %); an empty count stays 0."
)
QUANTILE_NOISE = "Not perturbed (values from at least k of them); the count beside it is, as the counts."
MEAN_NOISE = (
    "Quartiles not perturbed; the mean moves by the cell key perturbation (at most 2) over the demands."
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

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "title": self.title,
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
)

BY_NAME = {indicator.name: indicator for indicator in CATALOGUE}


def dictionary(k: int) -> list[dict[str, object]]:
    """The data dictionary of an export: every indicator, with k written into its suppression rule."""
    return [{**i.as_json(), "suppression": i.suppression.replace("k ", f"k = {k} ")} for i in CATALOGUE]


def markdown(k: int = 5) -> str:
    """The data dictionary as the Markdown table of docs/research.md (a test keeps the two equal)."""
    lines = [
        "| indicator | definition | unit | population | breakdown | suppression | perturbation |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in dictionary(k):
        cells = [
            f"`{entry['name']}`",
            entry["definition"],
            entry["unit"],
            entry["population"],
            entry["breakdown"],
            entry["suppression"],
            entry["perturbation"],
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
