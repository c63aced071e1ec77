"""``asasap timebank ...``: check the ledger, cap and reconcile the clearing with other nodes, record
settlements. Only on a cooperative node (``ASASAP_MODE=cooperative``); a market node keeps no ledger and
every command says so and exits 1."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from node.activitypub.actors.remote import RemoteActorError, RemoteActors
from node.activitypub.transport.fetch import RemoteError
from node.commands.base import CommandError, Context, SubParsers, add_json_flag, print_json, print_table
from node.core.db import check_migrated
from node.core.timeutil import isoformat
from node.timebank import accounts, ledger, reconcile, settlement
from node.timebank.policy import MSG_NO_TIMEBANK, Policy, amount_from_text, to_hours


def register(sub: SubParsers) -> None:
    tb = sub.add_parser(
        "timebank",
        help="time bank: verify the ledger, peer caps, reconcile, settle",
        description="Administer this cooperative node's time bank (see docs/admin/timebank.md).",
    )
    cmds = tb.add_subparsers(dest="timebank_command", metavar="ACTION", required=True)

    p = cmds.add_parser(
        "verify",
        help="check that the ledger adds up",
        description="Check the whole ledger: the entries sum to zero, each balance is the sum of its "
        "entries, each applied transfer has its two entries, holds match the transfers waiting for a "
        "peer. Exits 1 when a problem is found (limits crossed after a policy change are warnings).",
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_verify)

    p = cmds.add_parser(
        "peer-cap",
        help="set the cap of the clearing balance with another node",
        description="Refuse transfers that would take the clearing balance with PEER (its domain, "
        "host[:port]) past HOURS either way. Without HOURS, show the cap.",
    )
    p.add_argument("peer")
    p.add_argument("hours", nargs="?")
    add_json_flag(p)
    p.set_defaults(handler=cmd_peer_cap)

    p = cmds.add_parser(
        "peers", help="clearing accounts with other nodes", description="List the clearing accounts."
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_peers)

    p = cmds.add_parser(
        "reconcile",
        help="compare the clearing with a peer's signed statement, repair what a lost message left",
        description="Fetch PEER's signed statement of its clearing account with this node, compare it with "
        "ours, repair what a lost message left half-done, and report every difference with the transfers "
        "that explain it. Exits 1 when a difference remains or the peer cannot be reached.",
    )
    p.add_argument("peer")
    add_json_flag(p)
    p.set_defaults(handler=cmd_reconcile)

    p = cmds.add_parser(
        "settle",
        help="record a settlement agreed with a peer",
        description="Record on this node a settlement of HOURS with PEER agreed under REFERENCE: the "
        "clearing balance moves that much towards zero, into the community account. The peer's admins "
        "record the same reference on their node.",
    )
    p.add_argument("peer")
    p.add_argument("hours")
    p.add_argument("--reference", required=True)
    add_json_flag(p)
    p.set_defaults(handler=cmd_settle)


def _policy(context: Context) -> Policy:
    policy = Policy.of(context.settings)
    if not policy.enabled:
        raise CommandError(MSG_NO_TIMEBANK)
    return policy


def _hours(value: int | None) -> str | None:
    return None if value is None else str(to_hours(value))


def cmd_verify(args: argparse.Namespace, context: Context) -> int:
    policy = _policy(context)
    with context.session() as session:
        report = ledger.verify(session, policy, context.settings.domain)
    data = {
        "ok": report.ok,
        "entries_sum": _hours(report.entries_sum),
        "accounts": report.accounts,
        "transfers": report.transfers,
        "entries": report.entries,
        "problems": report.problems,
        "warnings": report.warnings,
    }
    if args.json:
        print_json(data)
    else:
        print(
            f"{report.accounts} accounts, {report.transfers} transfers, {report.entries} entries;"
            f" sum {data['entries_sum']} h"
        )
        for line in report.problems:
            print(f"problem: {line}")
        for line in report.warnings:
            print(f"warning: {line}")
        print("The ledger adds up." if report.ok else "The ledger does NOT add up.")
    return 0 if report.ok else 1


def _peer_row(account: Any, policy: Policy) -> dict[str, Any]:
    return {
        "peer": account.peer,
        "balance": _hours(account.balance),
        "held_out": _hours(account.held_out),
        "held_in": _hours(account.held_in),
        "cap": _hours(account.cap if account.cap is not None else policy.peer_cap),
        "cap_is_default": account.cap is None,
        "agreed_until": isoformat(account.agreed_until),
    }


def cmd_peer_cap(args: argparse.Namespace, context: Context) -> int:
    policy = _policy(context)
    with context.session() as session:
        account = accounts.clearing(
            session, args.peer.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
        )
        if args.hours is not None:
            account.cap = amount_from_text(args.hours) if args.hours.strip() not in ("0", "0.00") else 0
            session.add(account)
            session.flush()
        data = _peer_row(account, policy)
    if args.json:
        print_json(data)
    else:
        print(f"Cap with {data['peer']}: {data['cap']} h either way; clearing balance {data['balance']} h.")
    return 0


def cmd_peers(args: argparse.Namespace, context: Context) -> int:
    policy = _policy(context)
    with context.session() as session:
        rows = [_peer_row(a, policy) for a in accounts.clearing_accounts(session)]
    if args.json:
        print_json(rows)
    else:
        print_table(
            ["peer", "balance", "held out", "held in", "cap", "agreed until"],
            [
                [r["peer"], r["balance"], r["held_out"], r["held_in"], r["cap"], r["agreed_until"] or "-"]
                for r in rows
            ],
        )
    return 0


def cmd_reconcile(args: argparse.Namespace, context: Context) -> int:
    _policy(context)
    settings, engine = context.settings, context.engine
    check_migrated(engine)
    peer = args.peer.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    with context.session() as session:
        origin = reconcile.peer_origin(session, peer)
    if settings.allow_private_addresses and "://" in args.peer:
        origin = args.peer.rstrip("/")

    async def main() -> reconcile.Report:
        remote = RemoteActors(settings, engine)
        try:

            async def fetch(url: str) -> dict[str, Any]:
                return await remote.fetch_document(url)

            async def key_of(actor_uri: str) -> tuple[str, str]:
                actor = await remote.get_actor(actor_uri)
                if not actor.key_id or not actor.public_key_pem:
                    raise reconcile.StatementRefused("the peer's node actor has no key")
                return actor.key_id, actor.public_key_pem

            return await reconcile.reconcile(settings, engine, peer, origin, fetch, key_of)
        finally:
            await remote.aclose()

    try:
        report = asyncio.run(main())
    except (RemoteError, RemoteActorError) as exc:
        raise CommandError(f"the peer {peer} could not be reached or refused: {exc}") from exc
    except reconcile.StatementRefused as exc:
        raise CommandError(f"the statement of {peer} was refused, nothing changed: {exc}") from exc
    data = report.to_json()
    if args.json:
        print_json(data)
    else:
        print(
            f"Clearing with {peer}: ours {data['balance']} h, theirs {data['peer_balance']} h"
            f" ({'mirrored' if report.mirrored else 'NOT mirrored'}); {report.compared} transfers compared."
        )
        for diff in report.differences:
            print(
                f"  {diff.transfer}: ours {diff.ours}, theirs {diff.theirs}, {to_hours(diff.amount)} h"
                + (f" -> {diff.repair}" if diff.repair else " (not repaired)")
            )
        print("Agreed: the next statements start from here." if report.agreed else "Not agreed yet.")
    unrepaired = [d for d in report.differences if not d.repair]
    return 0 if report.mirrored and not unrepaired else 1


def cmd_settle(args: argparse.Namespace, context: Context) -> int:
    _policy(context)
    with context.session() as session:
        transfer = settlement.settle(
            session, context.settings, args.peer.strip().lower(), args.hours, args.reference
        )
        data = {"transfer": transfer.uri, "hours": _hours(transfer.amount), "peer": transfer.peer}
    if args.json:
        print_json(data)
    else:
        print(f"Settlement {data['transfer']} of {data['hours']} h recorded.")
    return 0
