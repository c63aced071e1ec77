"""Seeding the demo's marketplace once its three nodes serve, through the real services so that
everything federates and every node ends consistent.

In order, each step waiting until the federation has carried it:

1. each node's actor follows the two others, and a few residents follow residents of other nodes;
2. the offers and demands of the demo's tables (:mod:`node.demo.loader`) are published
   (``proposals.create``), in turns from the three nodes, and reach the two other nodes;
3. people answer proposals of other nodes (``bids.place_bid`` on the remote proposal rows): the bids
   reach the authors' nodes;
4. one bid is accepted (``bids.accept_bid`` on the author's node, which rejects the others on that
   demand): the agreement is mirrored on the bidder's node and every bid reads the same on both sides;
5. both parties confirm the service (``agreements.confirm_completion``): completed on both nodes;
6. both evaluate (``evaluations.submit``): both evaluations are published on the three nodes.

Every step skips what is already there, so a seeding cut short (Ctrl-C, time limit) carries on from
where it stopped the next time the demo starts.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Concatenate, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.activitypub.actors import local
from node.activitypub.actors.remote import RemoteActorError, RemoteActors
from node.activitypub.models import FollowState
from node.activitypub.social import follows
from node.activitypub.transport.fetch import RemoteError
from node.core.db import session_scope
from node.core.errors import DomainError
from node.demo.specs import DemoBid, DemoData, DemoEvaluation, DemoNode, DemoProposal
from node.market.agreements import service as agreements
from node.market.agreements.parties import confirmed_at, party_of
from node.market.bids import service as bids
from node.market.evaluations import service as evaluations
from node.market.lifecycles import AgreementState, EvaluationState
from node.market.models import Agreement, Bid, Evaluation, Proposal
from node.market.proposals import service as proposals
from node.settings import Settings

log = logging.getLogger("asasap.demo")
P = ParamSpec("P")
T = TypeVar("T")
Say = Callable[[str], None]

SEED_TIMEOUT = 60.0
POLL_SECONDS = 0.25
PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class LiveNode:
    """A demo node while it serves: its data and the remote-actor cache of its application."""

    spec: DemoNode
    settings: Settings
    engine: Engine
    remote: RemoteActors

    async def read(self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(session, ...)`` in a read transaction, in a thread (the servers share this loop)."""
        return await asyncio.to_thread(
            self._in_session, False, lambda session: work(session, *args, **kwargs)
        )

    async def write(self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(session, ...)`` in a write transaction, in a thread."""
        return await asyncio.to_thread(self._in_session, True, lambda session: work(session, *args, **kwargs))

    def _in_session(self, write: bool, work: Callable[[Session], T]) -> T:
        with session_scope(self.engine, write=write) as session:
            return work(session)

    def person_uri(self, username: str) -> str:
        return self.settings.url(f"/users/{username}")


@dataclass
class _Progress:
    """What the seeding did so far: the step in progress and the ids it will need later."""

    step: str = ""
    proposals: dict[str, str] = field(default_factory=dict)  # demo key -> ActivityPub id
    bids: dict[DemoBid, str] = field(default_factory=dict)  # demo bid -> ActivityPub id of its Offer
    agreement: str = ""


# --- reading and writing one node (each runs in one transaction) ---------------------------------------


def _user(username: str, *, session: Session) -> User:
    user = session.exec(select(User).where(col(User.username) == username)).first()
    if user is None:
        raise LookupError(f"no demo account {username!r}")
    return user


def _actor(settings: Settings, username: str | None, *, session: Session) -> local.LocalActor:
    return (
        local.node_actor(settings)
        if username is None
        else local.person(settings, _user(username, session=session))
    )


def _follow_state(follower: str, followee: str, *, session: Session) -> str | None:
    row = follows.find_follow(follower, followee, session=session)
    return row.state if row is not None else None


def _publish(settings: Settings, spec: DemoProposal, today: date, *, session: Session) -> str:
    """Publish ``spec`` unless its author already did; its ActivityPub id."""
    author = _user(spec.author, session=session)
    existing = session.exec(
        select(Proposal.ap_id).where(
            col(Proposal.origin) == "",
            col(Proposal.local_author_id) == author.id,
            col(Proposal.title) == spec.title,
        )
    ).first()
    if existing is not None:
        return existing
    return proposals.create(settings, author, spec.as_input(today), session=session).ap_id


def _count_known(
    model: type[Proposal] | type[Bid] | type[Agreement], ap_ids: list[str], *, session: Session
) -> int:
    found = session.exec(select(func.count()).select_from(model).where(col(model.ap_id).in_(ap_ids))).one()
    return int(found)


def _place(settings: Settings, spec: DemoBid, proposal_ap_id: str, *, session: Session) -> str:
    """``spec.bidder`` answers the remote proposal unless they already did; the bid's id."""
    bidder = _user(spec.bidder, session=session)
    proposal = bids.proposal_by_ap_id(proposal_ap_id, session=session)
    existing = session.exec(
        select(Bid.ap_id).where(col(Bid.proposal_id) == proposal.id, col(Bid.local_bidder_id) == bidder.id)
    ).first()
    if existing is not None:
        return existing
    data = bids.BidInput(amount=spec.amount or None, message=spec.message)
    return bids.place_bid(settings, bidder, proposal, data, session=session).ap_id


def _bid_state(ap_id: str, *, session: Session) -> str | None:
    return session.exec(select(Bid.state).where(col(Bid.ap_id) == ap_id)).first()


def _accept(settings: Settings, author: str, bid_ap_id: str, *, session: Session) -> str:
    """The proposal's author accepts the bid unless done already; the agreement's id."""
    bid = session.exec(select(Bid).where(col(Bid.ap_id) == bid_ap_id)).one()
    made = session.exec(select(Agreement.ap_id).where(col(Agreement.bid_id) == bid.id)).first()
    if made is not None:
        return made
    return bids.accept_bid(settings, _user(author, session=session), bid, session=session).ap_id


def _agreement_state(ap_id: str, *, session: Session) -> str | None:
    return session.exec(select(Agreement.state).where(col(Agreement.ap_id) == ap_id)).first()


def _confirm(settings: Settings, username: str, ap_id: str, *, session: Session) -> None:
    party = _user(username, session=session)
    agreement = session.exec(select(Agreement).where(col(Agreement.ap_id) == ap_id)).one()
    if confirmed_at(agreement, party_of(settings, party, agreement)[1]) is None:
        agreements.confirm_completion(settings, party, agreement, session=session)


def _evaluate(settings: Settings, spec: DemoEvaluation, ap_id: str, *, session: Session) -> None:
    evaluator = _user(spec.evaluator, session=session)
    agreement = session.exec(select(Agreement).where(col(Agreement.ap_id) == ap_id)).one()
    done = session.exec(
        select(Evaluation.id).where(
            col(Evaluation.agreement_ap_id) == ap_id,
            col(Evaluation.evaluator_uri) == local.person(settings, evaluator).uri,
        )
    ).first()
    if done is None:
        data = evaluations.EvaluationInput(spec.overall, spec.criteria, spec.comment)
        evaluations.submit(settings, evaluator, agreement, data, session=session)


def _published(agreement_ap_id: str, *, session: Session) -> int:
    found = session.exec(
        select(func.count())
        .select_from(Evaluation)
        .where(
            col(Evaluation.agreement_ap_id) == agreement_ap_id,
            col(Evaluation.state) == EvaluationState.PUBLISHED.value,
        )
    ).one()
    return int(found)


# --- the steps -------------------------------------------------------------------------------------------


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait until ``check()`` holds (the caller bounds the time)."""
    while not await check():
        await asyncio.sleep(POLL_SECONDS)


async def _follow(node: LiveNode, username: str | None, target_uri: str) -> tuple[LiveNode, str, str]:
    """``username`` (None: the node actor) of ``node`` follows ``target_uri``, unless already asked."""
    actor = await node.read(lambda session: _actor(node.settings, username, session=session))
    state = await node.read(lambda session: _follow_state(actor.uri, target_uri, session=session))
    if state in (None, FollowState.REJECTED.value):
        target = await node.remote.get_actor(target_uri)
        await node.write(
            lambda session: follows.follow(node.settings, follower=actor, target=target, session=session)
        )
    return node, actor.uri, target_uri


async def _follow_each_other(demo: DemoData, nodes: Mapping[str, LiveNode], progress: _Progress) -> str:
    follows = [
        await _follow(node, None, other.settings.url(local.NODE_ACTOR_PATH))
        for node, other in itertools.permutations(nodes.values(), 2)
    ]
    for spec in demo.follows:
        followee = nodes[spec.followee_node].person_uri(spec.followee)
        follows.append(await _follow(nodes[spec.follower_node], spec.follower, followee))

    async def accepted() -> bool:
        for node, follower, followee in follows:
            if (
                await node.read(lambda session: _follow_state(follower, followee, session=session))  # noqa: B023 - awaited in this iteration
                != FollowState.ACCEPTED.value
            ):
                return False
        return True

    await _until(accepted)
    return f"{len(follows)}"


async def _publish_proposals(demo: DemoData, nodes: Mapping[str, LiveNode], progress: _Progress) -> str:
    today = datetime.now(PARIS).date()
    # In turns from the three nodes, so that the newest first lists mix them.
    queues = [[(node, spec) for spec in node.spec.proposals] for node in nodes.values()]
    for turn in itertools.zip_longest(*queues):
        for entry in turn:
            if entry is not None:
                node, spec = entry
                progress.proposals[spec.key] = await node.write(
                    lambda session: _publish(node.settings, spec, today, session=session)  # noqa: B023 - awaited in this iteration
                )
    expected = {
        node.spec.slug: [progress.proposals[p.key] for p in node.spec.proposals] for node in nodes.values()
    }

    async def received() -> bool:
        for node in nodes.values():
            others = [ap_id for slug, ids in expected.items() if slug != node.spec.slug for ap_id in ids]
            if await node.read(lambda session: _count_known(Proposal, others, session=session)) < len(others):  # noqa: B023 - awaited in this iteration
                return False
        return True

    await _until(received)
    return f"{len(progress.proposals)}"


async def _place_bids(demo: DemoData, nodes: Mapping[str, LiveNode], progress: _Progress) -> str:
    for spec in demo.bids:
        bidder = nodes[spec.node]
        progress.bids[spec] = await bidder.write(
            lambda session: _place(bidder.settings, spec, progress.proposals[spec.proposal], session=session)  # noqa: B023 - awaited in this iteration
        )

    async def received() -> bool:
        for spec, ap_id in progress.bids.items():
            if (
                await _author_node(demo, nodes, spec.proposal).read(
                    lambda session: _count_known(Bid, [ap_id], session=session)  # noqa: B023 - awaited in this iteration
                )
                == 0
            ):
                return False
        return True

    await _until(received)
    return f"{len(progress.bids)}"


def _author_node(demo: DemoData, nodes: Mapping[str, LiveNode], proposal_key: str) -> LiveNode:
    return nodes[demo.proposal_named(proposal_key)[0].slug]


def _parties(demo: DemoData, nodes: Mapping[str, LiveNode]) -> tuple[LiveNode, str, LiveNode, str]:
    """The node holding the demo agreement and the proposal's author; the mirror's node and the bidder."""
    agreed = demo.agreed_bid()
    author = demo.proposal_named(agreed.proposal)[1].author
    return _author_node(demo, nodes, agreed.proposal), author, nodes[agreed.node], agreed.bidder


async def _accept_one_bid(demo: DemoData, nodes: Mapping[str, LiveNode], progress: _Progress) -> str:
    holder, author, mirror, _ = _parties(demo, nodes)
    progress.agreement = await holder.write(
        lambda session: _accept(holder.settings, author, progress.bids[demo.agreed_bid()], session=session)
    )

    async def consistent() -> bool:
        if await mirror.read(lambda session: _agreement_state(progress.agreement, session=session)) is None:
            return False
        for spec, ap_id in progress.bids.items():
            on_author_node = await _author_node(demo, nodes, spec.proposal).read(
                lambda session: _bid_state(ap_id, session=session)  # noqa: B023 - awaited in this iteration
            )
            if (
                await nodes[spec.node].read(lambda session: _bid_state(ap_id, session=session))  # noqa: B023 - awaited in this iteration
                != on_author_node
            ):
                return False
        return True

    await _until(consistent)
    return ""


async def _confirm_service(demo: DemoData, nodes: Mapping[str, LiveNode], progress: _Progress) -> str:
    holder, author, mirror, bidder = _parties(demo, nodes)
    ap_id = progress.agreement
    await holder.write(lambda session: _confirm(holder.settings, author, ap_id, session=session))

    async def mirrored() -> bool:
        done = (AgreementState.CONFIRMED_BY_ONE.value, AgreementState.COMPLETED.value)
        return await mirror.read(lambda session: _agreement_state(ap_id, session=session)) in done

    await _until(mirrored)
    await mirror.write(lambda session: _confirm(mirror.settings, bidder, ap_id, session=session))

    async def completed() -> bool:
        states = [
            await node.read(lambda session: _agreement_state(ap_id, session=session))
            for node in (holder, mirror)
        ]
        return states == [AgreementState.COMPLETED.value] * 2

    await _until(completed)
    return ""


async def _evaluate_each_other(demo: DemoData, nodes: Mapping[str, LiveNode], progress: _Progress) -> str:
    for spec in demo.agreement.evaluations:
        node = nodes[spec.node]
        await node.write(lambda session: _evaluate(node.settings, spec, progress.agreement, session=session))  # noqa: B023 - awaited in this iteration
    expected = len(demo.agreement.evaluations)

    async def published() -> bool:
        return all(
            [
                await node.read(lambda session: _published(progress.agreement, session=session)) == expected
                for node in nodes.values()
            ]
        )

    await _until(published)
    return ""


Step = Callable[[DemoData, Mapping[str, LiveNode], _Progress], Awaitable[str]]

STEPS: tuple[tuple[str, Step], ...] = (
    (
        "les nœuds et quelques habitants se suivent / nodes and some residents follow each other",
        _follow_each_other,
    ),
    (
        "offres et demandes publiées et reçues partout / offers and demands published and received",
        _publish_proposals,
    ),
    ("réponses envoyées à d'autres nœuds / bids sent to other nodes", _place_bids),
    ("une réponse acceptée, accord conclu / one bid accepted, agreement made", _accept_one_bid),
    ("service confirmé par les deux parties / service confirmed by both parties", _confirm_service),
    (
        "évaluations publiées sur les trois nœuds / evaluations published on the three nodes",
        _evaluate_each_other,
    ),
)


async def seed_marketplace(
    demo: DemoData, nodes: Sequence[LiveNode], say: Say, *, timeout: float = SEED_TIMEOUT
) -> bool:
    """Run the steps on ``demo``'s data, printing one line per step; False (with a line saying why) when
    a step fails or the whole takes longer than ``timeout`` seconds. The nodes keep serving either way."""
    by_slug = {node.spec.slug: node for node in nodes}
    progress = _Progress()

    async def run() -> None:
        for label, step in STEPS:
            progress.step = label
            began = time.monotonic()
            count = await step(demo, by_slug, progress)
            say(f"  ✓ {label}{f' ({count})' if count else ''} — {time.monotonic() - began:.1f} s")

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.CancelledError:
        say(
            f"  ✗ {progress.step}: interrompu / interrupted.\n"
            "    La préparation reprendra au prochain lancement / seeding carries on at the next start."
        )
        raise
    except TimeoutError:
        say(
            f"  ✗ {progress.step}: pas terminé en {timeout:.0f} s / not done within {timeout:.0f} s.\n"
            "    Les nœuds restent en service ; relancez la démo pour reprendre la préparation "
            "(ou --reset pour repartir de zéro).\n"
            "    The nodes keep serving; start the demo again to carry on seeding (or --reset to start over)."
        )
        return False
    except (DomainError, RemoteError, RemoteActorError, LookupError) as exc:
        reason = exc.message if isinstance(exc, DomainError) else str(exc)
        say(f"  ✗ {progress.step}: échec / failed: {reason}")
        return False
    except Exception as exc:  # noqa: BLE001 - the nodes keep serving whatever went wrong
        log.exception("seeding the demo failed")
        say(f"  ✗ {progress.step}: échec / failed: {exc!r}")
        return False
    return True
