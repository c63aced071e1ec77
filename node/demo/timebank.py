"""Seeding the demo's time bank, once the marketplace is seeded: the cooperative node's transfers
(``data/timebank.toml``: a grant, gifts) and its agreements priced in tokens
(``data/timebank_agreements.toml``: answered, accepted, confirmed by both, then paid by the node's
timebank job), through the real services. Skipped when the node already has gifts (a second run)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from node.accounts.models import User
from node.demo.loader import data_folder
from node.demo.seeding import LiveNode
from node.demo.specs import DemoData
from node.demo.tables import DemoDataError, Row, read_table
from node.market.agreements import service as agreements
from node.market.bids import service as bids
from node.market.bids.service import BidInput
from node.market.models import Agreement, Proposal
from node.timebank import transfers
from node.timebank.models import Transfer
from node.timebank.policy import Policy

Say = Callable[[str], None]
KINDS = ("gift", "grant", "levy")


@dataclass(frozen=True)
class DemoTransfer:
    node: str
    kind: str
    by: str
    to: str
    hours: str
    message: str


@dataclass(frozen=True)
class DemoTokenAgreement:
    proposal: str
    provider: str


def _transfer(row: Row) -> DemoTransfer:
    kind = row.text("kind")
    row.check(kind in KINDS, "kind", f"must be one of {', '.join(KINDS)}")
    message = row.text("message", "")
    row.check(kind == "gift" or bool(message), "message", "a grant or a levy needs its reason")
    return DemoTransfer(row.text("node"), kind, row.text("by"), row.text("to"), row.text("hours"), message)


def load_timebank() -> tuple[list[DemoTransfer], list[DemoTokenAgreement]]:
    """The two tables, checked (a mistake is a :class:`DemoDataError` naming file, row and column)."""
    folder = data_folder()
    moves = [
        _transfer(row)
        for row in read_table(
            folder, "timebank.toml", "transfer", ("node", "kind", "by", "to", "hours", "message")
        )
    ]
    deals = [
        DemoTokenAgreement(row.text("proposal"), row.text("provider"))
        for row in read_table(folder, "timebank_agreements.toml", "agreement", ("proposal", "provider"))
    ]
    return moves, deals


def _user(session: Session, username: str) -> User:
    found = session.exec(select(User).where(User.username == username)).first()
    if found is None:
        raise DemoDataError(f"no demo person {username!r} on this node")
    return found


def _seeded(session: Session) -> bool:
    return bool(session.exec(select(func.count()).select_from(Transfer).where(Transfer.kind == "gift")).one())


def _move(session: Session, node: LiveNode, spec: DemoTransfer) -> None:
    settings, by = node.settings, _user(session, spec.by)
    if spec.kind == "gift":
        transfers.give(session, settings, by, spec.to, spec.hours, spec.message, confirm=True)
    else:
        action = transfers.grant if spec.kind == "grant" else transfers.levy
        action(session, settings, by, spec.to, spec.hours, spec.message)


def _agree(session: Session, node: LiveNode, title: str, spec: DemoTokenAgreement) -> int:
    settings = node.settings
    proposal = session.exec(select(Proposal).where(Proposal.title == title, Proposal.origin == "")).first()
    if proposal is None or proposal.price_amount is None:
        raise DemoDataError(f"the demand {spec.proposal!r} is not published on this node")
    provider = _user(session, spec.provider)
    bid = bids.place_bid(
        settings, provider, proposal, BidInput(amount=str(proposal.price_amount)), session=session
    )
    requester = _user(session, proposal.author_uri.rsplit("/", 1)[1])
    agreement = bids.accept_bid(settings, requester, bid, session=session)
    agreements.confirm_completion(settings, provider, agreement, session=session)
    agreements.confirm_completion(settings, requester, agreement, session=session)
    return agreement.id or 0


def _paid(session: Session, agreement_ids: Sequence[int]) -> bool:
    ap_ids = session.exec(select(Agreement.ap_id).where(col(Agreement.id).in_(list(agreement_ids)))).all()
    settled = session.exec(
        select(func.count())
        .select_from(Transfer)
        .where(col(Transfer.agreement_ap_id).in_(ap_ids), Transfer.state == "settled")
    ).one()
    return settled == len(ap_ids)


async def seed_timebank(demo: DemoData, nodes: Sequence[LiveNode], say: Say) -> bool:
    """Seed what the tables say on the cooperative nodes of ``demo``. False (with a line saying why)
    when something fails; the nodes keep serving."""
    try:
        moves, deals = load_timebank()
        by_slug = {node.spec.slug: node for node in nodes}
        for slug, node in by_slug.items():
            if not Policy.of(node.settings).enabled:
                continue
            if await node.read(_seeded):
                return True
            for spec in (m for m in moves if m.node == slug):
                await node.write(_move, node, spec)
            made = []
            for deal in deals:
                where, proposal = demo.proposal_named(deal.proposal)
                title = proposal.title
                if where.slug == slug:
                    made.append(await node.write(_agree, node, title, deal))
            for _ in range(120):
                if await node.read(_paid, made):
                    break
                await asyncio.sleep(0.5)
            else:
                say("  ✗ banque de temps : paiement pas fait à temps / time bank: payment not made in time")
                return False
            say(
                f"  ✓ banque de temps / time bank ({len(moves)} transferts, "
                f"{len(made)} accord payé en heures / agreement paid in hours)"
            )
        return True
    except (DemoDataError, KeyError) as exc:
        say(f"  ✗ banque de temps / time bank: {exc}")
        return False
    except Exception as exc:  # noqa: BLE001 - the nodes keep serving whatever went wrong
        say(f"  ✗ banque de temps / time bank: {exc!r}")
        return False
