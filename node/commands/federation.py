"""``asasap federation ...``: peer with other nodes and relays, block domains, watch deliveries, rotate keys.

Following, unfollowing and relays only queue activities: the node's worker (embedded in ``asasap serve``,
or ``asasap worker``) delivers them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlmodel import select

from node.accounts import federation as account_events
from node.accounts import service
from node.activitypub import moderation
from node.activitypub.actors import local
from node.activitypub.actors.remote import RemoteActorError, RemoteActors
from node.activitypub.actors.resolve import NotResolvable, resolve, resolve_node_actor
from node.activitypub.models import Follow, RemoteActor
from node.activitypub.outbox import admin as delivery_admin
from node.activitypub.social import follows, relays
from node.activitypub.transport.fetch import RemoteError
from node.commands.base import CommandError, Context, SubParsers, add_json_flag, print_json, print_table
from node.core.db import check_migrated
from node.core.timeutil import isoformat

T = TypeVar("T")


def register(sub: SubParsers) -> None:
    fed = sub.add_parser(
        "federation",
        help="peers, follows, relays, blocks, deliveries, keys",
        description="Administer this node's federation with other servers.",
    )
    cmds = fed.add_subparsers(dest="federation_command", metavar="ACTION", required=True)

    p = cmds.add_parser(
        "follow",
        help="make this node follow another node (or any actor)",
        description="The node actor follows TARGET: a node's address (https://host or host), a handle "
        "(user@host) or an actor URL. The followed node then sends this node its public activity.",
    )
    p.add_argument("target")
    add_json_flag(p)
    p.set_defaults(handler=cmd_follow)

    p = cmds.add_parser(
        "unfollow", help="stop following a node", description="The node actor unfollows TARGET."
    )
    p.add_argument("target")
    add_json_flag(p)
    p.set_defaults(handler=cmd_unfollow)

    p = cmds.add_parser(
        "following",
        help="the nodes and actors this node follows, with state and since when",
        description="List what the node actor follows (other nodes, relays' actors, anyone): each "
        "followee with its state (pending until it answers, accepted, rejected) and since when. "
        "--people adds the follows of this node's people to actors on other servers.",
    )
    p.add_argument("--people", action="store_true", help="also list the follows of this node's people")
    add_json_flag(p)
    p.set_defaults(handler=cmd_following)

    p = cmds.add_parser(
        "peers",
        help="known servers: software, state, last success, failures",
        description="List the servers this node knows: software, state, last success and failures.",
    )
    add_json_flag(p)
    p.set_defaults(handler=cmd_peers)

    p = cmds.add_parser(
        "block",
        help="block a domain",
        description="Refuse DOMAIN's requests, drop pending deliveries to it and the follows "
        "linking us to it.",
    )
    p.add_argument("domain")
    p.add_argument("--reason", default="")
    add_json_flag(p)
    p.set_defaults(handler=cmd_block)

    p = cmds.add_parser("unblock", help="lift a domain block", description="Lift the block of DOMAIN.")
    p.add_argument("domain")
    add_json_flag(p)
    p.set_defaults(handler=cmd_unblock)

    p = cmds.add_parser("blocks", help="list blocked domains", description="List blocked domains.")
    add_json_flag(p)
    p.set_defaults(handler=cmd_blocks)

    relay = cmds.add_parser(
        "relay", help="subscribe to relays", description="Relays (Mastodon/LitePub style)."
    )
    rcmds = relay.add_subparsers(dest="relay_command", metavar="ACTION", required=True)
    for name, helptext in (("add", "subscribe to a relay by its inbox URL"), ("remove", "unsubscribe")):
        p = rcmds.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".")
        p.add_argument("inbox_url")
        add_json_flag(p)
        p.set_defaults(handler=cmd_relay, relay_action=name)
    p = rcmds.add_parser("list", help="list relays", description="List relays and their state.")
    add_json_flag(p)
    p.set_defaults(handler=cmd_relay, relay_action="list", inbox_url=None)

    p = cmds.add_parser(
        "lookup",
        help="fetch and show a remote actor or object",
        description="Fetch HANDLE_OR_URL (user@host, or an http(s) URL) from its origin, signed by the node, "
        "and show it; actors are stored in the cache.",
    )
    p.add_argument("target")
    add_json_flag(p)
    p.set_defaults(handler=cmd_lookup)

    p = cmds.add_parser(
        "deliveries",
        help="watch and retry deliveries",
        description="List the latest deliveries, or retry failed ones: `deliveries retry ID` or "
        "`deliveries retry --all`.",
    )
    p.add_argument("--failed", action="store_true", help="only deliveries that failed for good")
    p.add_argument("--limit", type=int, default=50)
    add_json_flag(p)
    p.set_defaults(handler=cmd_deliveries)
    dcmds = p.add_subparsers(dest="deliveries_command", metavar="ACTION")
    r = dcmds.add_parser(
        "retry", help="retry failed deliveries", description="Queue failed deliveries again."
    )
    r.add_argument("id", nargs="?", type=int, help="the delivery to retry")
    r.add_argument("--all", action="store_true", help="every failed delivery")
    add_json_flag(r)
    r.set_defaults(handler=cmd_retry)

    keys = cmds.add_parser("keys", help="actor keys", description="Actor key pairs.")
    kcmds = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    p = kcmds.add_parser(
        "rotate",
        help="give an actor a new key pair and publish it",
        description="Generate a new RSA key pair for the node actor (or --user USERNAME) and send Update of "
        "the actor to its followers; the old key is retired.",
    )
    p.add_argument("--user", metavar="USERNAME")
    add_json_flag(p)
    p.set_defaults(handler=cmd_rotate)


def _with_actors(context: Context, work: Callable[[RemoteActors], Awaitable[T]]) -> T:
    """Run ``work`` with the remote-actor cache, turning remote failures into command errors."""
    check_migrated(context.engine)

    async def main() -> T:
        actors = RemoteActors(context.settings, context.engine)
        try:
            return await work(actors)
        except (RemoteError, RemoteActorError, NotResolvable) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            await actors.aclose()

    return asyncio.run(main())


async def _target_actor(actors: RemoteActors, text: str, *, allow_http: bool) -> RemoteActor:
    fetcher = await actors.fetcher()
    if "@" in text and "://" not in text:
        uri = await resolve(fetcher, text, allow_http=allow_http)
    else:
        uri = await resolve_node_actor(fetcher, text if "://" in text or not allow_http else "http://" + text)
    return await actors.get_actor(uri)


def _actor_json(actor: RemoteActor) -> dict[str, Any]:
    return {
        "id": actor.uri,
        "type": actor.type,
        "handle": actor.handle,
        "name": actor.name,
        "inbox": actor.inbox,
        "shared_inbox": actor.shared_inbox,
        "key_id": actor.key_id,
        "domain": actor.domain,
        "fetched_at": isoformat(actor.fetched_at),
    }


def cmd_follow(args: argparse.Namespace, context: Context) -> int:
    settings = context.settings
    target = _with_actors(
        context,
        lambda actors: _target_actor(actors, args.target, allow_http=settings.allow_private_addresses),
    )
    with context.session() as session:
        row = follows.follow(settings, follower=local.node_actor(settings), target=target, session=session)
        data = {
            "follower": row.follower_uri,
            "followee": row.followee_uri,
            "state": row.state,
            "activity": row.activity_id,
        }
    if args.json:
        print_json(data)
    else:
        print(f"Follow request sent to {target.uri} ({data['state']}); the worker delivers it.")
    return 0


def cmd_unfollow(args: argparse.Namespace, context: Context) -> int:
    settings = context.settings
    node = local.node_actor(settings)
    with context.session() as session:
        followees = session.exec(select(Follow.followee_uri).where(Follow.follower_uri == node.uri)).all()
    target_uri = args.target if args.target in followees else None
    if target_uri is None:
        target = _with_actors(
            context,
            lambda actors: _target_actor(actors, args.target, allow_http=settings.allow_private_addresses),
        )
        target_uri = target.uri
    with context.session() as session:
        follows.unfollow(settings, follower=node, target_uri=target_uri, session=session)
    if args.json:
        print_json({"unfollowed": target_uri})
    else:
        print(f"Unfollowed {target_uri}.")
    return 0


def cmd_following(args: argparse.Namespace, context: Context) -> int:
    node = local.node_actor(context.settings)
    with context.session() as session:
        rows = [
            {
                "follower": row.follower_uri,
                "followee": row.followee_uri,
                "state": row.state,
                "since": isoformat(row.updated_at),
                "requested_at": isoformat(row.created_at),
            }
            for row in follows.outgoing(session=session, follower_uri=None if args.people else node.uri)
        ]
    if args.json:
        print_json(rows)
    elif not rows:
        print("This node follows nobody yet: `asasap federation follow https://other.example`.")
    else:
        headers = ["followee", "state", "since"] + (["follower"] if args.people else [])
        print_table(
            headers,
            [
                [r["followee"], r["state"], r["since"]] + ([r["follower"]] if args.people else [])
                for r in rows
            ],
        )
    return 0


def cmd_peers(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        peers = moderation.list_peers(session=session)
    rows = [
        {
            "domain": p.domain,
            "software": p.software,
            "version": p.version,
            "state": p.state,
            "last_success_at": isoformat(p.last_success_at),
            "last_failure_at": isoformat(p.last_failure_at),
            "failures": p.failure_count,
            "actors": p.actors,
            "pending_deliveries": p.pending_deliveries,
            "blocked": p.blocked,
        }
        for p in peers
    ]
    if args.json:
        print_json(rows)
    else:
        print_table(
            ["domain", "software", "state", "last success", "failures", "pending", "blocked"],
            [
                [
                    r["domain"],
                    f"{r['software']} {r['version']}".strip(),
                    r["state"],
                    r["last_success_at"] or "-",
                    r["failures"],
                    r["pending_deliveries"],
                    "yes" if r["blocked"] else "",
                ]
                for r in rows
            ],
        )
    return 0


def cmd_block(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        result = moderation.block_domain(args.domain, reason=args.reason, session=session)
    data = result.__dict__
    if args.json:
        print_json(data)
    else:
        print(
            f"Blocked {result.domain}: {result.cancelled_deliveries} deliveries cancelled, "
            f"{result.removed_follows} follows removed, {result.dropped_inbox} incoming activities dropped."
        )
    return 0


def cmd_unblock(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        moderation.unblock_domain(args.domain, session=session)
    domain = moderation.normalise_domain(args.domain)
    if args.json:
        print_json({"unblocked": domain})
    else:
        print(f"Unblocked {domain}.")
    return 0


def cmd_blocks(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        rows = [
            {"domain": b.domain, "reason": b.reason, "created_at": isoformat(b.created_at)}
            for b in moderation.list_blocks(session=session)
        ]
    if args.json:
        print_json(rows)
    else:
        print_table(
            ["domain", "reason", "since"], [[r["domain"], r["reason"], r["created_at"]] for r in rows]
        )
    return 0


def cmd_relay(args: argparse.Namespace, context: Context) -> int:
    settings = context.settings
    with context.session() as session:
        if args.relay_action == "add":
            relays.add_relay(settings, args.inbox_url, session=session)
        elif args.relay_action == "remove":
            relays.remove_relay(settings, args.inbox_url, session=session)
        rows = [
            {"inbox": r.inbox_url, "actor": r.actor_uri, "state": r.state, "since": isoformat(r.created_at)}
            for r in relays.list_relays(session=session)
        ]
    if args.json:
        print_json(rows)
    else:
        print_table(
            ["inbox", "state", "actor", "since"],
            [[r["inbox"], r["state"], r["actor"] or "", r["since"]] for r in rows],
        )
    return 0


def cmd_lookup(args: argparse.Namespace, context: Context) -> int:
    settings = context.settings

    async def work(actors: RemoteActors) -> dict[str, Any]:
        fetcher = await actors.fetcher()
        uri = await resolve(fetcher, args.target, allow_http=settings.allow_private_addresses)
        document = await actors.fetch_document(uri)
        if isinstance(document.get("inbox"), str):
            return {
                "actor": _actor_json(await actors.get_actor(str(document.get("id", uri)))),
                "document": document,
            }
        return {"document": document}

    result = _with_actors(context, work)
    if args.json:
        print_json(result)
    elif "actor" in result:
        actor = result["actor"]
        for key in ("id", "type", "handle", "name", "inbox", "shared_inbox", "key_id"):
            print(f"{key:>13}: {actor[key] or ''}")
    else:
        print(json.dumps(result["document"], indent=2, ensure_ascii=False))
    return 0


def cmd_deliveries(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        items = delivery_admin.list_deliveries(failed_only=args.failed, limit=args.limit, session=session)
        counts = delivery_admin.count_by_state(session=session)
    if args.json:
        print_json({"counts": counts, "deliveries": [i.as_json() for i in items]})
    else:
        print("  ".join(f"{state}: {count}" for state, count in counts.items()))
        print_table(
            ["id", "state", "activity", "to", "attempts", "status", "error"],
            [
                [
                    i.id,
                    i.state,
                    i.activity_type,
                    i.inbox_url or i.target,
                    i.attempts,
                    i.last_status or "",
                    i.last_error[:60],
                ]
                for i in items
            ],
        )
    return 0


def cmd_retry(args: argparse.Namespace, context: Context) -> int:
    if args.all == (args.id is not None):
        raise CommandError("give either a delivery ID or --all")
    with context.session() as session:
        if args.all:
            count = delivery_admin.retry_all_failed(session=session)
        else:
            delivery_admin.retry(args.id, session=session)
            count = 1
    if args.json:
        print_json({"queued": count})
    else:
        print(f"{count} deliver{'y' if count == 1 else 'ies'} queued again.")
    return 0


def cmd_rotate(args: argparse.Namespace, context: Context) -> int:
    settings = context.settings
    with context.session() as session:
        if args.user:
            user = service.get_user(args.user, session=session)
            if not user.is_active:
                raise CommandError(f"{user.username} is not an active account")
            actor = local.person(settings, user)
        else:
            actor = local.node_actor(settings)
        row = account_events.rotate_key(settings, actor, session=session)
        data = {"actor": actor.uri, "key_id": actor.key_id, "created_at": isoformat(row.created_at)}
    if args.json:
        print_json(data)
    else:
        print(f"New key for {actor.uri}; Update sent to its followers.")
    return 0
