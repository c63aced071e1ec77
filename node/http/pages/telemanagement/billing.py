"""The billing pages of telemanagement:

- ``/telemanagement/billing?funder=&month=``: for coordinators, a funder's month: its open anomalies
  each with the form resolving it (adjustment code, retained period), the month's validation, its
  invoices (issue, download), the ESPPADOM exports (ORDER, DELIVERY and INVOICE, XML and CSV) and the
  beneficiaries' tax certificates;
- ``/telemanagement/invoices/{id}.pdf``: an invoice (a coordinator, or the beneficiary for theirs);
- ``/telemanagement/invoices/{id}/credit``: a coordinator's credit note on an invoice (reason, amount,
  after a confirmation); ``/telemanagement/credit-notes/{id}.pdf``: its PDF (as for the invoice);
- ``/telemanagement/beneficiaries/{id}/certificate-{year}.pdf``: a tax certificate (likewise);
- ``/telemanagement/invoices/{id}/urssaf.json``: a coordinator's URSSAF avance immédiate payment
  request of an invoice to a beneficiary, from a form (client identifier, birth date, nature code
  posted, never stored);
- ``/me/invoices``: a beneficiary's own invoices and certificates.

Every form's URL answers GET by sending back to the billing page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts.models import User
from node.core.errors import N_, DomainError, http_status
from node.http.pages.telemanagement import labels
from node.http.runtime import coordinator_required, form_with_csrf, login_required, node_of, render, run, text
from node.settings import Settings
from node.telemanagement import (
    adjustments,
    avance_immediate,
    certificates,
    checks,
    credit_notes,
    esppadom,
    esppadom_invoice,
    esppadom_order,
    invoices,
    plans,
    validation,
)

ADJUSTMENT_LABELS = {
    "CRE": N_("CRE · visit created without clock times"),
    "MDT": N_("MDT · visit modified, clock times kept"),
    "SUP": N_("SUP · visit deleted, not billed"),
    "COA": N_("COA · arrival time missing, corrected"),
    "COD": N_("COD · departure time missing, corrected"),
    "CO2": N_("CO2 · both clock times missing, corrected"),
}
RECIPIENTS = {"funder": N_("Funder"), "beneficiary": N_("Beneficiary")}
Endpoint = Callable[[Request], Awaitable[Response]]
assert set(ADJUSTMENT_LABELS) == set(adjustments.BY_CODE)


def _funder_and_month(request: Request, values: dict[str, str] | None = None) -> tuple[int, str]:
    source = values if values is not None else request.query_params
    funder = str(source.get("funder", ""))
    month = str(source.get("month", ""))
    try:
        checks.month_bounds(month)
    except DomainError:
        month = checks.current_month()
    return (int(funder) if funder.isdigit() and len(funder) < 10 else 0), month


def _target(funder_id: int, month: str, done: str = "") -> str:
    query = {"funder": str(funder_id), "month": month} | ({"done": done} if done else {})
    return "/telemanagement/billing?" + urlencode(query)


def _context(session: Session, settings: Any, funder_id: int, month: str) -> dict[str, Any]:
    funders = plans.funders(session)
    if funder_id not in {f.id for f in funders}:
        funder_id = funders[0].id or 0 if funders else 0
    context: dict[str, Any] = {"funders": funders, "funder_id": funder_id, "month": month}
    if not funder_id:
        return context
    people = invoices.beneficiaries_by_id(session)
    issued = [row for row in invoices.invoices(session, funder_id=funder_id) if row.month == month]
    context.update(
        open=validation.open_anomalies(session, settings, funder_id, month),
        validated=validation.validation_of(session, funder_id, month),
        invoices=issued,
        credit_notes=credit_notes.of_invoices(session, [row.id or 0 for row in issued]),
        names={key: row.name for key, row in people.items()},
        certificates=[
            (people[b_id], certificates.years(session, b_id))
            for b_id in sorted({i.beneficiary_id for i in issued})
        ],
        esppadom_kind=any(f.id == funder_id and f.kind in esppadom.TYPE_AIDE for f in funders),
        urssaf=bool(settings.telemanagement_urssaf_tiers_id.strip()),
    )
    return context


async def _billing_page(
    request: Request, funder_id: int, month: str, *, errors: dict[str, str] | None = None,
    message: str | None = None, status_code: int = 200, visit_id: int = 0, invoice_id: int = 0,
) -> Response:  # fmt: skip
    settings = node_of(request).settings
    context = await run(request, lambda s: _context(s, settings, funder_id, month))
    return await render(
        request,
        "telemanagement/billing.html",
        {
            **context,
            **labels.ALL,
            "adjustment_labels": ADJUSTMENT_LABELS,
            "recipients": RECIPIENTS,
            "errors": errors or {},
            "message": message,
            "error_visit": visit_id,
            "error_invoice": invoice_id,
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@coordinator_required
async def billing(request: Request, user: User) -> Response:
    funder_id, month = _funder_and_month(request)
    return await _billing_page(request, funder_id, month)


async def _act(
    request: Request, action: Callable[[Session, dict[str, str]], Any], done: str, *, visit_id: int = 0
) -> Response:
    funder_id, month = _funder_and_month(request)
    if request.method == "GET":
        return RedirectResponse(_target(funder_id, month), status_code=303)
    form = await form_with_csrf(request)
    values = {name: text(form, name, 500) for name in form}
    funder_id, month = _funder_and_month(request, values)
    try:
        await run(request, lambda s: action(s, values))
    except DomainError as exc:
        return await _billing_page(
            request, funder_id, month, errors=exc.fields, message=exc.message,
            status_code=http_status(exc), visit_id=visit_id,
        )  # fmt: skip
    return RedirectResponse(_target(funder_id, month, done), status_code=303)


@coordinator_required
async def resolve(request: Request, user: User) -> Response:
    visit_id: int = request.path_params["visit_id"]
    settings = node_of(request).settings

    def action(s: Session, v: dict[str, str]) -> Any:
        return validation.resolve(
            s, settings, user, visit_id, v.get("code", ""), retained_start=v.get("retained_start", ""),
            retained_end=v.get("retained_end", ""), note=v.get("note", ""),
        )  # fmt: skip

    return await _act(request, action, "resolved", visit_id=visit_id)


def _month_action(
    name: str, act: Callable[[Session, Settings, User, int, str], object], done: str
) -> Endpoint:
    """The form acting on the funder's month it posts (validating it, issuing its invoices)."""

    async def page(request: Request, user: User) -> Response:
        settings = node_of(request).settings

        def action(s: Session, v: dict[str, str]) -> Any:
            funder_id, month = _funder_and_month(request, v)
            return act(s, settings, user, funder_id, month)

        return await _act(request, action, done)

    page.__name__ = page.__qualname__ = name  # the route's name
    return coordinator_required(page)


