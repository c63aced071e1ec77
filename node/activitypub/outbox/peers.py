"""What deliveries tell of the servers they go to: a peer row per domain, ``ok`` while it answers,
``failing`` with a count of failures while it gives no usable answer
(:data:`~node.activitypub.lifecycles.PEER_LIFECYCLE`). Written with the outcomes of each batch, in one
upsert per kind of news, with statements built once."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func
from sqlalchemy.dialects import postgresql, sqlite

from node.activitypub.lifecycles import PEER_LIFECYCLE
from node.activitypub.models import Peer, PeerState
from node.core.sqlbase import table_of


def record(connection: Connection, answers: Sequence[tuple[str, bool | None]], now: datetime) -> None:
    """Record what deliveries said of their servers, ``(domain, answered)`` each (None: no news):
    successes reset a peer's failure count, failures (no usable answer) add to it."""
    successes: set[str] = set()
    failures: dict[str, int] = {}
    for domain, answered in answers:
        if answered is True:
            successes.add(domain)
        elif answered is False:
            failures[domain] = failures.get(domain, 0) + 1
    postgres = connection.dialect.name == "postgresql"
    if successes:
        rows: list[dict[str, object]] = [
            {"domain": domain, "now": now, "failed_at": now if domain in failures else None}
            for domain in sorted(successes)
        ]
        connection.execute(_peer_success_statement(postgres), rows)
    failed = sorted(set(failures) - successes)
    if failed:
        counted = [{"domain": domain, "now": now, "count": failures[domain]} for domain in failed]
        connection.execute(_peer_failure_statement(postgres), counted)


def _peer_upsert(postgres: bool, row: dict[str, Any]) -> postgresql.Insert | sqlite.Insert:
    insert = postgresql.insert if postgres else sqlite.insert
    return insert(table_of(Peer)).values(row)


@functools.cache
def _peer_success_statement(postgres: bool) -> postgresql.Insert | sqlite.Insert:
    """A peer answered (``domain``, ``now``; ``failed_at`` when it also failed in the same write)."""
    for state in PeerState:  # the upsert moves a peer in any state to ok: each move must be declared
        PEER_LIFECYCLE.step(state, PeerState.OK)
    peers, stamp = table_of(Peer), table_of(Peer).c.last_success_at.type
    now, failed_at = bindparam("now", type_=stamp), bindparam("failed_at", type_=stamp)
    row = {
        "domain": bindparam("domain"),
        "state": PeerState.OK.value,
        "first_seen_at": now,
        "failure_count": 0,
    }
    statement = _peer_upsert(postgres, {**row, "last_success_at": now, "last_failure_at": failed_at})
    return statement.on_conflict_do_update(
        index_elements=["domain"],
        set_={
            "last_success_at": now,
            "failure_count": 0,
            "state": PeerState.OK.value,
            "last_failure_at": func.coalesce(failed_at, peers.c.last_failure_at),
        },
    )


@functools.cache
def _peer_failure_statement(postgres: bool) -> postgresql.Insert | sqlite.Insert:
    """A peer gave no usable answer ``count`` times (``domain``, ``now``, ``count``)."""
    for state in PeerState:
        PEER_LIFECYCLE.step(state, PeerState.FAILING)
    peers, now = table_of(Peer), bindparam("now", type_=table_of(Peer).c.last_failure_at.type)
    count = bindparam("count", type_=peers.c.failure_count.type)
    row = {"domain": bindparam("domain"), "state": PeerState.FAILING.value, "first_seen_at": now}
    statement = _peer_upsert(postgres, {**row, "failure_count": count, "last_failure_at": now})
    return statement.on_conflict_do_update(
        index_elements=["domain"],
        set_={
            "last_failure_at": now,
            "failure_count": peers.c.failure_count + count,
            "state": PeerState.FAILING.value,
        },
    )
