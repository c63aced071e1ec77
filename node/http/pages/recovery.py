"""Pages to get back into an account: "Mot de passe oublié ?" (a link by e-mail) and the reset page."""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import recovery
from node.core import mail
from node.core.errors import N_, DomainError, Throttled, http_status
from node.http.runtime import SESSION_COOKIE, form_with_csrf, node_of, render, run, text


async def forgot(request: Request) -> Response:
    """Ask for a reset link by e-mail address; the same answer whether an account has it or not."""
    settings = node_of(request).settings
    context: dict[str, object] = {"mail_on": mail.enabled(settings), "values": {}, "errors": {}}
    if request.method == "GET" or not mail.enabled(settings):
        return await render(request, "password_forgot.html", context)
    form = await form_with_csrf(request)
    address = text(form, "email", 300)
    remote = request.client.host if request.client else None
    try:
        await run(
            request,
            lambda session: recovery.request_reset(settings, address, remote_addr=remote, session=session),
        )
    except Throttled:
        raise
    except DomainError as exc:
        context.update(values={"email": address}, errors=exc.fields or {"email": exc.message})
        return await render(request, "password_forgot.html", context, status_code=http_status(exc))
    context.update(sent=True)
    return await render(request, "password_forgot.html", context)


async def reset(request: Request) -> Response:
    """Choose a new password through the link of the e-mail; every session of the account ends."""
    secret = request.path_params["secret"]
    found = await run(request, lambda session: recovery.usable(secret, session=session) is not None)
    context: dict[str, object] = {"secret": secret, "usable": found, "errors": {}}
    if request.method == "GET" or not found:
        return await render(request, "password_reset.html", context, status_code=200 if found else 410)
    form = await form_with_csrf(request)
    password = str(form.get("password", ""))[:1000]
    if password != str(form.get("password_confirm", ""))[:1000]:
        context.update(errors={"password_confirm": N_("The two passwords differ.")})
        return await render(request, "password_reset.html", context, status_code=422)

    def change(session: Session) -> None:
        recovery.reset_password(secret, password, session=session)

    try:
        await run(request, change)
    except DomainError as exc:
        context.update(errors=exc.fields or {"password": exc.message})
        return await render(request, "password_reset.html", context, status_code=http_status(exc))
    response = RedirectResponse("/login?reset=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def routes() -> list[Route]:
    return [
        Route("/password/forgot", forgot, methods=["GET", "POST"], name="password_forgot"),
        Route("/password/reset/{secret}", reset, methods=["GET", "POST"], name="password_reset"),
    ]
