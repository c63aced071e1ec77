"""Statements of a clearing account: what a node states to its peer about their clearing accounts
(see :mod:`node.timebank.reconcile` for the comparison, FEDERATION.md for the format).

Two versions of the digests: version 1 (a statement without ``digestVersion``) covers the settled
transfers since the last agreed point, each group's digest hashing its lines sorted, so that every
statement reads and hashes them all again; version 2 (``digestVersion: 2``, asked for with
``digests=2``) covers every settled transfer with the peer, each group's digest a count and a sum kept up
to date as transfers settle (:mod:`node.timebank.digests`): a statement reads 256 rows, and the groups
asked for in full are read by their index. A node answers version 1 to a peer that does not ask for 2.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, null, select, text
from sqlalchemy.sql.elements import ColumnElement, TextClause
from sqlmodel import Session

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.signatures.keys import load_public_key_pem, sign_with, verify_with
from node.core.prepared import fetch_all, result_processor
from node.core.timeutil import isoformat, utcnow
from node.settings import Settings
from node.timebank import accounts, digests, ledger, vocab
from node.timebank.digests import bucket_of
from node.timebank.lifecycles import TransferState
from node.timebank.models import OPEN

ALGORITHM = "rsa-v1_5-sha256"
SETTLED, PENDING = TransferState.SETTLED.value, TransferState.PENDING.value  # plain strings: hot loops


class StatementRefused(Exception):
    """A peer's statement that cannot be trusted or read; nothing was changed."""


@dataclass(slots=True)
class Line:
    """A transfer as a statement carries it (the same on both nodes). Not frozen: a statement builds
    a hundred thousand of them, and a frozen dataclass's ``__init__`` costs twice as much."""

    uri: str
    payer_node: str
    payee_node: str
    amount: int
    state: str  # settled | pending | waiting | refused
    kind: str = ""
    payer: str = ""
    payee: str = ""
    at: str | datetime | None = ""  # formatted only when the line is written in full
    agreement: str | None = None
    refusal: str = ""
    offer: str = ""  # the payer's latest Offer of a transfer still held
    bucket: str = ""  # its group (see bucket_of), computed once

    def __post_init__(self) -> None:
        if not self.bucket:
            self.bucket = bucket_of(self.uri)

    def digest_text(self) -> str:
        return f"{self.uri}|{self.payer_node}|{self.amount}"

    def compact_json(self) -> dict[str, Any]:
        """What comparing a settled transfer needs (a group may hold thousands of them)."""
        return {"id": self.uri, "payerNode": self.payer_node, "amount": self.amount, "state": self.state}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.uri,
            "payerNode": self.payer_node,
            "payeeNode": self.payee_node,
            "amount": self.amount,
            "state": self.state,
            "kind": self.kind,
            "payer": self.payer,
            "payee": self.payee,
            "at": self.at if isinstance(self.at, str) else (isoformat(self.at) or ""),  # None: settled
            "agreement": self.agreement,
            "refusal": self.refusal,
            "offer": self.offer,
        }

    @classmethod
    def from_json(cls, data: object) -> Line:
        if not isinstance(data, Mapping):
            raise StatementRefused("a transfer of the statement is not an object")
        try:
            amount = data["amount"]
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                raise StatementRefused("a transfer of the statement has no positive amount")
            text = {
                k: data.get(k) or ""
                for k in (
                    "id",
                    "payerNode",
                    "payeeNode",
                    "state",
                    "kind",
                    "payer",
                    "payee",
                    "at",
                    "refusal",
                    "offer",
                )
            }
            if not all(isinstance(v, str) for v in text.values()) or not text["id"]:
                raise StatementRefused("a transfer of the statement is malformed")
            agreement = data.get("agreement")
            return cls(
                uri=text["id"],
                payer_node=text["payerNode"],
                payee_node=text["payeeNode"],
                amount=amount,
                state=text["state"],
                kind=text["kind"],
                payer=text["payer"],
                payee=text["payee"],
                at=text["at"],
                agreement=agreement if isinstance(agreement, str) else None,
                refusal=text["refusal"],
                offer=text["offer"],
            )
        except KeyError as exc:
            raise StatementRefused(f"a transfer of the statement has no {exc}") from None


_COLUMNS = (
    "uri",
    "direction",
    "kind",
    "amount",
    "state",
    "payer_uri",
    "payee_uri",
    "created_at",
    "agreement_ap_id",
    "refusal",
    "offer_activity_id",
)


