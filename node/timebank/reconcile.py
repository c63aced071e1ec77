"""Reconciliation of a clearing account with the peer node's mirror of it.

Each node states, about its clearing account with the other: its balance, its settled transfers grouped
in 256 digests (by the first byte of the SHA-256 of the transfer id; a digest covers the settled
transfers of its group, each as ``id|payer's node|amount``: kept up to date as they settle in version 2,
see :mod:`node.timebank.statements` and :mod:`node.timebank.digests`), and every transfer since the last
agreed point still open (waiting for an answer, or refused). A node asks its peer for the peer's
statement with a signed GET of ``/timebank/clearing/{its own domain}`` (answered only to a key of that
domain); the statement is signed by the peer's node actor (RSA PKCS#1 v1.5 SHA-256 over the
statement without its ``proof``, keys sorted, no white space: RFC 8785 for the strings and integers it
holds) and carries the asker's nonce, so an old statement cannot be played again and a statement
signed by another key is refused. The groups whose digests differ are then asked for in full, and only
those are read here.

The comparison (:func:`compare`) lists every difference with the transfers that explain it, and the
repairs this node can make from the peer's signed word:

- a transfer of ours held here and applied by the peer (its ``Accept`` lost): applied here;
- a transfer of ours held here that the peer refused for good: its hold released;
- a transfer of ours held here that the peer never heard of: offered again at once;
- a transfer of the peer's it still holds, applied or refused here: our answer sent again;
- a transfer of the peer's it holds that we never received: decided now, as if its ``Offer`` came.

Anything else (a transfer settled on one side only, different amounts, balances that differ without a
transfer to explain it) is reported, never changed. When nothing is open and nothing differs, the two
nodes agree: the point moves to a little before now (clocks may differ), and the next statements only
cover what came after.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from node.activitypub import addressing
from node.core.db import session_scope
from node.core.timeutil import isoformat, utcnow
from node.market.schedule import parse_instant
from node.settings import Settings
from node.timebank import accounts, digests, exchange, statements, vocab
from node.timebank.models import Transfer
from node.timebank.policy import to_hours
from node.timebank.statements import (
    ALGORITHM,
    PENDING,
    SETTLED,
    Line,
    StatementRefused,
    canonical,
    check_proof,
    sign,
    statement,
    statement_url,
)

__all__ = [
    "ALGORITHM",
    "StatementRefused",
    "canonical",
    "check_proof",
    "reconcile",
    "sign",
    "statement",
    "statement_url",
]

AGREEMENT_MARGIN = timedelta(minutes=10)  # how far before now an agreed point is set
BUCKET_CHUNK = 12  # groups asked for at once: in 100,000 transfers, about 4,700 in short, 600 KB
NOTHING_APPLIED = frozenset({"absent", "waiting", "refused"})


# --- comparison and repair -------------------------------------------------------------------------


@dataclass
class Difference:
    transfer: str
    ours: str  # our state, or "absent"
    theirs: str
    amount: int
    repair: str  # what was done, or "" when it is only reported

    def to_json(self) -> dict[str, Any]:
        return {
            "transfer": self.transfer,
            "ours": self.ours,
            "theirs": self.theirs,
            "hours": str(to_hours(self.amount)),
            "repair": self.repair,
        }


@dataclass
class Report:
    peer: str
    balance: int = 0
    peer_balance: int = 0
    since: datetime | None = None
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    agreed: bool = False

    @property
    def mirrored(self) -> bool:
        return self.balance == -self.peer_balance

    def to_json(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "balance": str(to_hours(self.balance)),
            "peer_balance": str(to_hours(self.peer_balance)),
            "mirrored": self.mirrored,
            "since": isoformat(self.since),
            "transfers_compared": self.compared,
            "differences": [d.to_json() for d in self.differences],
            "agreed": self.agreed,
        }


Fetch = Callable[[str], Awaitable[Mapping[str, Any]]]
KeyOf = Callable[[str], Awaitable[tuple[str, str]]]


async def _peer_statement(
    fetch: Fetch,
    key_of: KeyOf,
    peer_origin: str,
    ours: str,
    since: datetime | None,
    buckets: Iterable[str] = (),
    version: int = digests.VERSION,
) -> Mapping[str, Any]:
    nonce = secrets.token_urlsafe(16)
    document = await fetch(statement_url(peer_origin, ours, since, nonce, buckets, version))
    author = document.get("attributedTo")
    if not isinstance(author, str) or addressing.origin(author) != peer_origin:
        raise StatementRefused("the statement is not the peer's")
    check_proof(document, peer_origin=peer_origin, nonce=nonce, actor_key=await key_of(author))
    return document


def _lines_of(document: Mapping[str, Any], name: str) -> list[Line]:
    value = document.get(name, [])
    if not isinstance(value, list):
        raise StatementRefused(f"the statement's {name} is not a list")
    return [Line.from_json(item) for item in value]


async def reconcile(
    settings: Settings, engine: Engine, peer: str, peer_origin: str, fetch: Fetch, key_of: KeyOf
) -> Report:
    """Compare with ``peer``'s signed statement, repair what can be, report the rest (module docs)."""
    ours = settings.domain
    with session_scope(engine) as session:
        account = accounts.find_clearing(session, peer)
        since = account.agreed_until if account is not None else None
    theirs = await _peer_statement(fetch, key_of, peer_origin, ours, since)
    their_digests = theirs.get("digests", {})
    if not isinstance(their_digests, Mapping):
        raise StatementRefused("the statement's digests are not an object")
    # A peer that does not keep its digests (version 1) states those of the transfers since the point.
    version = digests.VERSION if theirs.get("digestVersion") == digests.VERSION else 1
    with session_scope(engine) as session:
        if version == 1:
            mine = {line.uri: line for line in statements.lines(session, settings, peer, since)}
            my_digests = statements.digests_v1(mine.values())
        else:
            my_digests = statements.digests_of(session, settings, peer)
    differing = {b for b in set(my_digests) | set(their_digests) if my_digests.get(b) != their_digests.get(b)}
    if version > 1:  # only the transfers still open and those of the groups that differ
        with session_scope(engine) as session:
            found = statements.open_lines(session, settings, peer, since)
            found += statements.bucket_lines(session, settings, peer, differing) if differing else []
        mine = {line.uri: line for line in found}
    their_lines = {line.uri: line for line in _lines_of(theirs, "open")}
    chunks = sorted(differing)
    for start in range(0, len(chunks), BUCKET_CHUNK):
        detail = await _peer_statement(
            fetch, key_of, peer_origin, ours, since, chunks[start : start + BUCKET_CHUNK], version
        )
        their_lines.update({line.uri: line for line in _lines_of(detail, "transfers")})
    peer_balance = theirs.get("balance")
    if not isinstance(peer_balance, int) or isinstance(peer_balance, bool):
        raise StatementRefused("the statement's balance is not an integer")
    with session_scope(engine, write=True) as session:
        report = _compare_and_repair(
            session, settings, peer, since, mine, their_lines, differing, peer_balance, theirs
        )
        if version > 1:  # every settled transfer, as the digests count them, and the open ones
            settled = sum(int(text.split(":")[0]) for text in my_digests.values())
            report.compared = settled + sum(1 for line in mine.values() if line.state != SETTLED)
    return report


