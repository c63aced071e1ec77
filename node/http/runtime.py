"""What every handler needs: the node's shared objects, a transaction in a worker thread, the current
person, CSRF checks and page rendering."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import quote

from jinja2 import Environment
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from node.accounts import credentials
from node.accounts.gdpr import Exporter
from node.accounts.models import User
from node.core.db import retry_when_busy, session_scope
from node.core.errors import N_
from node.core.i18n import LANGUAGES, Catalogs, current_language, negotiate
from node.market import notifications
from node.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")

SESSION_COOKIE = "asasap_session"
CSRF_COOKIE = "asasap_csrf"
LANGUAGE_COOKIE = "asasap_lang"
CSRF_FIELD = "csrf_token"
_UNSET = object()


@dataclass(frozen=True)
class Node:
    """The objects a running node shares between requests (``app.state.node``)."""

    settings: Settings
    engine: Engine
    catalogs: Catalogs
    templates: Environment
    secret: bytes
    exporters: tuple[Exporter, ...] = ()  # what other capabilities add to an account export

    def csrf_token(self, csrf_cookie: str) -> str:
        return hmac.new(self.secret, b"csrf:" + csrf_cookie.encode(), hashlib.sha256).hexdigest()[:40]


def node_of(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


async def run(
    request: Request, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run ``fn(session, ...)`` in one transaction, in a worker thread (database and hashing block)."""
    # Requests that change things take SQLite's write lock up front, so a read-then-write cannot fail
    # with "database is locked" when the worker commits in between.
    return await _run(request, request.method not in ("GET", "HEAD"), fn, *args, **kwargs)


async def run_writing(
    request: Request, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """:func:`run` for a transaction that writes whatever the request's method (counting a request)."""
    return await _run(request, True, fn, *args, **kwargs)


async def _run(
    request: Request, write: bool, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    engine = node_of(request).engine

    def work() -> T:
        return retry_when_busy(engine, lambda: _once(engine, write, fn, *args, **kwargs))

    return await run_in_threadpool(work)


async def run_on_engine(request: Request, fn: Callable[[Engine], T]) -> T:
    """Run ``fn(engine)``, which opens its own transactions, in a worker thread (retried as :func:`run`)."""
    engine = node_of(request).engine
    return await run_in_threadpool(lambda: retry_when_busy(engine, lambda: fn(engine)))


def _once(
    engine: Engine, write: bool, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    with session_scope(engine, write=write) as session:
        return fn(session, *args, **kwargs)


async def current_user(request: Request) -> User | None:
    """The person logged in on this request, if any (cached on the request), read with their count of
    unread notifications in one transaction: every page's menu shows it."""
    if getattr(request.state, "user", _UNSET) is _UNSET and request.cookies.get(SESSION_COOKIE, ""):
        return await run(request, lambda session: user_in(request, session))
    return user_in(request, None)


def user_in(request: Request, session: Session | None) -> User | None:
    """:func:`current_user` read in the handler's own transaction ``session`` (one transaction for the
    page rather than two), or as already read."""
    cached = getattr(request.state, "user", _UNSET)
    if cached is not _UNSET:
        assert cached is None or isinstance(cached, User)
        return cached
    secret = request.cookies.get(SESSION_COOKIE, "")
    user, unread = None, 0
    if secret:
        assert session is not None, "a session cookie is read in a transaction"
        user, unread = _web_session(session, secret)
    request.state.user = user
    request.state.unread_notifications = unread
    return user


def _web_session(session: Session, secret: str) -> tuple[User | None, int]:
    user = credentials.user_for_web_session(secret, session=session)
    return user, notifications.unread_count(user.pk, session=session) if user is not None else 0


async def unread_notifications(request: Request) -> int:
    """How many notifications the person logged in has not read (0 for visitors): the count read with
    their session, else (a person set otherwise on the request) counted now."""
    user = await current_user(request)
    if user is None:
        return 0
    read = getattr(request.state, "unread_notifications", None)
    if isinstance(read, int):
        return read
    unread = await run(request, lambda session: notifications.unread_count(user.pk, session=session))
    request.state.unread_notifications = unread
    return unread


def notifications_seen(request: Request) -> None:
    """The person has just seen all their notifications: this request's pages count none unread."""
    request.state.unread_notifications = 0


async def require_user(request: Request) -> User:
    user = await current_user(request)
    if user is None:
        raise HTTPException(401, N_("Log in to see this page."))
    return user


async def require_coordinator(request: Request) -> User:
    user = await require_user(request)
    if not user.is_coordinator:
        raise HTTPException(403, N_("This page is for coordinators."))
    return user


Endpoint = Callable[[Request], Awaitable[Response]]
UserEndpoint = Callable[[Request, User], Awaitable[Response]]


def login_required(endpoint: UserEndpoint) -> Endpoint:
    """Call ``endpoint(request, user)`` for a logged-in person; send others to the login page."""

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            raise HTTPException(401, N_("Log in to see this page."))
        return await endpoint(request, user)

    return wrapper


def coordinator_required(endpoint: UserEndpoint) -> Endpoint:
    """Like :func:`login_required`, and 403 for people who are not coordinators or admins."""

    async def check(request: Request, user: User) -> Response:
        if not user.is_coordinator:
            raise HTTPException(403, N_("This page is for coordinators."))
        return await endpoint(request, user)

    return login_required(functools.wraps(endpoint)(check))


def language_of(request: Request, user: User | None = None) -> str:
    """The language for this request: the person's choice, else Accept-Language, else the default."""
    if user is not None and user.language in LANGUAGES:
        return user.language
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return negotiate(request.headers.get("accept-language"), node_of(request).settings.default_language)


def csrf_cookie_value(request: Request) -> str:
    value: str = request.scope["asasap.csrf"]
    return value


def csrf_token(request: Request) -> str:
    return node_of(request).csrf_token(csrf_cookie_value(request))


async def form_with_csrf(request: Request, *, max_files: int = 0) -> FormData:
    """The submitted form, once its CSRF token is checked; 403 otherwise. Files are refused unless
    ``max_files`` allows some."""
    form = await request.form(max_files=max_files, max_fields=200)
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_token(request)):
        raise HTTPException(
            403, N_("The form expired or did not come from this site. Reload the page and try again.")
        )
    return form


def text(form: FormData, name: str, max_length: int = 10_000) -> str:
    """A text field of ``form`` (empty when absent); over-long values are refused with 400."""
    value = form.get(name, "")
    if isinstance(value, UploadFile):
        raise HTTPException(400, N_("Files are not accepted here."))
    if len(value) > max_length:
        raise HTTPException(400, N_("A field is too long."))
    return value.strip()


def checkbox(form: FormData, name: str) -> bool:
    return form.get(name) in ("on", "true", "1", "yes")


async def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render a page in the request's language."""
    node = node_of(request)
    user = await current_user(request)
    language = language_of(request, user)
    unread = await unread_notifications(request)
    token = current_language.set(language)
    try:
        page = node.templates.get_template(template).render(
            request=request,
            user=user,
            lang=language,
            settings=node.settings,
            csrf_token=csrf_token(request),
            unread_notifications=unread,
            **(context or {}),
        )
    finally:
        current_language.reset(token)
    return HTMLResponse(page, status_code=status_code)


def gettext_for(request: Request, user: User | None = None) -> Callable[[str], str]:
    language = language_of(request, user)
    catalogs = node_of(request).catalogs
    return lambda message: catalogs.gettext(message, language)