def _line(ours: str, peer: str, row: Sequence[Any]) -> Line:
    uri, direction, kind, amount, state, payer, payee, made, agreement, refusal, offer = row
    payer_node, payee_node = _nodes(ours, peer, direction, kind)
    return Line(
        uri,
        payer_node,
        payee_node,
        int(amount),
        state,
        kind,
        payer or "",
        payee or "",
        made,
        agreement,
        refusal,
        (offer or "") if state == PENDING else "",
    )


def _nodes(ours: str, peer: str, direction: str, kind: str) -> tuple[str, str]:
    """The payer's node and the payee's of a transfer with ``peer`` (none for a settlement)."""
    payer = digests.payer_node(ours, peer, direction, kind)
    return payer, ("" if not payer else (peer if payer == ours else ours))


def _read(
    session: Session, settings: Settings, peer: str, *where: ColumnElement[bool] | TextClause
) -> list[Line]:
    """The transfers with ``peer`` that match ``where``, read as the driver's tuples, all at once."""
    table = ledger.TRANSFERS
    # When a settled transfer was made is never written in a statement: not read either.
    made = case((table.c.state != SETTLED, table.c.created_at), else_=null()).label("created_at")
    query = select(*(made if name == "created_at" else table.c[name] for name in _COLUMNS)).where(
        table.c.peer == peer.lower(), *where
    )
    ours, peer = settings.domain, peer.lower()
    found = [_line(ours, peer, row) for row in fetch_all(session, query.order_by(table.c.id))]
    to_datetime = result_processor(session, table.c.created_at.type)
    for line in found:
        if line.at is not None:  # open transfers only: they are few
            line.at = to_datetime(line.at)
    return found


def lines(session: Session, settings: Settings, peer: str, since: datetime | None) -> list[Line]:
    """The transfers of the clearing account with ``peer`` (and those refused) made since ``since``
    (version 1: a statement may cover a hundred thousand of them)."""
    table = ledger.TRANSFERS
    return _read(session, settings, peer, *([table.c.created_at >= since] if since is not None else []))


def open_lines(session: Session, settings: Settings, peer: str, since: datetime | None) -> list[Line]:
    """The transfers with ``peer`` made since ``since`` that are not settled (few)."""
    table = ledger.TRANSFERS
    # Written as the partial index ix_timebank_transfers_open says it, so that both databases use it.
    where = [text(OPEN)] + ([table.c.created_at >= since] if since is not None else [])
    return _read(session, settings, peer, *where)


def bucket_lines(session: Session, settings: Settings, peer: str, buckets: Iterable[str]) -> list[Line]:
    """Every transfer with ``peer`` of the groups ``buckets`` (version 2), by the transfers' index."""
    return _read(session, settings, peer, ledger.TRANSFERS.c.bucket.in_(sorted(set(buckets))))


def settled_hashes(session: Session, settings: Settings, peer: str) -> list[tuple[str, str, int]]:
    """``(id, payer's node, amount)`` of every settled transfer with ``peer`` (what its digests cover)."""
    return digests.settled_lines(session, settings.domain, peer).get(peer.lower(), [])


def build_missing(session: Session, settings: Settings) -> int:
    """Build the kept digests of one clearing account that has none yet (opened before they were
    kept); how many (0 or 1: one at a time, each in its own transaction)."""
    table = ledger.ACCOUNTS
    peer = session.execute(
        select(table.c.peer).where(table.c.digests_ready.is_(False), table.c.peer.is_not(None)).limit(1)
    ).scalar()
    if peer is None:
        return 0
    rebuild(session, settings, peer)
    return 1


def digests_of(session: Session, settings: Settings, peer: str) -> dict[str, str]:
    """This node's version-2 digests of its clearing account with ``peer``: kept, or (not built yet)
    computed from the transfers."""
    kept = digests.stored(session, peer)
    return kept if kept is not None else digests.compute(settled_hashes(session, settings, peer))


def rebuild(session: Session, settings: Settings, peer: str) -> None:
    """Build the kept digests of the clearing account with ``peer`` from its transfers (its row locked
    first, so that no settlement with ``peer`` commits meanwhile)."""
    account = accounts.find_clearing(session, peer)
    if account is None:
        return
    accounts.by_id(session, account.id or 0, lock=True)
    digests.rebuild(session, peer, settled_hashes(session, settings, peer))


def digests_v1(found: Iterable[Line]) -> dict[str, str]:
    groups: dict[str, list[str]] = {}
    for line in found:
        if line.state == SETTLED:
            groups.setdefault(line.bucket, []).append(line.digest_text())
    return {
        bucket: hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()[:32]
        for bucket, texts in groups.items()
    }


