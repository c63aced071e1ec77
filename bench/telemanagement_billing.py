"""Telemanagement billing: a month's invoices for many beneficiaries, as a ratio to the raw PDF
rendering rate of the chosen library measured in the same run.

    .venv/bin/python bench/telemanagement_billing.py [--beneficiaries 1000] [--visits 20] [--json]

Setup (not timed): a fresh SQLite database (PostgreSQL when ``ASASAP_TEST_DATABASE_URL`` is set: a
scratch database is made and dropped), one funder billed ``direct``, ``--beneficiaries`` plans at
24.58 €/h with 10 % paid by the beneficiary, each with ``--visits`` one-hour visits last month clocked
on time with the home's code (rows written in bulk, as the clock would have left them).

Timed, each in one transaction: the month's validation (every visit's anomalies checked), the funder's
statement, and the issue of its invoices (two per plan: funder and beneficiary): for each, the visits
billed, the frozen content, the PDF drawn by fpdf2, the Factur-X CII XML built, checked against its XSD
and embedded, content and PDF sealed, the gapless number, the row written.

Ceiling: fpdf2 drawing the same invoices' PDFs (the frozen contents of the run, nothing else, the
reduced font, or DejaVu Sans for a text beyond it, parsed and its subsets embedded in each as at
issue), in the same process. The ratio says what share of the raw drawing rate the whole issue keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.accounts import service  # noqa: E402
from node.accounts.models import Role  # noqa: E402
from node.core import db  # noqa: E402
from node.settings import load_settings  # noqa: E402
from node.telemanagement import documents, invoices, plans, statements, validation  # noqa: E402
from node.telemanagement.lifecycles import VisitState  # noqa: E402
from node.telemanagement.models import ClockEvent, Visit  # noqa: E402
from node.telemanagement.visits import PARIS  # noqa: E402

PG_ENV = "ASASAP_TEST_DATABASE_URL"
PASSPHRASE = "une phrase de passe pour le banc"


def _database() -> tuple[str, Any]:
    base = os.environ.get(PG_ENV)
    if not base:
        folder = tempfile.mkdtemp(prefix="tmbill-")
        return f"sqlite:///{folder}/bench.db", lambda: None
    name = "bench_" + uuid.uuid4().hex[:10]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url, drop


def run(beneficiaries: int, per_plan: int) -> dict[str, Any]:
    url, drop = _database()
    try:
        return _run(url, beneficiaries, per_plan)
    finally:
        drop()


def _run(url: str, beneficiaries: int, per_plan: int) -> dict[str, Any]:
    settings = load_settings(
        env={},
        database_url=url,
        secret_key="bench-" + "x" * 40,
        data_dir=Path(tempfile.mkdtemp(prefix="tmbill-data-")),
    )
    settings = replace(
        settings,
        telemanagement_issuer_siret="12345678900017",
        telemanagement_sap_declaration="SAP123456789 du 2020-01-15",
    )
    engine = db.make_engine(url)
    db.migrate(engine)
    first = date.today().replace(day=1) - timedelta(days=1)
    month = first.strftime("%Y-%m")
    with db.session_scope(engine) as s:
        coordinator = service.create_user(
            username="coord", password=PASSPHRASE, role=Role.COORDINATOR, session=s
        )
        provider = service.create_user(username="aline", password=PASSPHRASE, session=s)
        funder = plans.create_funder(s, coordinator, name="CD 93", kind="apa", billing="direct")
        terms = plans.parse_terms(
            valid_from=(date.today() - timedelta(days=70)).isoformat(),
            valid_until="",
            hourly_rate="24.58",
            participation="10",
            hours={"housework": "40"},
        )
        for n in range(beneficiaries):
            home = plans.create_beneficiary(
                s,
                settings,
                coordinator,
                name=f"Personne {n}",
                commune="Montreuil",
                address=f"{n} rue de Paris",
            )
            plan = plans.create_plan(
                s, coordinator, beneficiary_id=home.id or 0, funder_id=funder.id or 0,
                folder_number=f"APA-{n}", terms=terms,
            )  # fmt: skip
            for day in range(per_plan):
                start = datetime(first.year, first.month, 1 + day % 28, 8 + day // 28, tzinfo=PARIS)
                end = start + timedelta(hours=1)
                visit = Visit(
                    plan_id=plan.id or 0, category="housework", starts_at=start, ends_at=end,
                    provider_id=provider.id, state=VisitState.DONE, checked_in_at=start, checked_out_at=end,
                )  # fmt: skip
                s.add(visit)
                s.flush()
                for kind, at in (("in", start), ("out", start + timedelta(hours=1))):
                    s.add(
                        ClockEvent(
                            visit_id=visit.id or 0, kind=kind, at=at, method="qr", provider_id=provider.id
                        )
                    )
        funder_id = funder.id or 0
    figures: dict[str, Any] = {
        "database": url.split(":")[0],
        "beneficiaries": beneficiaries,
        "visits": per_plan,
    }
    started = time.perf_counter()
    with db.session_scope(engine) as s:
        validation.validate_month(s, settings, coordinator, funder_id, month)
    figures["validate_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    with db.session_scope(engine) as s:
        lines = statements.statement(s, funder_id, month)[1]
    figures["statement_s"] = round(time.perf_counter() - started, 2)
    assert len(lines) == beneficiaries
    started = time.perf_counter()
    with db.session_scope(engine, write=True) as s:
        made = invoices.issue(s, settings, coordinator, funder_id, month)
        contents = [invoices.content_of(settings, row) for row in made]
    issue_s = time.perf_counter() - started
    assert [row.sequence for row in made] == list(range(1, 2 * beneficiaries + 1))
    started = time.perf_counter()
    for content in contents:
        documents.invoice_pdf(content)
    raw_s = time.perf_counter() - started
    figures.update(
        invoices=len(made),
        issue_s=round(issue_s, 2),
        issued_per_s=round(len(made) / issue_s, 1),
        raw_pdf_per_s=round(len(contents) / raw_s, 1),
        ratio=round(raw_s / issue_s, 3),
    )
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beneficiaries", type=int, default=1000)
    parser.add_argument("--visits", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.beneficiaries, args.visits)
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
