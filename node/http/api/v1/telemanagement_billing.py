"""API operations of telemanagement billing: a funder's monthly statement, resolving a visit's
anomalies with an ESPPADOM adjustment code, validating a month, issuing and listing invoices, and
correcting one by a credit note (coordinators; a beneficiary lists their own), and an invoice's URSSAF
avance immédiate payment request. Invoices' and credit notes' PDFs (Factur-X) are downloaded from the
page address given as ``pdf_url``; the ESPPADOM exports (DELIVERY, INVOICE) from the billing page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from node.accounts.models import User
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.api.v1.telemanagement import MONTH, TAG, answer
from node.http.runtime import node_of, run
from node.telemanagement import avance_immediate, checks, credit_notes, invoices, statements, validation
from node.telemanagement.billing_models import Invoice, MonthValidation

FUNDER = {"schema": {"type": "integer", "minimum": 1, "maximum": 2_000_000_000}, "required": True}


class StatementLineOut(BaseModel):
    folder_number: str
    beneficiary: str
    activity: str
    granted_minutes: int
    planned_minutes: int
    done_minutes: int
    adjusted_minutes: int = Field(
        description="Billed: retained periods of resolved visits, clocked otherwise"
    )
    hourly_rate_cents: int
    amount_cents: int
    beneficiary_cents: int
    funder_cents: int


class ResolutionIn(Strict):
    code: Literal["CRE", "MDT", "SUP", "COA", "COD", "CO2"] = Field(
        description="ESPPADOM_EFFECTIVITY_AJUST code; it must fit what was clocked"
    )
    retained_start: str = Field(default="", max_length=40, description="Paris time, for a correction")
    retained_end: str = Field(default="", max_length=40, description="Paris time, for a correction")
    note: str = Field(default="", max_length=500)


class ResolutionOut(BaseModel):
    visit_id: int
    code: str
    kinds: list[str]
    retained_start: datetime | None
    retained_end: datetime | None


class MonthIn(Strict):
    funder_id: int = Field(ge=1, le=2_000_000_000)
    month: str = Field(pattern=r"^(20\d\d|2100)-(0[1-9]|1[0-2])$")


class ValidationOut(BaseModel):
    funder_id: int
    month: str
    validated_at: datetime


class InvoiceOut(BaseModel):
    id: int
    number: str
    month: str
    recipient: str
    funder_id: int
    beneficiary_id: int
    issued_on: date
    total_cents: int
    pdf_sha256: str
    pdf_url: str


def _invoice(row: Invoice) -> InvoiceOut:
    return answer(InvoiceOut, row, pdf_url=f"/telemanagement/invoices/{row.id}.pdf")


def _month(request: Request) -> str:
    return request.query_params.get("month") or checks.current_month()


@operation(
    "GET",
    "/statements",
    summary="A funder's monthly statement: hours granted, planned, done, amounts and shares (coordinators)",
    tag=TAG,
    auth="coordinator",
    response=StatementLineOut,
    list_response=True,
    query={"funder_id": FUNDER, "month": MONTH},
    errors=(404,),
)
async def get_statement(request: Request, caller: User, _body: None) -> list[StatementLineOut]:
    funder_id = int(request.query_params["funder_id"])
    month = _month(request)
    _funder, lines = await run(request, lambda s: statements.statement(s, funder_id, month))
    return [answer(StatementLineOut, line) for line in lines]


@operation(
    "POST",
    "/visits/{visit_id:int}/resolution",
    summary="Resolve a visit's anomalies with an ESPPADOM adjustment code (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=ResolutionIn,
    response=ResolutionOut,
    status=201,
    errors=(404, 409),
)
async def resolve(request: Request, caller: User, body: ResolutionIn) -> ResolutionOut:
    visit_id: int = request.path_params["visit_id"]
    settings = node_of(request).settings

    def save(s: Session) -> ResolutionOut:
        row = validation.resolve(
            s, settings, caller, visit_id, body.code, retained_start=body.retained_start,
            retained_end=body.retained_end, note=body.note,
        )  # fmt: skip
        return answer(ResolutionOut, row, kinds=row.kinds.split(","))

    return await run(request, save)


@operation(
    "POST",
    "/month-validations",
    summary="Validate and lock a funder's month once it is over and no anomaly is open (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=MonthIn,
    response=ValidationOut,
    status=201,
    errors=(404, 409),
)
async def validate_month(request: Request, caller: User, body: MonthIn) -> ValidationOut:
    settings = node_of(request).settings

    def save(s: Session) -> ValidationOut:
        row: MonthValidation = validation.validate_month(s, settings, caller, body.funder_id, body.month)
        return answer(ValidationOut, row)

    return await run(request, save)


@operation(
    "POST",
    "/invoices",
    summary="Issue the invoices of a funder's validated month not issued yet (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=MonthIn,
    response=InvoiceOut,
    list_response=True,
    status=201,
    errors=(404, 409),
)
async def issue_invoices(request: Request, caller: User, body: MonthIn) -> list[InvoiceOut]:
    settings = node_of(request).settings
    return await run(
        request,
        lambda s: [_invoice(row) for row in invoices.issue(s, settings, caller, body.funder_id, body.month)],
    )


@operation(
    "GET",
    "/invoices",
    summary="Invoices: all for coordinators (optionally of one funder), one's own for a beneficiary",
    tag=TAG,
    response=InvoiceOut,
    list_response=True,
    query={"funder_id": {"schema": {"type": "integer", "minimum": 1, "maximum": 2_000_000_000}}},
)
async def list_invoices(request: Request, caller: User, _body: None) -> list[InvoiceOut]:
    raw = request.query_params.get("funder_id")
    funder_id = int(raw) if raw else None

    def load(s: Session) -> list[InvoiceOut]:
        if caller.is_coordinator:
            return [_invoice(row) for row in invoices.invoices(s, funder_id=funder_id)]
        return [_invoice(row) for row in invoices.own(s, caller, funder_id)]

    return await run(request, load)


class CreditNoteIn(Strict):
    reason: str = Field(min_length=1, max_length=500, description="Why the invoice is corrected")
    amount: str = Field(
        default="", max_length=12, description="Euros, e.g. 24.58; empty for all that is left to credit"
    )


class CreditNoteOut(BaseModel):
    id: int
    number: str = Field(description="In the invoices' sequence")
    invoice_id: int
    reason: str
    issued_on: date
    total_cents: int
    pdf_sha256: str
    pdf_url: str


@operation(
    "POST",
    "/invoices/{invoice_id:int}/credit-notes",
    summary="Correct an issued invoice by a credit note (avoir), for all or part of it (coordinators)",
    tag=TAG,
    auth="coordinator",
    body=CreditNoteIn,
    response=CreditNoteOut,
    status=201,
    errors=(404, 409),
)
async def credit_invoice(request: Request, caller: User, body: CreditNoteIn) -> CreditNoteOut:
    invoice_id: int = request.path_params["invoice_id"]
    settings = node_of(request).settings

    def save(s: Session) -> CreditNoteOut:
        row = credit_notes.issue(s, settings, caller, invoice_id, body.reason, body.amount)
        return answer(CreditNoteOut, row, pdf_url=f"/telemanagement/credit-notes/{row.id}.pdf")

    return await run(request, save)


class UrssafClientIn(Strict):
    id_client: str = Field(
        min_length=1, max_length=50, description="The client's URSSAF identifier (idClient)"
    )
    birth_date: str = Field(min_length=1, max_length=10, description="The client's birth date, YYYY-MM-DD")
    code_nature: str = Field(
        min_length=1, max_length=10, description="URSSAF nature code of the service (codeNature)"
    )


@operation(
    "POST",
    "/invoices/{invoice_id:int}/urssaf-payment-request",
    summary=(
        "The URSSAF avance immédiate payment request (demandePaiement) of an invoice to a beneficiary, "
        "as the JSON array to send to the API Tiers de prestation; the client's details are not kept "
        "(coordinators)"
    ),
    tag=TAG,
    auth="coordinator",
    body=UrssafClientIn,
    errors=(404, 409),
)
async def urssaf_payment_request(request: Request, caller: User, body: UrssafClientIn) -> Response:
    invoice_id: int = request.path_params["invoice_id"]
    settings = node_of(request).settings
    document = await run(
        request,
        lambda s: avance_immediate.payment_request(
            s, settings, invoice_id, client_id=body.id_client, birth_date=body.birth_date,
            nature=body.code_nature,
        ),
    )  # fmt: skip
    return JSONResponse(document, headers={"Cache-Control": "private, no-store"})


def operations() -> list[Operation]:
    return [
        get_statement, resolve, validate_month, issue_invoices, list_invoices, credit_invoice,
        urssaf_payment_request,
    ]  # fmt: skip
