"""Coordinator and administrator pages: people, pending registrations, roles, suspensions, invitations,
password resets started by a coordinator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from node.accounts import credentials, recovery, service
from node.accounts.models import AccountStatus, Role, User
from node.core.errors import N_
from node.http.pages import confirm
from node.http.runtime import coordinator_required, form_with_csrf, node_of, render, run, text


@coordinator_required
async def users(request: Request, user: User) -> Response:
    status_param = request.query_params.get("status", "")
    status = AccountStatus(status_param) if status_param in AccountStatus._value2member_map_ else None
    query = request.query_params.get("q", "")[:100]

    def load(session: Session) -> dict[str, Any]:
        return {
            "people": service.list_users(status=status, query=query, session=session),
            "counts": service.count_by_status(session=session),
            "invites": credentials.list_invites(session=session) if user.is_admin else [],
        }

    context = await run(request, load)
    context.update(
        status=status_param, q=query, done=request.query_params.get("done"), new_invite=None, reset_link=None
    )
    return await render(request, "admin.html", context)


def _action(session: Session, actor_id: int, username: str, action: str, value: str) -> str:
    """Apply one moderation ``action`` by the coordinator ``actor_id`` to ``username``."""
    actor = service.get_user_by_id(actor_id, session=session)
    target = service.get_user(username, session=session)
    actions: dict[str, Callable[[], object]] = {
        "approve": lambda: service.approve(target, by=actor, session=session),
        "refuse": lambda: service.refuse(target, by=actor, session=session),
        "suspend": lambda: service.suspend(target, by=actor, session=session),
        "reinstate": lambda: service.reinstate(target, by=actor, session=session),
        "role": lambda: service.set_role(target, _role(value), by=actor, session=session),
    }
    if action not in actions:
        raise HTTPException(400, N_("Unknown action."))
    actions[action]()
    return action


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise HTTPException(400, N_("Unknown role.")) from None


@coordinator_required
async def act_on_user(request: Request, user: User) -> Response:
    if request.method == "GET":
        return RedirectResponse("/admin", status_code=303)
    form = await form_with_csrf(request)
    assert user.id is not None
    if request.path_params["action"] == "suspend":
        asking = await confirm.ask(
            request,
            form,
            question=N_("Suspend this member? They will not be able to log in until reinstated."),
            button=N_("Suspend"),
            back="/admin",
        )
        if asking is not None:
            return asking
    if request.path_params["action"] == "reset":
        return await _reset(request, user, form)
    done = await run(
        request,
        _action,
        user.id,
        request.path_params["username"],
        request.path_params["action"],
        text(form, "role", 20),
    )
    back = text(form, "back", 200)
    target = back if back.startswith("/admin") and not back.startswith("//") else "/admin"
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}done={done}", status_code=303)


async def _reset(request: Request, user: User, form: Any) -> Response:
    """A password reset started by a coordinator: the link by e-mail, or shown once to give by hand."""
    asking = await confirm.ask(
        request,
        form,
        question=N_("Reset this member's password? Their sessions go on until they use the link."),
        button=N_("Reset the password"),
        back="/admin",
    )
    if asking is not None:
        return asking
    settings = node_of(request).settings
    username = request.path_params["username"]

    def start(session: Session) -> str | None:
        actor = service.get_user_by_id(user.pk, session=session)
        target = service.get_user(username, session=session)
        return recovery.reset_by_coordinator(settings, target, by=actor, session=session)

    link = await run(request, start)
    if link is None:
        return RedirectResponse("/admin?done=reset", status_code=303)

    def load(session: Session) -> dict[str, Any]:
        return {
            "people": service.list_users(session=session),
            "counts": service.count_by_status(session=session),
            "invites": credentials.list_invites(session=session) if user.is_admin else [],
        }

    context = await run(request, load)
    context.update(status="", q="", done=None, new_invite=None, reset_link=link, reset_for=username)
    return await render(request, "admin.html", context)


@coordinator_required
async def create_invite(request: Request, user: User) -> Response:
    if not user.is_admin:
        raise HTTPException(403, N_("Only an administrator can create invitations."))
    form = await form_with_csrf(request)
    note = text(form, "note", 400)
    _invite, code = await run(
        request, lambda session: credentials.create_invite(by=user, note=note, session=session)
    )

    def load(session: Session) -> dict[str, Any]:
        return {
            "people": service.list_users(session=session),
            "counts": service.count_by_status(session=session),
            "invites": credentials.list_invites(session=session),
        }

    context = await run(request, load)
    context.update(status="", q="", done=None, new_invite=code, reset_link=None)
    return await render(request, "admin.html", context, status_code=201)


def routes() -> list[Route]:
    return [
        Route("/admin", users, name="admin"),
        Route("/admin/invites", create_invite, methods=["POST"], name="create_invite"),
        Route(
            "/admin/users/{username}/{action:str}",
            act_on_user,
            methods=["GET", "POST"],
            name="admin_user_action",
        ),
    ]
