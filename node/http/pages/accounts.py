"""A person's own pages: public profile, profile editing, account settings (password, API tokens,
data export, deletion)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import credentials, gdpr, service
from node.accounts import federation as account_events
from node.accounts.models import User
from node.core.errors import N_, DomainError, NotFound, Throttled, http_status
from node.groups import export as groups_export
from node.groups import verified
from node.http.pages.market import evaluations as evaluation_pages
from node.http.runtime import (
    SESSION_COOKIE,
    checkbox,
    current_user,
    form_with_csrf,
    login_required,
    node_of,
    render,
    run,
    text,
)


async def profile(request: Request) -> Response:
    username = request.path_params["username"]

    def load(session: Session) -> tuple[User, list[str]]:
        person = service.get_user(username, session=session)
        return person, service.user_categories(person, session=session)

    person, slugs = await run(request, load)
    viewer = await current_user(request)
    if not person.is_active and not (viewer and (viewer.is_coordinator or viewer.id == person.id)):
        raise NotFound(N_("No such account."))
    # -- reputation block (node.http.pages.market.evaluations) --
    extra = await run(request, evaluation_pages.profile_context, node_of(request).settings, person)
    facts = await run(request, lambda session: verified.facts_of([person], session=session))
    extra["verified"] = facts.get(person.pk, [])
    return await render(request, "profile.html", {"person": person, "person_categories": slugs, **extra})


def profile_values(user: User, slugs: list[str]) -> dict[str, Any]:
    return {
        "display_name": user.display_name,
        "bio": user.bio,
        "postal_code": user.postal_code,
        "commune_name": user.commune_name,
        "offers_services": user.offers_services,
        "requests_services": user.requests_services,
        "provider_status": user.provider_status,
        "siret": user.siret or "",
        "approval_number": user.approval_number or "",
        "categories": slugs,
    }


@login_required
async def edit_profile(request: Request, user: User) -> Response:
    if request.method == "GET":
        slugs = await run(request, lambda session: service.user_categories(user, session=session))
        return await render(
            request,
            "profile_edit.html",
            {
                "values": profile_values(user, slugs),
                "errors": {},
                "welcome": "welcome" in request.query_params,
            },
        )
    form = await form_with_csrf(request)
    data = service.ProfileInput(
        display_name=text(form, "display_name", 200),
        bio=text(form, "bio", 3000),
        postal_code=text(form, "postal_code", 20),
        commune_name=text(form, "commune_name", 200),
        offers_services=checkbox(form, "offers_services"),
        requests_services=checkbox(form, "requests_services"),
        provider_status=text(form, "provider_status", 40),
        siret=text(form, "siret", 40),
        approval_number=text(form, "approval_number", 80),
        categories=[str(v)[:64] for v in form.getlist("categories")][:40],
    )

    settings = node_of(request).settings

    def save(session: Session) -> None:
        account = service.reload(user, session=session)
        service.update_profile(account, data, session=session)
        account_events.profile_changed(settings, account, session=session)

    try:
        await run(request, save)
    except DomainError as exc:
        values = dict(data.__dict__)
        return await render(
            request,
            "profile_edit.html",
            {"values": values, "errors": exc.fields},
            status_code=http_status(exc),
        )
    return RedirectResponse(f"/users/{user.username}?saved=1", status_code=303)


async def _settings_page(request: Request, user: User, *, status_code: int = 200, **extra: Any) -> Response:
    tokens = await run(request, lambda session: credentials.list_api_tokens(user, session=session))
    context: dict[str, Any] = {"tokens": tokens, "errors": {}, "new_token": None, "saved": None}
    context.update(extra)
    return await render(request, "settings.html", context, status_code=status_code)


@login_required
async def account_settings(request: Request, user: User) -> Response:
    return await _settings_page(request, user, saved=request.query_params.get("saved"))


@login_required
async def change_password(request: Request, user: User) -> Response:
    form = await form_with_csrf(request)
    current = str(form.get("current_password", ""))[:1000]
    new = str(form.get("new_password", ""))[:1000]
    if new != str(form.get("new_password_confirm", ""))[:1000]:
        return await _settings_page(
            request, user, status_code=422, errors={"new_password_confirm": N_("The two passwords differ.")}
        )

    def save(session: Session) -> str:
        account = service.reload(user, session=session)
        service.change_password(account, current=current, new=new, session=session)
        return credentials.open_web_session(
            account, days=node_of(request).settings.session_days, session=session
        )

    try:
        secret = await run(request, save)
    except DomainError as exc:
        return await _settings_page(request, user, status_code=http_status(exc), errors=exc.fields)
    response = RedirectResponse("/settings/account?saved=password", status_code=303)
    settings = node_of(request).settings
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.is_https,
        path="/",
    )
    return response


@login_required
async def create_token(request: Request, user: User) -> Response:
    form = await form_with_csrf(request)
    name = text(form, "name", 200)
    try:
        _token, secret = await run(
            request,
            lambda session: service.create_token(node_of(request).settings, user, name, session=session),
        )
    except Throttled:
        raise
    except DomainError as exc:
        return await _settings_page(request, user, status_code=http_status(exc), errors=exc.fields)
    return await _settings_page(request, user, status_code=201, new_token=secret)


@login_required
async def revoke_token(request: Request, user: User) -> Response:
    await form_with_csrf(request)
    token_id = request.path_params["token_id"]
    await run(request, lambda session: credentials.revoke_api_token(user, token_id, session=session))
    return RedirectResponse("/settings/account?saved=revoked", status_code=303)


@login_required
async def export_data(request: Request, user: User) -> Response:
    data = await run(
        request,
        lambda session: gdpr.export_account(
            user,
            node_url=node_of(request).settings.base_url,
            session=session,
            exporters=node_of(request).exporters,
        ),
    )
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="asasap-{user.username}.json"'},
    )


@login_required
async def delete_account(request: Request, user: User) -> Response:
    if request.method == "GET":
        return await render(request, "delete_account.html", {"errors": {}})
    form = await form_with_csrf(request)
    password = str(form.get("password", ""))[:1000]
    confirm = text(form, "confirm_username", 100)

    settings = node_of(request).settings

    def destroy(session: Session) -> None:
        account = service.reload(user, session=session)
        gdpr.check_deletion(account, password=password, confirm_username=confirm, session=session)
        account_events.account_deleted(settings, account, session=session)
        groups_export.erase(account, session=session)
        gdpr.erase(account, session=session)

    try:
        await run(request, destroy)
    except DomainError as exc:
        return await render(
            request,
            "delete_account.html",
            {"errors": exc.fields, "error": exc.message},
            status_code=http_status(exc),
        )
    request.state.user = None
    response = await render(request, "deleted.html", {})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def routes() -> list[Route]:
    return [
        Route("/users/{username}", profile, name="profile"),
        Route("/settings/profile", edit_profile, methods=["GET", "POST"], name="edit_profile"),
        Route("/settings/account", account_settings, name="account_settings"),
        Route("/settings/password", change_password, methods=["POST"], name="change_password"),
        Route("/settings/tokens", create_token, methods=["POST"], name="create_token"),
        Route("/settings/tokens/{token_id:int}/revoke", revoke_token, methods=["POST"], name="revoke_token"),
        Route("/settings/export", export_data, name="export_data"),
        Route("/settings/delete", delete_account, methods=["GET", "POST"], name="delete_account"),
    ]
