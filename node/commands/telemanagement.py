"""``asasap telemanagement ...``: check the tamper-evident clock log (see docs/telemanagement.md) and a
Factur-X invoice's rules (docs/admin/telemanagement-billing.md)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from node.commands.base import CommandError, Context, SubParsers
from node.telemanagement import clocklog, facturx, pdfa, schematron


def register(sub: SubParsers) -> None:
    tm = sub.add_parser(
        "telemanagement",
        help="telemanagement: check the clock log",
        description="Telemanagement of home visits (see docs/telemanagement.md).",
    )
    cmds = tm.add_subparsers(dest="telemanagement_command", metavar="ACTION", required=True)
    p = cmds.add_parser(
        "verify-log",
        help="recompute the clock log's hash chain and name the first broken link",
        description="Recompute the SHA-256 of every link of the clock log from the first, check that each "
        "names the previous one's hash, that none is missing at the end, and that every clock event is the "
        "one its link records. Exit status 0 when the whole chain holds, 1 with the first broken link "
        "named otherwise.",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_verify_log)
    p = cmds.add_parser(
        "check-invoice",
        help="check a Factur-X PDF or its XML against the profile's XSD and official Schematron",
        description="Check the CII XML of a Factur-X PDF (or an XML file) against the Factur-X BASIC XSD "
        "and its official Schematron (EN 16931 business rules), and a PDF against the structural PDF/A-3 "
        "and Factur-X checks. Exit status 0 when the XML breaks no rule (warnings and PDF/A-3 problems "
        "are printed but do not fail), 1 otherwise. Needs no database.",
    )
    p.add_argument("file", help="a Factur-X PDF, or a CII XML file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_check_invoice)


def cmd_verify_log(args: argparse.Namespace, context: Context) -> int:
    with context.session() as session:
        result = clocklog.verify(session)
    if args.json:
        document = {
            "ok": result.ok,
            "checked": result.checked,
            "broken": result.broken_seq,
            "reason": result.reason,
        }
        print(json.dumps(document))
    elif result.ok:
        print(f"clock log intact: {result.checked} links")
    else:
        print(f"asasap: clock log broken at link {result.broken_seq}: {result.reason}", file=sys.stderr)
    return 0 if result.ok else 1


def cmd_check_invoice(args: argparse.Namespace, context: Context) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {args.file}: {error.strerror}") from error
    problems: list[pdfa.Problem] = []
    if data.startswith(b"%PDF"):
        problems = pdfa.problems(data)
        data = facturx.xml_of(data)
        if not data:
            raise CommandError(f"{args.file} has no Factur-X XML attached")
    try:
        facturx.check(data)
        schema = ""
    except Exception as error:  # the library raises a bare Exception naming the XSD error
        schema = str(error)
    failures = schematron.check(data) if not schema else []
    errors = [failure for failure in failures if failure.flag != "warning"]
    if args.json:
        document = {
            "ok": not schema and not errors,
            "schema": schema,
            "schematron": [asdict(failure) for failure in failures],
            "pdfa": [asdict(problem) for problem in problems],
        }
        print(json.dumps(document))
    else:
        if schema:
            print(f"XSD: {schema}")
        for failure in failures:
            print(f"{failure.flag} {failure.rule} at {failure.location}: {failure.text}")
        for problem in problems:
            print(f"PDF/A-3 structure: {problem.detail}")
        if not schema and not errors:
            print(f"{args.file}: valid against the XSD and the Schematron ({len(failures)} warning(s))")
    return 0 if not schema and not errors else 1