validate = _month_action("validate", validation.validate_month, "validated")
issue = _month_action("issue", invoices.issue, "issued")


@coordinator_required
async def credit(request: Request, user: User) -> Response:
    invoice_id: int = request.path_params["invoice_id"]
    settings = node_of(request).settings

    def action(s: Session, v: dict[str, str]) -> Any:
        return credit_notes.issue(s, settings, user, invoice_id, v.get("reason", ""), v.get("amount", ""))

    return await _act(request, action, "credited")


async def _download(request: Request, fn: Callable[[Session], tuple[bytes, str]], media: str) -> Response:
    """Answer ``fn``'s bytes as an attachment named as ``fn`` says, or its refusal as an error page."""
    try:
        body, name = await run(request, fn)
    except DomainError as exc:
        raise HTTPException(http_status(exc), exc.message) from None
    return _attachment(body, media, name)


def _attachment(body: bytes, media: str, name: str) -> Response:
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


class _Numbered(Protocol):
    number: str


R = TypeVar("R", bound=_Numbered)


def _readable_pdf(
    key: str, readable: Callable[[Session, User, int], R], pdf_of: Callable[[Settings, R], bytes], stem: str
) -> Endpoint:
    """The page answering the PDF of one numbered document (``{stem}-{number}.pdf``) the person may read:
    404 when there is none, 403 when it is not theirs."""

    async def page(request: Request, user: User) -> Response:
        row_id: int = request.path_params[key]
        settings = node_of(request).settings

        def load(s: Session) -> tuple[bytes, str]:
            row = readable(s, user, row_id)
            return pdf_of(settings, row), f"{stem}-{row.number}.pdf"

        return await _download(request, load, "application/pdf")

    page.__name__ = page.__qualname__ = f"{key.removesuffix('_id')}_pdf"  # the route's name
    return login_required(page)


invoice_pdf = _readable_pdf("invoice_id", invoices.readable, invoices.pdf_of, "facture")
credit_note_pdf = _readable_pdf("credit_note_id", credit_notes.readable, credit_notes.pdf_of, "avoir")


@login_required
async def certificate_pdf(request: Request, user: User) -> Response:
    beneficiary_id: int = request.path_params["beneficiary_id"]
    year: int = request.path_params["year"]
    settings = node_of(request).settings
    return await _download(
        request,
        lambda s: (
            certificates.certificate_pdf(s, settings, user, beneficiary_id, year),
            f"attestation-fiscale-{year}.pdf",
        ),
        "application/pdf",
    )


