"""``asasap mail test ADDRESS``: send one e-mail at once through the configured SMTP server, to check the
settings (see docs/admin/mail.md); what the server answered is said on failure."""

from __future__ import annotations

import argparse

from node.commands.base import CommandError, Context, SubParsers
from node.core import mail
from node.core.errors import N_


def register(sub: SubParsers) -> None:
    group = sub.add_parser(
        "mail",
        help="e-mail: check the SMTP settings",
        description="The node's outgoing e-mail (see docs/admin/mail.md).",
    )
    cmds = group.add_subparsers(dest="mail_command", metavar="ACTION", required=True)
    p = cmds.add_parser(
        "test",
        help="send a test e-mail to ADDRESS now, not through the queue",
        description="Send one e-mail to ADDRESS at once through ASASAP_SMTP_HOST, with the node's settings "
        "(security, login, sender). Exits 1, saying why, when e-mail is off or the server refuses it.",
    )
    p.add_argument("address", metavar="ADDRESS")
    p.set_defaults(handler=cmd_test)


def cmd_test(args: argparse.Namespace, context: Context) -> int:
    settings = context.settings
    if not mail.enabled(settings):
        raise CommandError("e-mail is off: set ASASAP_SMTP_HOST (see docs/admin/mail.md)")
    if "@" not in args.address or len(args.address) > 254:
        raise CommandError(f"{args.address!r} is not an e-mail address")
    message = mail.letter(
        settings,
        to=args.address,
        subject=N_("Test message"),
        paragraphs=[(N_("{node} can send e-mail: this message proves it."), {"node": settings.node_name})],
    )
    try:
        client = mail.connect(settings)
        try:
            mail.send_one(client, message)
        finally:
            client.close()
    except (mail.PermanentFailure, mail.TransientFailure) as exc:
        raise CommandError(f"the test e-mail was not sent: {exc}") from None
    print(f"sent to {args.address} through {settings.smtp_host}:{settings.smtp_port}")
    return 0