def _compare_and_repair(
    session: Session,
    settings: Settings,
    peer: str,
    since: datetime | None,
    mine_lines: dict[str, Line],
    their_lines: dict[str, Line],
    differing: set[str],
    peer_balance: int,
    their_document: Mapping[str, Any],
) -> Report:
    now = utcnow()
    account = accounts.clearing(session, peer)
    report = Report(peer=peer, since=since)
    relevant = set(their_lines)
    relevant |= {uri for uri, mine in mine_lines.items() if mine.state != SETTLED or mine.bucket in differing}
    # What the lines read before the peer answered settle without a query (terminal states agreeing,
    # nothing applied on either side); the rest is read again, in this transaction, in one go.
    candidates = sorted(
        uri for uri in relevant if _may_differ(mine_lines.get(uri), their_lines.get(uri), differing)
    )
    rows: dict[str, Transfer] = {}
    for start in range(0, len(candidates), 500):
        chunk = [uri for uri in candidates[start : start + 500] if uri in mine_lines]
        rows.update((t.uri, t) for t in session.exec(select(Transfer).where(col(Transfer.uri).in_(chunk))))
    for uri in candidates:
        row, line, mine = rows.get(uri), their_lines.get(uri), mine_lines.get(uri)
        fresh = replace(mine, state=row.state) if mine is not None and row is not None else None
        if not _may_differ(fresh, line, differing):
            continue  # settled or refused meanwhile, as on the peer's side
        ours_state, theirs_state = _states(fresh, line, differing)
        amount = row.amount if row else (line.amount if line else 0)
        if row is not None and line is not None and row.amount != line.amount:
            report.differences.append(Difference(uri, ours_state, theirs_state, amount, ""))
            continue
        repair = _repair(
            session, settings, row, line, ours_state, theirs_state, now, str(their_document["attributedTo"])
        )
        report.differences.append(Difference(uri, ours_state, theirs_state, amount, repair))
    session.flush()
    session.refresh(account)
    report.balance, report.peer_balance = account.balance, peer_balance
    report.compared = len(mine_lines)
    unresolved = [d for d in report.differences if d.repair not in ("applied", "released")]
    open_items = session.exec(
        select(Transfer.id).where(
            Transfer.peer == peer.lower(),
            col(Transfer.state) != "settled",  # the partial index of the open transfers
            col(Transfer.state).in_(["pending", "waiting"]),
        )
    ).first()
    if (
        not unresolved
        and open_items is None
        and report.mirrored
        and not any(line.state == "pending" for line in their_lines.values())
    ):
        report.agreed = True
        account.agreed_until = now - AGREEMENT_MARGIN
        account.agreed_balance = account.balance
        account.agreed_statement = json.dumps(dict(their_document), ensure_ascii=False)[:200_000]
        session.add(account)
    return report