ESPPADOM_FILES: dict[str, tuple[Callable[[Session, Any, int, str], bytes | str], str, str]] = {
    "esppadom.xml": (esppadom.delivery_xml, "application/xml", "esppadom-delivery"),
    "esppadom.csv": (esppadom.delivery_csv, "text/csv; charset=utf-8", "esppadom-delivery"),
    "esppadom-invoice.xml": (esppadom_invoice.invoice_xml, "application/xml", "esppadom-invoice"),
    "esppadom-invoice.csv": (esppadom_invoice.invoice_csv, "text/csv; charset=utf-8", "esppadom-invoice"),
    "esppadom-order.xml": (esppadom_order.order_xml, "application/xml", "esppadom-order"),
    "esppadom-order.csv": (esppadom_order.order_csv, "text/csv; charset=utf-8", "esppadom-order"),
}


@coordinator_required
async def esppadom_export(request: Request, user: User) -> Response:
    funder_id: int = request.path_params["funder_id"]
    make, media, stem = ESPPADOM_FILES[request.url.path.rpartition("/")[2]]
    _, month = _funder_and_month(request)
    settings = node_of(request).settings

    extension = media.partition(";")[0].rpartition("/")[2]

    def body(s: Session) -> tuple[bytes, str]:
        made = make(s, settings, funder_id, month)
        return made.encode() if isinstance(made, str) else made, f"{stem}-{funder_id}-{month}.{extension}"

    return await _download(request, body, media)


@coordinator_required
async def urssaf_request(request: Request, user: User) -> Response:
    """The avance immédiate payment request of an invoice, made from the form's client details."""
    invoice_id: int = request.path_params["invoice_id"]
    if request.method == "GET":
        funder_id, month = _funder_and_month(request)
        return RedirectResponse(_target(funder_id, month), status_code=303)
    form = await form_with_csrf(request)
    funder_id, month = _funder_and_month(
        request, {name: text(form, name, 20) for name in ("funder", "month")}
    )
    settings = node_of(request).settings
    number = ""

    def load(s: Session) -> bytes:
        nonlocal number
        number = invoices.readable(s, user, invoice_id).number
        return avance_immediate.payment_request_json(
            s, settings, invoice_id, client_id=text(form, "id_client", 60),
            birth_date=text(form, "birth_date", 20), nature=text(form, "code_nature", 20),
        )  # fmt: skip

    try:
        body = await run(request, load)
    except DomainError as exc:
        return await _billing_page(
            request, funder_id, month, errors=exc.fields, message=exc.message,
            status_code=http_status(exc), invoice_id=invoice_id,
        )  # fmt: skip
    return _attachment(body, "application/json", f"demande-paiement-{number}.json")


@login_required
async def my_invoices(request: Request, user: User) -> Response:
    def load(s: Session) -> dict[str, Any]:
        homes = invoices.homes_of(s, user)
        rows = [
            (home, [i for i in invoices.invoices(s, beneficiary_id=home.id) if i.recipient == "beneficiary"],
             certificates.years(s, home.id or 0))
            for home in homes
        ]  # fmt: skip
        return {"homes": rows}

    return await render(request, "telemanagement/my_invoices.html", await run(request, load))


def routes() -> list[Route]:
    both = ["GET", "POST"]
    return [
        Route("/telemanagement/billing", billing, name="telemanagement_billing"),
        Route("/telemanagement/billing/visits/{visit_id:int}/resolve", resolve, methods=both),
        Route("/telemanagement/billing/validate", validate, methods=both),
        Route("/telemanagement/billing/issue", issue, methods=both),
        Route("/telemanagement/invoices/{invoice_id:int}.pdf", invoice_pdf),
        Route("/telemanagement/invoices/{invoice_id:int}/credit", credit, methods=both),
        Route("/telemanagement/credit-notes/{credit_note_id:int}.pdf", credit_note_pdf),
        Route(
            "/telemanagement/beneficiaries/{beneficiary_id:int}/certificate-{year:int}.pdf", certificate_pdf
        ),
        Route("/telemanagement/funders/{funder_id:int}/esppadom.xml", esppadom_export),
        Route("/telemanagement/funders/{funder_id:int}/esppadom.csv", esppadom_export),
        Route("/telemanagement/funders/{funder_id:int}/esppadom-invoice.xml", esppadom_export),
        Route("/telemanagement/funders/{funder_id:int}/esppadom-invoice.csv", esppadom_export),
        Route("/telemanagement/funders/{funder_id:int}/esppadom-order.xml", esppadom_export),
        Route("/telemanagement/funders/{funder_id:int}/esppadom-order.csv", esppadom_export),
        Route("/telemanagement/invoices/{invoice_id:int}/urssaf.json", urssaf_request, methods=both),
        Route("/me/invoices", my_invoices, name="my_invoices"),
    ]