def canonical(document: Mapping[str, Any]) -> bytes:
    """The bytes a statement's proof signs: the document without ``proof``, keys sorted, compact."""
    body = {k: v for k, v in document.items() if k != "proof"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def statement(
    session: Session,
    settings: Settings,
    peer: str,
    *,
    since: datetime | None,
    nonce: str,
    buckets: Iterable[str] = (),
    url: str | None = None,
    version: int = 1,
) -> dict[str, Any]:
    """This node's statement of its clearing account with ``peer`` (unsigned), its digests in
    ``version`` 1 or 2 (see the module docs)."""
    account = accounts.find_clearing(session, peer)
    wanted = set(buckets)
    document: dict[str, Any] = {
        "@context": vocab.CONTEXT,
        "type": "ClearingStatement",
        "id": url or settings.url(f"/timebank/clearing/{peer}"),
        "attributedTo": local.node_actor(settings).uri,
        "clearingPeer": peer,
        "published": isoformat(utcnow()),
        "nonce": nonce,
        "balance": account.balance if account is not None else 0,
    }
    if version >= digests.VERSION:
        kept = digests_of(session, settings, peer)
        detail = bucket_lines(session, settings, peer, wanted) if wanted else []
        document.update(
            digestVersion=digests.VERSION,
            transferCount=sum(int(text.split(":")[0]) for text in kept.values()),
            digests=kept,
            open=[line.to_json() for line in open_lines(session, settings, peer, since)],
        )
    else:
        found = lines(session, settings, peer, since)
        detail = [line for line in found if line.bucket in wanted]
        document.update(
            transferCount=sum(1 for line in found if line.state == SETTLED),
            digests=digests_v1(found),
            open=[line.to_json() for line in found if line.state != SETTLED],
        )
    if since is not None:
        document["since"] = isoformat(since)
    if wanted:
        document["transfers"] = [
            line.to_json() if line.state != SETTLED else line.compact_json() for line in detail
        ]
    return document


def sign(session: Session, settings: Settings, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the proof of this node's actor."""
    node = local.node_actor(settings)
    key = local.private_key(settings, node, session=session)
    value = sign_with(ALGORITHM, key, canonical(document))
    return {
        **document,
        "proof": {
            "type": "asasap:StatementSignature",
            "verificationMethod": node.key_id,
            "created": isoformat(utcnow()),
            "proofValue": base64.b64encode(value).decode("ascii"),
        },
    }


def check_proof(
    document: Mapping[str, Any], *, peer_origin: str, nonce: str, actor_key: tuple[str, str]
) -> None:
    """Refuse (:class:`StatementRefused`) a statement not from the peer, not for this nonce, or whose
    proof does not verify with ``actor_key`` (the peer's node actor's key id and PEM)."""
    if document.get("type") != "ClearingStatement":
        raise StatementRefused("the peer's answer is not a clearing statement")
    author = document.get("attributedTo")
    if not isinstance(author, str) or addressing.origin(author) != peer_origin:
        raise StatementRefused("the statement is not the peer's")
    if document.get("nonce") != nonce:
        raise StatementRefused("the statement answers another request (its nonce differs)")
    proof = document.get("proof")
    if not isinstance(proof, Mapping) or not isinstance(proof.get("proofValue"), str):
        raise StatementRefused("the statement is not signed")
    key_id, pem = actor_key
    if proof.get("verificationMethod") != key_id:
        raise StatementRefused("the statement is signed by another key than the peer node's")
    try:
        verify_with(
            ALGORITHM, load_public_key_pem(pem), canonical(document), base64.b64decode(proof["proofValue"])
        )
    except Exception as exc:  # noqa: BLE001 - any failure means the proof does not hold
        raise StatementRefused(f"the statement's signature does not verify: {exc}") from None


def statement_url(
    peer_origin: str,
    ours: str,
    since: datetime | None,
    nonce: str,
    buckets: Iterable[str] = (),
    version: int = digests.VERSION,
) -> str:
    query = [f"nonce={nonce}"]
    if since is not None:
        query.append("since=" + (isoformat(since) or "").replace("+", "%2B"))
    chosen = sorted(buckets)
    if chosen:
        query.append("buckets=" + ",".join(chosen))
    if version > 1:
        query.append(f"digests={version}")
    return f"{peer_origin}/timebank/clearing/{ours}?" + "&".join(query)
