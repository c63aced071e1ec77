"""The demo's data, read from its tables under ``node/demo/data/`` and checked before anything uses it.

One TOML file a kind of thing (``nodes``, ``people``, ``proposals``, ``follows``, ``bids``,
``agreements``, ``evaluations``); the comment at the top of each names its columns. Besides the type
of every value, :func:`load_demo` checks what the seeding relies on: known roles, statuses, categories
and weekdays, postal codes that belong to their commune (the gazetteer), valid SIRET numbers, schedules
that make sense, and references that hold (an author is a person of the proposal's node, a bid answers
a proposal of another node, the agreement accepts one of the bids, its evaluations come from its two
parties). A bad value raises :class:`~node.demo.tables.DemoDataError` naming file, row and column.

Nothing is read at import time; each call reads the tables again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal, cast

from node.accounts.models import Role
from node.accounts.service import siret_is_valid, username_problem
from node.catalog.categories import is_category
from node.catalog.statuses import ProviderStatus
from node.demo import columns
from node.demo.specs import (
    DemoAgreement,
    DemoBid,
    DemoData,
    DemoEvaluation,
    DemoFollow,
    DemoNode,
    DemoPerson,
    DemoProposal,
)
from node.demo.tables import DemoDataError, Row, read_table
from node.market.evaluations.reputation import COMMENT_MAX, CRITERIA, SCORE_MAX, SCORE_MIN
from node.market.proposals.input import TITLE_MAX, TITLE_MIN
from node.settings import Mode

__all__ = ["DemoDataError", "load_demo"]

NODE_COLUMNS = ("slug", "name", "territory", "mode")
PERSON_COLUMNS = (
    "node",
    "username",
    "display_name",
    "role",
    "postal_code",
    "commune",
    "bio",
    "offers",
    "requests",
    "provider_status",
    "siret",
    "categories",
)
PROPOSAL_COLUMNS = (
    "key",
    "node",
    "author",
    "purpose",
    "title",
    "description",
    "category",
    "postal_code",
    "commune",
    "hours",
    "price",
    "basis",
    "free",
    "schedule",
    "in_days",
    "days",
    "start",
    "end",
    "weeks",
    "bids_for_days",
)
FOLLOW_COLUMNS = ("follower_node", "follower", "followee_node", "followee")
BID_COLUMNS = ("node", "bidder", "proposal", "amount", "message")
AGREEMENT_COLUMNS = ("proposal", "bidder")
EVALUATION_COLUMNS = ("proposal", "node", "evaluator", "overall", "criteria", "comment")


def _node(row: Row, taken: Collection[str]) -> DemoNode:
    modes = tuple(mode.value for mode in Mode)
    return DemoNode(
        slug=columns.key(row, "slug", taken),
        name=row.text("name"),
        territory=row.text("territory"),
        mode=Mode(columns.choice(row, "mode", modes)),
        people=(),
    )


def _person(row: Row, nodes: Collection[str], taken: Collection[tuple[str, str]]) -> tuple[str, DemoPerson]:
    node = columns.reference(row, "node", nodes, "nodes.toml")
    username = row.text("username")
    problem = username_problem(username)
    row.check(problem is None, "username", f"{username!r}: {problem}")
    row.check((node, username) not in taken, "username", f"{username!r} is already a person of {node!r}")
    postal_code, commune = columns.place(row)
    status = ProviderStatus(
        columns.choice(row, "provider_status", tuple(s.value for s in ProviderStatus), "none")
    )
    siret = row.text("siret", "")
    row.check(
        siret == "" or siret_is_valid(siret), "siret", f"{siret!r} is not a SIRET number (14 digits, Luhn)"
    )
    row.check(
        siret != "" or status is not ProviderStatus.SELF_EMPLOYED,
        "siret",
        "missing; a self-employed provider needs a SIRET number",
    )
    offers = row.flag("offers", False)
    categories = row.texts("categories")
    for slug in categories:
        row.check(is_category(slug), "categories", f"{slug!r} is not a service category")
    row.check(offers or not categories, "categories", "only for people who offer services (offers = true)")
    person = DemoPerson(
        username=username,
        display_name=row.text("display_name"),
        role=Role(columns.choice(row, "role", tuple(role.value for role in Role))),
        postal_code=postal_code,
        commune=commune,
        bio=row.text("bio"),
        offers=offers,
        requests=row.flag("requests", True),
        provider_status=status,
        siret=siret,
        categories=categories,
    )
    return node, person


def _proposal(
    row: Row, nodes: Mapping[str, DemoNode], people: Collection[tuple[str, str]], taken: Collection[str]
) -> tuple[str, DemoProposal]:
    key = columns.key(row, "key", taken)
    node = columns.reference(row, "node", nodes, "nodes.toml")
    _, author = columns.person_of(row, "node", "author", people)
    purpose = cast(Literal["offer", "request"], columns.choice(row, "purpose", ("offer", "request")))
    title = row.text("title")
    row.check(TITLE_MIN <= len(title) <= TITLE_MAX, "title", f"from {TITLE_MIN} to {TITLE_MAX} characters")
    category = row.text("category")
    row.check(is_category(category), "category", f"{category!r} is not a service category")
    postal_code, commune = columns.place(row)
    price = columns.amount(row, "price", "")
    free = row.flag("free", False)
    row.check(not (free and price), "price", "a free service has no price; leave out one of the two")
    when = columns.schedule(row)
    bids_for_days: int | None = None
    if row.has("bids_for_days"):
        bids_for_days = row.integer("bids_for_days")
        row.check(bids_for_days >= 1, "bids_for_days", f"{bids_for_days}: one day or more")
        row.check(
            purpose == "request" and nodes[node].mode is Mode.MARKET,
            "bids_for_days",
            "only demands on market nodes are open to bids until a deadline",
        )
        row.check(
            when is None or bids_for_days < when.in_days,
            "bids_for_days",
            f"{bids_for_days}: the bidding must close before the service starts (in_days = "
            f"{when.in_days if when else ''})",
        )
    proposal = DemoProposal(
        key=key,
        author=author,
        purpose=purpose,
        title=title,
        description=row.text("description"),
        category=category,
        postal_code=postal_code,
        commune=commune,
        hours=columns.amount(row, "hours"),
        price=price,
        basis=cast(
            Literal["per_hour", "total"], columns.choice(row, "basis", ("per_hour", "total"), "per_hour")
        ),
        free=free,
        schedule=when,
        bids_for_days=bids_for_days,
    )
    return node, proposal


def _follow(row: Row, people: Collection[tuple[str, str]], taken: Collection[DemoFollow]) -> DemoFollow:
    follower = columns.person_of(row, "follower_node", "follower", people)
    followee = columns.person_of(row, "followee_node", "followee", people)
    row.check(follower[0] != followee[0], "followee_node", "a follow joins people of two different nodes")
    follow = DemoFollow(*follower, *followee)
    row.check(follow not in taken, None, "the same follow is already in another row")
    return follow


def _bid(
    row: Row,
    people: Collection[tuple[str, str]],
    proposals: Mapping[str, tuple[str, DemoProposal]],
    taken: Collection[DemoBid],
) -> DemoBid:
    node, bidder = columns.person_of(row, "node", "bidder", people)
    proposal = columns.reference(row, "proposal", proposals, "proposals.toml")
    author_node = proposals[proposal][0]
    row.check(author_node != node, "proposal", f"{proposal!r} is of the bidder's own node, {node!r}")
    row.check(
        all((bid.node, bid.bidder, bid.proposal) != (node, bidder, proposal) for bid in taken),
        None,
        f"{bidder!r} of {node!r} already answers {proposal!r} in another row",
    )
    return DemoBid(
        node, bidder, proposal, amount=columns.amount(row, "amount", ""), message=row.text("message", "")
    )


def _agreement(rows: list[Row], file: str, bids: Collection[DemoBid]) -> DemoBid:
    """The bid that the single row of agreements.toml accepts."""
    if len(rows) != 1:
        raise DemoDataError(f"{file}: {len(rows)} rows; the seeding makes exactly one agreement")
    row = rows[0]
    proposal = columns.reference(
        row, "proposal", {bid.proposal for bid in bids}, "the proposals of bids.toml"
    )
    bidder = row.text("bidder")
    accepted = [bid for bid in bids if (bid.proposal, bid.bidder) == (proposal, bidder)]
    row.check(len(accepted) > 0, "bidder", f"{bidder!r} has no bid on {proposal!r} in bids.toml")
    row.check(len(accepted) == 1, "bidder", f"{bidder!r} names bids of several nodes on {proposal!r}")
    return accepted[0]


def _evaluation(
    row: Row,
    people: Collection[tuple[str, str]],
    accepted: DemoBid,
    author: tuple[str, str],
    purpose: str,
    taken: Collection[DemoEvaluation],
) -> DemoEvaluation:
    row.check(
        row.text("proposal") == accepted.proposal,
        "proposal",
        f"{row.text('proposal')!r} is not the proposal of the agreement, {accepted.proposal!r}",
    )
    evaluator = columns.person_of(row, "node", "evaluator", people)
    bidder = (accepted.node, accepted.bidder)
    row.check(
        evaluator in (author, bidder),
        "evaluator",
        f"{evaluator[1]!r} of {evaluator[0]!r} is not a party to the agreement (the author {author[1]!r} "
        f"of {author[0]!r}, the bidder {bidder[1]!r} of {bidder[0]!r})",
    )
    row.check(
        all((done.node, done.evaluator) != evaluator for done in taken),
        "evaluator",
        f"{evaluator[1]!r} already evaluates in another row",
    )
    # The author of a demand is the requester, and evaluates the bidder who provides; for an offer, the
    # other way round.
    rates_provider = (evaluator == author) == (purpose == "request")
    allowed = CRITERIA["provider" if rates_provider else "requester"]
    overall = row.integer("overall")
    row.check(SCORE_MIN <= overall <= SCORE_MAX, "overall", f"{overall}: from {SCORE_MIN} to {SCORE_MAX}")
    criteria = row.scores("criteria")
    for name, score in criteria.items():
        row.check(
            name in allowed,
            "criteria",
            f"{name!r} is not a criterion for rating a {'provider' if rates_provider else 'requester'} "
            f"({', '.join(allowed)})",
        )
        row.check(SCORE_MIN <= score <= SCORE_MAX, "criteria", f"{name} = {score}: from 1 to 5")
    comment = row.text("comment")
    row.check(len(comment) <= COMMENT_MAX, "comment", f"at most {COMMENT_MAX} characters")
    return DemoEvaluation(*evaluator, overall=overall, criteria=criteria, comment=comment)


def data_folder() -> Traversable:
    """Where the demo's tables ship: ``node/demo/data/`` inside the package."""
    return resources.files("node.demo").joinpath("data")