def _states(mine: Line | None, line: Line | None, differing: set[str]) -> tuple[str, str]:
    """Our state and the peer's of one transfer (settled there too when its group's digests agree)."""
    ours = mine.state if mine is not None else "absent"
    if line is not None:
        return ours, line.state
    agreed = mine is not None and ours == SETTLED and mine.bucket not in differing
    return ours, ("settled" if agreed else "absent")


def _may_differ(mine: Line | None, line: Line | None, differing: set[str]) -> bool:
    """False when the two sides agree for good on a transfer (see :func:`_compare_and_repair`)."""
    if mine is not None and line is not None and mine.amount != line.amount:
        return True
    ours, theirs = _states(mine, line, differing)
    if ours == theirs and ours in ("settled", "refused"):
        return False
    # Neither side applied it (held back by a limit, or refused): nothing to mirror.
    return not ({ours, theirs} <= NOTHING_APPLIED and PENDING not in (ours, theirs))


def _repair(
    session: Session,
    settings: Settings,
    row: Transfer | None,
    line: Line | None,
    ours: str,
    theirs: str,
    now: datetime,
    peer_actor: str,
) -> str:
    """What this node does about one difference (see the module docs); the word for the report."""
    if row is not None and row.direction == "out" and ours == "pending":
        if theirs == "settled":
            exchange.settle(session, settings, row, now)
            return "applied"
        if theirs == "refused":
            from node.timebank.policy import Policy

            exchange.refuse(
                session,
                Policy.of(settings),
                row,
                line.refusal if line else "refused",
                "",
                retryable=False,
                now=now,
            )
            return "released"
        exchange.offer_now(session, row, now)
        return "offered again"
    if line is not None and line.state == "pending" and line.payee_node == settings.domain and line.offer:
        # The payer's node still holds a transfer to us: its Offer, or our answer, was lost.
        offer = vocab.TransferOffer(
            id=line.offer,
            actor=peer_actor,
            event=vocab.TransferEvent(
                id=line.uri,
                payer=line.payer,
                payee=line.payee,
                hours=to_hours(line.amount),
                kind=exchange.WIRE_KIND.get(line.kind, "gift"),
                at=parse_instant(line.at, "at"),
                agreement=line.agreement,
            ),
        )
        answer = exchange.receive(session, settings, offer, peer_actor)
        if answer is not None:
            exchange.send_answer(session, settings, answer, peer_actor)
            return "answered again" if row is not None else "received"
    return ""


def peer_origin(session: Session, peer: str) -> str:
    """``scheme://peer``: the scheme of the peer's people we know, else https."""
    row = session.exec(select(Transfer).where(Transfer.peer == peer.lower()).limit(1)).first()
    for uri in (row.payee_uri, row.payer_uri) if row else ():
        if uri and addressing.domain_of(uri) == peer.lower():
            return addressing.origin(uri)
    return f"https://{peer.lower()}"
