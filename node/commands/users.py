"""``asasap user ...``: create, list and moderate accounts, issue API tokens and invitations."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from node.accounts import credentials, service
from node.accounts.models import AccountStatus, Role, User
from node.activitypub import keys
from node.commands.base import (
    CommandError,
    Context,
    SubParsers,
    add_json_flag,
    print_json,
    print_table,
    read_password,
)
from node.core.timeutil import isoformat

TOKEN_NAME = "command line"


def register(sub: SubParsers) -> None:
    user = sub.add_parser("user", help="manage accounts", description="Create, list and moderate accounts.")
    cmds = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)

    p = cmds.add_parser("create", help="create an account", description="Create an active account.")
    p.add_argument("username")
    p.add_argument("--email", default="")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.MEMBER.value)
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument(
        "--token",
        action="store_true",
        help="also create an API token for the account and print it (shown only once)",
    )
    p.add_argument("--token-name", help=f"a name to recognise that token by (default: {TOKEN_NAME!r})")
    add_json_flag(p)
    p.set_defaults(handler=cmd_create)

    p = cmds.add_parser("list", help="list accounts", description="List accounts, newest first.")
    p.add_argument("--status", choices=[s.value for s in AccountStatus])
    p.add_argument("--search", default="", help="part of a username or display name")
    p.add_argument("--limit", type=int, default=200)
    add_json_flag(p)
    p.set_defaults(handler=cmd_list)

    p = cmds.add_parser("set-role", help="change an account's role", description="Change an account's role.")
    p.add_argument("username")
    p.add_argument("role", choices=[r.value for r in Role])
    add_json_flag(p)
    p.set_defaults(handler=cmd_set_role)

    for name, helptext in (
        ("suspend", "suspend an account (logs it out and revokes its tokens)"),
        ("reinstate", "lift a suspension"),
        ("approve", "approve a pending registration"),
    ):
        p = cmds.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".")
        p.add_argument("username")
        add_json_flag(p)
        p.set_defaults(handler=cmd_moderate, action=name)

    p = cmds.add_parser(
        "token",
        help="print a new API token for an account",
        description="Create an API token for USERNAME and print it (it is shown only once).",
    )
    p.add_argument("username")
    p.add_argument("--name", default=TOKEN_NAME, help="a name to recognise the token by")
    add_json_flag(p)
    p.set_defaults(handler=cmd_token)

    invite = sub.add_parser("invite", help="create invitation codes", description="Invitation codes.")
    icmds = invite.add_subparsers(dest="invite_command", metavar="ACTION", required=True)
    p = icmds.add_parser("create", help="create an invitation code", description="Create an invitation code.")
    p.add_argument("--note", default="", help="who the code is for")
    p.add_argument("--days", type=int, default=30, help="days before the code expires (0: never)")
    add_json_flag(p)
    p.set_defaults(handler=cmd_invite)


def _summary(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "status": user.status,
        "display_name": user.display_name,
        "created_at": isoformat(user.created_at),
    }


def cmd_create(args: argparse.Namespace, context: Context) -> int:
    """Create the account; with ``--token``, its API token too, in the same transaction."""
    if args.token_name is not None and not args.token:
        raise CommandError("--token-name names the token that --token creates: add --token")
    password = read_password(args)
    secret = context.settings.effective_secret_key
    with context.session() as session:
        user = service.create_user(
            username=args.username, password=password, email=args.email, role=Role(args.role), session=session
        )
        keys.ensure_key(keys.user_owner(user.id or 0), secret, user_id=user.id, session=session)
        data = _summary(user)
        if args.token:
            token, token_secret = credentials.create_api_token(
                user, TOKEN_NAME if args.token_name is None else args.token_name, session=session
            )
            data.update(token=token_secret, token_id=token.id, token_name=token.name)
    if args.json:
        print_json(data)
    elif args.token:
        # Standard output holds the token alone, for scripts: TOKEN=$(asasap user create ... --token).
        print(f"Created {data['role']} account {data['username']}.", file=sys.stderr)
        print(data["token"])
    else:
        print(f"Created {data['role']} account {data['username']}.")
    return 0


def cmd_list(args: argparse.Namespace, context: Context) -> int:
    status = AccountStatus(args.status) if args.status else None
    with context.session() as session:
        people = [
            _summary(u)
            for u in service.list_users(status=status, query=args.search, limit=args.limit, session=session)
        ]
    if args.json:
        print_json(people)
    else:
        print_table(
            ["username", "role", "status", "display name", "created"],
            [[p["username"], p["role"], p["status"], p["display_name"], p["created_at"]] for p in people],
        )
    return 0


def cmd_set_role(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        user = service.set_role(
            service.get_user(args.username, session=session), Role(args.role), session=session
        )
        data = _summary(user)
    if args.json:
        print_json(data)
    else:
        print(f"{data['username']} is now {data['role']}.")
    return 0


def cmd_moderate(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        user = service.get_user(args.username, session=session)
        {"suspend": service.suspend, "reinstate": service.reinstate, "approve": service.approve}[args.action](
            user, session=session
        )
        data = _summary(user)
    if args.json:
        print_json(data)
    else:
        print(f"{data['username']}: {data['status']}.")
    return 0


def cmd_token(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        user = service.get_user(args.username, session=session)
        token, secret = credentials.create_api_token(user, args.name, session=session)
        data = {"username": user.username, "id": token.id, "name": token.name, "token": secret}
    if args.json:
        print_json(data)
    else:
        print(secret)
    return 0


def cmd_invite(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        invite, code = credentials.create_invite(
            by=None, note=args.note, valid_days=args.days or None, session=session
        )
        data = {
            "code": code,
            "expires_at": isoformat(invite.expires_at),
            "note": invite.note,
            "url": context.settings.url(f"/register?invite={code}"),
        }
    if args.json:
        print_json(data)
    else:
        print(code)
        print(f"Registration link: {data['url']}", flush=True)
    return 0