def load_demo(folder: Traversable | Path | None = None) -> DemoData:
    """Read and check the demo's tables from ``folder`` (default :func:`data_folder`)."""
    where = data_folder() if folder is None else folder

    def rows(file: str, name: str, columns: tuple[str, ...]) -> list[Row]:
        return read_table(where, file, name, columns)

    nodes: dict[str, DemoNode] = {}
    for row in rows("nodes.toml", "node", NODE_COLUMNS):
        node = _node(row, nodes)
        nodes[node.slug] = node
    people: dict[tuple[str, str], DemoPerson] = {}  # by (node, username), in the order of the table
    for row in rows("people.toml", "person", PERSON_COLUMNS):
        slug, person = _person(row, nodes, people)
        people[slug, person.username] = person
    proposals: dict[str, tuple[str, DemoProposal]] = {}  # by key: the author's node and the proposal
    for row in rows("proposals.toml", "proposal", PROPOSAL_COLUMNS):
        slug, proposal = _proposal(row, nodes, people, proposals)
        proposals[proposal.key] = slug, proposal
    follows: list[DemoFollow] = []
    for row in rows("follows.toml", "follow", FOLLOW_COLUMNS):
        follows.append(_follow(row, people, follows))
    bids: list[DemoBid] = []
    for row in rows("bids.toml", "bid", BID_COLUMNS):
        bids.append(_bid(row, people, proposals, bids))
    agreements = rows("agreements.toml", "agreement", AGREEMENT_COLUMNS)
    agreed = _agreement(agreements, str(where.joinpath("agreements.toml")), bids)
    author_node, proposal = proposals[agreed.proposal]
    evaluations: list[DemoEvaluation] = []
    for row in rows("evaluations.toml", "evaluation", EVALUATION_COLUMNS):
        evaluations.append(
            _evaluation(row, people, agreed, (author_node, proposal.author), proposal.purpose, evaluations)
        )
    return DemoData(
        nodes=tuple(
            replace(
                node,
                people=tuple(person for (owner, _), person in people.items() if owner == slug),
                proposals=tuple(proposal for owner, proposal in proposals.values() if owner == slug),
            )
            for slug, node in nodes.items()
        ),
        follows=tuple(follows),
        bids=tuple(bids),
        agreement=DemoAgreement(agreed.proposal, agreed.bidder, tuple(evaluations)),
    )
