"""Pages to join and to enter a node: home, registration, login, logout, language choice."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import credentials, service
from node.accounts.models import AccountStatus, User
from node.core.errors import N_, DomainError, Throttled, ValidationFailed, http_status
from node.core.i18n import LANGUAGES
from node.http.runtime import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    current_user,
    form_with_csrf,
    language_of,
    node_of,
    render,
    run,
    text,
)
from node.market import pending


async def home(request: Request) -> Response:
    """The home page: what the node is to visitors, what to do next to a logged-in person."""
    user = await current_user(request)
    if user is not None:
        settings = node_of(request).settings
        found = await run(request, lambda session: pending.pending_for(settings, user, session=session))
        return await render(request, "home.html", {"pending": found})
    counts = await run(request, lambda session: service.count_by_status(session=session))
    return await render(request, "home.html", {"member_count": counts.get(AccountStatus.ACTIVE.value, 0)})


async def register(request: Request) -> Response:
    settings = node_of(request).settings
    if await current_user(request) is not None:
        return RedirectResponse("/", status_code=303)
    context: dict[str, object] = {"policy": settings.registration.value, "values": {}, "errors": {}}
    if request.method == "GET":
        context["values"] = {"invite_code": request.query_params.get("invite", "")[:100]}
        return await render(request, "register.html", context)
    form = await form_with_csrf(request)
    data = service.RegistrationInput(
        username=text(form, "username", 100),
        password=str(form.get("password", ""))[:1000],
        email=text(form, "email", 300),
        invite_code=text(form, "invite_code", 100),
        note=text(form, "note", 2000),
        language=language_of(request),
        address=request.client.host if request.client else None,
    )
    if data.password != str(form.get("password_confirm", ""))[:1000]:
        context.update(
            values={
                "username": data.username,
                "email": data.email,
                "note": data.note,
                "invite_code": data.invite_code,
            },
            errors={"password_confirm": N_("The two passwords differ.")},
        )
        return await render(request, "register.html", context, status_code=422)
    try:
        user = await run(request, lambda session: service.register(settings, data, session=session))
    except Throttled:
        raise
    except DomainError as exc:
        context.update(
            values={
                "username": data.username,
                "email": data.email,
                "note": data.note,
                "invite_code": data.invite_code,
            },
            errors=exc.fields or {"username": exc.message},
        )
        return await render(request, "register.html", context, status_code=http_status(exc))
    if user.status == AccountStatus.PENDING:
        return await render(request, "registered_pending.html", {"new_user": user}, status_code=201)
    response = RedirectResponse("/settings/profile?welcome=1", status_code=303)
    await _log_in(request, response, user)
    return response


async def _log_in(request: Request, response: Response, user: User) -> None:
    settings = node_of(request).settings
    secret = await run(
        request,
        lambda session: credentials.open_web_session(user, days=settings.session_days, session=session),
    )
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.is_https,
        path="/",
    )


def _safe_next(target: str) -> str:
    """A local path to go to after login; anything pointing elsewhere becomes the home page."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def login(request: Request) -> Response:
    next_url = _safe_next(request.query_params.get("next", "/"))
    if request.method == "GET":
        return await render(request, "login.html", {"next": next_url, "values": {}, "errors": {}})
    form = await form_with_csrf(request)
    username = text(form, "username", 100)
    password = str(form.get("password", ""))[:1000]
    next_url = _safe_next(text(form, "next", 500) or "/")
    settings = node_of(request).settings
    remote = request.client.host if request.client else None

    def attempt(session: Session) -> User:
        return service.authenticate(
            settings, username=username, password=password, remote_addr=remote, session=session
        )

    delay = await run(request, lambda session: service.login_delay(settings, username, session=session))
    if delay:
        await asyncio.sleep(delay)
    try:
        user = await run(request, attempt)
    except DomainError as exc:
        status = http_status(exc)
        page = await render(
            request,
            "login.html",
            {"next": next_url, "values": {"username": username}, "errors": {}, "error": exc.message},
            status_code=status,
        )
        if status == 429:
            page.headers["Retry-After"] = str(getattr(exc, "retry_after", 60))
        return page
    response = RedirectResponse(next_url, status_code=303)
    await _log_in(request, response, user)
    return response


async def logout(request: Request) -> Response:
    await form_with_csrf(request)
    secret = request.cookies.get(SESSION_COOKIE, "")
    if secret:
        await run(request, lambda session: credentials.close_web_session(secret, session=session))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def choose_language(request: Request) -> Response:
    """Remember the chosen language (cookie, and account when logged in), then go back."""
    form = await form_with_csrf(request)
    language = text(form, "language", 10)
    if language not in LANGUAGES:
        raise ValidationFailed(N_("Unknown language."), fields={"language": N_("Unknown language.")})
    user = await current_user(request)
    if user is not None:

        def store(session: Session) -> None:
            service.set_language(service.reload(user, session=session), language, session=session)

        await run(request, store)
    response = RedirectResponse(_safe_next(text(form, "next", 500) or "/"), status_code=303)
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 86400,
        samesite="lax",
        secure=node_of(request).settings.is_https,
    )
    return response


def routes() -> list[Route]:
    return [
        Route("/", home, name="home"),
        Route("/register", register, methods=["GET", "POST"], name="register"),
        Route("/login", login, methods=["GET", "POST"], name="login"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/language", choose_language, methods=["POST"], name="language"),
    ]
