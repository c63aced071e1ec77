"""The demo's data as the seeding uses it: typed, checked records of three nodes of Est Ensemble
(Seine-Saint-Denis), their people, offers and demands, follows, bids, and one agreement carried out and
evaluated. :func:`node.demo.loader.load_demo` builds them from the tables under ``node/demo/data/``.

Everything in them is fictional: names, SIRET numbers (14 digits passing the Luhn check) and the
association are made up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from node.accounts.models import Role
from node.catalog.statuses import ProviderStatus
from node.market.proposals.input import ProposalInput
from node.settings import Mode


@dataclass(frozen=True)
class DemoPerson:
    """An account of one demo node and the profile it fills in."""

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
    """A demo node, its accounts and the proposals its people publish."""

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
class DemoFollow:
    """``follower`` (on node ``follower_node``) follows ``followee`` of another node."""

    follower_node: str
    follower: str
    followee_node: str
    followee: str


@dataclass(frozen=True)
class DemoEvaluation:
    """What ``evaluator`` (on node ``node``), a party to the agreement, says of the other party."""

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


@dataclass(frozen=True)
class DemoData:
    """Everything the demo prepares and seeds, in the order it does so."""

    nodes: tuple[DemoNode, ...]
    follows: tuple[DemoFollow, ...]
    bids: tuple[DemoBid, ...]
    agreement: DemoAgreement

    def proposal_named(self, key: str) -> tuple[DemoNode, DemoProposal]:
        """The demo proposal ``key`` and the node of its author."""
        for node in self.nodes:
            for proposal in node.proposals:
                if proposal.key == key:
                    return node, proposal
        raise KeyError(key)

    def agreed_bid(self) -> DemoBid:
        """The bid that the agreement accepts."""
        return next(
            bid
            for bid in self.bids
            if (bid.proposal, bid.bidder) == (self.agreement.proposal, self.agreement.bidder)
        )
