"""What telemanagement adds to a person's account export (right of access): as a beneficiary whose
account is linked to their file, the file (with what is sealed about them, opened for them), their
visits and the invoices addressed to them; as a provider, the visits assigned to them and their clock
events (the homes named by commune only: the beneficiaries' files are theirs, not the provider's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session, col, select

from node.accounts.models import User
from node.core.timeutil import isoformat
from node.settings import Settings
from node.telemanagement import invoices, plans
from node.telemanagement.models import Beneficiary, CarePlan, ClockEvent, Visit


def _visit(visit: Visit) -> dict[str, Any]:
    return {
        "id": visit.id,
        "activity": visit.category,
        "starts_at": isoformat(visit.starts_at),
        "ends_at": isoformat(visit.ends_at),
        "state": visit.state,
        "checked_in_at": isoformat(visit.checked_in_at),
        "checked_out_at": isoformat(visit.checked_out_at),
        "cancel_reason": visit.cancel_reason,
    }


def _as_beneficiary(session: Session, settings: Settings, home: Beneficiary) -> dict[str, Any]:
    details = plans.private_details(
        session, settings, home, reader_id=home.user_id, fields="address,door_code,health", purpose="export"
    )
    plan_ids = list(session.exec(select(CarePlan.id).where(CarePlan.beneficiary_id == home.id)))
    visits: list[Visit] = (
        list(
            session.exec(select(Visit).where(col(Visit.plan_id).in_(plan_ids)).order_by(col(Visit.starts_at)))
        )
        if plan_ids
        else []
    )
    return {
        "name": home.name,
        "commune": home.commune,
        "address": details.address,
        "door_code": details.door_code,
        "health": details.health,
        "visits": [_visit(visit) for visit in visits],
        "invoices": [
            {
                "number": row.number,
                "month": row.month,
                "issued_on": row.issued_on.isoformat(),
                "total_cents": row.total_cents,
                "pdf_sha256": row.pdf_sha256,
            }
            for row in invoices.invoices(session, beneficiary_id=home.id)
            if row.recipient == "beneficiary"
        ],
    }


def sections_for(settings: Settings) -> Callable[..., dict[str, Any]]:
    def sections(user: User, actor_uri: str, *, session: Session) -> dict[str, Any]:
        homes = invoices.homes_of(session, user)
        assigned = session.exec(
            select(Visit).where(Visit.provider_id == user.id).order_by(col(Visit.starts_at))
        )
        events = session.exec(
            select(ClockEvent).where(ClockEvent.provider_id == user.id).order_by(col(ClockEvent.at))
        )
        communes = {b.id: b.commune for b in session.exec(select(Beneficiary))}
        plan_homes = {p.id: p.beneficiary_id for p in session.exec(select(CarePlan))}
        return {
            "telemanagement": {
                "as_beneficiary": [_as_beneficiary(session, settings, home) for home in homes],
                "as_provider": {
                    "visits": [
                        {**_visit(visit), "commune": communes.get(plan_homes.get(visit.plan_id, 0), "")}
                        for visit in assigned
                    ],
                    "clock_events": [
                        {
                            "visit_id": event.visit_id,
                            "kind": event.kind,
                            "at": isoformat(event.at),
                            "received_at": isoformat(event.received_at),
                            "method": event.method,
                            "manual_reason": event.manual_reason,
                        }
                        for event in events
                    ],
                },
            }
        }

    return sections
