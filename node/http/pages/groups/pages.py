"""Group pages: directory and search, the creation wizard, a group's profile, joining, leaving and
invitations, members and roles with the legal checklist, colleges, rules, notices, the printable
constitution (and its JSON), and "my groups"."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from node.accounts.models import User
from node.activitypub.actors.remote import RemoteActorError, RemoteActors
from node.activitypub.actors.resolve import NotResolvable, resolve
from node.activitypub.models import RemoteActor
from node.activitypub.transport.fetch import RemoteError
from node.catalog.categories import CATEGORIES
from node.core.errors import N_, DomainError, NotFound, ValidationFailed, http_status
from node.groups import associates, constitution, legal, memberships, records, service
from node.groups import profile as group_profile
from node.groups import rules as group_rules
from node.groups import work as group_work
from node.groups.models import Group
from node.http.pages.groups import views
from node.http.pages.groups.forms import form_route
from node.http.pages.market import proposals as proposal_pages
from node.http.runtime import (
    checkbox,
    current_user,
    form_with_csrf,
    language_of,
    login_required,
    node_of,
    render,
    run,
    text,
)

MSG_NOBODY = N_("Nobody was found at this address.")


async def person_address(request: Request, target: str) -> tuple[str, str]:
    """The actor URI (and display name, for another node's) of a person typed as ``name`` (this node),
    ``name@this-host``, ``@name@host`` or an address; another node's is looked up (WebFinger)."""
    settings = node_of(request).settings
    bare = target.strip().removeprefix("@")
    user, _, host = bare.partition("@")
    if user and (not host or host.lower() == settings.domain.lower()) and "/" not in bare:
        return settings.url(f"/users/{user.lower()}"), ""
    found = await remote_actor(request, target, "person")
    return found.uri, found.name or found.handle


async def remote_actor(request: Request, target: str, field: str) -> RemoteActor:
    """The actor at a handle or address of another node, fetched from its origin (outside any
    transaction); :class:`ValidationFailed` on ``field`` when there is none."""
    settings = node_of(request).settings
    actors: RemoteActors = request.app.state.remote_actors
    try:
        uri = await resolve(await actors.fetcher(), target, allow_http=settings.allow_private_addresses)
        return await actors.get_actor(uri)
    except (NotResolvable, RemoteError, RemoteActorError):
        raise ValidationFailed(MSG_NOBODY, fields={field: MSG_NOBODY}) from None


def _group(session: Session, name: str) -> Group:
    return service.group_named(name, session=session)


def _redirect(path: str, done: str = "") -> Response:
    return RedirectResponse(path + (f"?done={done}" if done else ""), status_code=303)


# --- directory --------------------------------------------------------------------------------------


async def directory(request: Request) -> Response:
    """``/groups``: every group of this node, searched by words, legal shape, département, service."""
    params = request.query_params
    q, shape = params.get("q", "")[:100], params.get("shape", "")[:16]
    dep, category = params.get("departement", "")[:3], params.get("category", "")[:64]
    user = await current_user(request)

    def load(session: Session) -> dict[str, Any]:
        found = records.search(session=session, text=q, shape=shape, departement=dep, category=category)
        return {
            "groups": [
                (g, records.member_count(g, session=session), records.json_list(g.categories)) for g in found
            ],
            "mine": records.groups_of_user(user, session=session) if user else [],
            "remote": records.remote_memberships_of(user, session=session) if user else [],
        }

    context = await run(request, load)
    context.update(
        q=q,
        shape=shape,
        departement=dep,
        category=category,
        shapes=legal.SHAPE_LABELS,
        all_categories=CATEGORIES,
    )
    return await render(request, "groups/directory.html", context)


# --- the creation wizard ---------------------------------------------------------------------------------


def _group_input(form: FormData) -> group_profile.GroupInput:
    return group_profile.GroupInput(
        name=text(form, "name", 60),
        display_name=text(form, "display_name", 200),
        summary=text(form, "summary", 4000),
        territory=text(form, "territory", 200),
        legal_shape=text(form, "legal_shape", 20),
        categories=[str(v)[:64] for v in form.getlist("categories")][:26],
        join_policy=text(form, "join_policy", 12) or "approval",
    )


def _wizard_context(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "shapes": legal.SHAPE_LABELS,
        "requirements": {
            shape: [rule(legal.Snapshot([])).label for rule in legal.RULES[shape]] for shape in legal.Shape
        },
        "all_categories": CATEGORIES,
    }


@login_required
async def new_group(request: Request, user: User) -> Response:
    """``/groups/new``: step 1 of the wizard (what, where, which legal shape); then the members page."""
    if request.method == "GET":
        values: dict[str, Any] = {"legal_shape": request.query_params.get("shape", "scic"), "categories": []}
        return await render(request, "groups/new.html", _wizard_context(values, {}))
    form = await form_with_csrf(request)
    data = _group_input(form)
    settings = node_of(request).settings
    try:
        group = await run(request, lambda s: group_profile.create_group(settings, user, data, session=s))
    except DomainError as exc:
        return await render(
            request, "groups/new.html", _wizard_context(vars(data), exc.fields), status_code=http_status(exc)
        )
    return _redirect(f"/groups/{group.name}/members", "created")


# --- profile -------------------------------------------------------------------------------------------


async def profile(request: Request) -> Response:
    """``/groups/{name}`` (HTML): the group's public profile and, for members, its notices."""
    settings = node_of(request).settings
    user = await current_user(request)
    lang = language_of(request, user)
    name = request.path_params["name"]

    def load(session: Session) -> dict[str, Any]:
        group = _group(session, name)
        viewer = views.viewer_of(group, user, session=session)
        offers = [
            proposal_pages.card(settings, p, lang)
            for p in group_work.proposals_of(settings, group, session=session)
            if p.state == "open"
        ]
        return {
            "group": group,
            "viewer": viewer,
            "actor_uri": service.actor_of(settings, group).uri,
            "handle": f"{group.name}@{settings.domain}",
            "member_count": records.member_count(group, session=session),
            "categories_list": records.json_list(group.categories),
            "reputation": views.reputation_of(settings, group, session=session),
            "offers": offers,
            "coordinators": views.member_lines(
                settings, group, list(records.coordinators(group, session=session)), session=session
            ),
            "notices": records.notices_of_group(service.actor_of(settings, group).uri, session=session)
            if viewer.member
            else [],
        }

    context = await run(request, load)
    context.update(shapes=legal.SHAPE_LABELS, done=request.query_params.get("done"))
    return await render(request, "groups/profile.html", context)


# --- joining, leaving, invitations ------------------------------------------------------------------------


@login_required
async def join(request: Request, user: User) -> Response:
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    name = request.path_params["name"]
    message = text(form, "message", 2000)
    await run(request, lambda s: service.join(settings, user, _group(s, name), message, session=s))
    return _redirect(f"/groups/{name}", "asked")


@login_required
async def leave(request: Request, user: User) -> Response:
    form = await form_with_csrf(request)
    name = request.path_params["name"]
    settings = node_of(request).settings
    if not checkbox(form, "confirm"):
        return await render(
            request,
            "groups/confirm.html",
            {
                "action": f"/groups/{name}/leave",
                "question": N_("Leave this group?"),
                "back": f"/groups/{name}",
            },
        )
    await run(request, lambda s: service.leave(settings, user, _group(s, name), session=s))
    return _redirect(f"/groups/{name}", "left")


@login_required
async def invitation(request: Request, user: User) -> Response:
    form = await form_with_csrf(request)
    name = request.path_params["name"]
    settings = node_of(request).settings
    accept = text(form, "answer", 10) == "accept"
    await run(
        request,
        lambda s: service.answer_invitation(settings, user, _group(s, name), accept=accept, session=s),
    )
    return _redirect(f"/groups/{name}", "accepted" if accept else "declined")


@login_required
async def join_remote(request: Request, user: User) -> Response:
    """``POST /groups/join``: ask to join a group of another node, given its handle or address."""
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    target = text(form, "group", 300)
    message = text(form, "message", 2000)
    actor = await remote_actor(request, target, "group")
    await run(request, lambda s: memberships.join_remote(settings, user, actor, message, session=s))
    return _redirect("/me/groups", "asked")


@login_required
async def remote_answer(request: Request, user: User) -> Response:
    """``POST /me/groups/answer``: accept, decline or leave a group of another node."""
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    group_uri = text(form, "group", 2048)
    answer = text(form, "answer", 10)

    def save(session: Session) -> None:
        if answer == "leave":
            memberships.leave_remote(settings, user, group_uri, session=session)
        else:
            memberships.answer_remote_invitation(
                settings, user, group_uri, accept=answer == "accept", session=session
            )

    await run(request, save)
    return _redirect("/me/groups", answer)


@login_required
async def my_groups(request: Request, user: User) -> Response:
    """``/me/groups``: the groups one belongs to, here and on other nodes, invitations and notices."""

    def load(session: Session) -> dict[str, Any]:
        return {
            "mine": records.groups_of_user(user, session=session),
            "remote": records.remote_memberships_of(user, session=session),
            "notices": records.notices_of_user(user, session=session),
        }

    context = await run(request, load)
    context["done"] = request.query_params.get("done")
    return await render(request, "groups/mine.html", context)


# --- members and roles ----------------------------------------------------------------------------------


@login_required
async def members_page(request: Request, user: User) -> Response:
    """``/groups/{name}/members``: members and roles, requests, the legal checklist, colleges (members
    see it; coordinators act on it)."""
    settings = node_of(request).settings
    name = request.path_params["name"]

    def load(session: Session) -> dict[str, Any]:
        group = _group(session, name)
        viewer = views.viewer_of(group, user, session=session)
        if not viewer.member:
            raise NotFound(N_("Only the group's members see this page."))
        waiting = list(records.members(group, session=session, states=["pending", "invited"]))
        return {
            "group": group,
            "viewer": viewer,
            "members": views.member_lines(
                settings, group, list(records.members(group, session=session)), session=session
            ),
            "waiting": views.member_lines(settings, group, waiting, session=session),
            "colleges": records.colleges(group, session=session),
            "categories_for_shape": legal.CATEGORIES_OF[legal.Shape(group.legal_shape)],
            **views.checklist_context(group, session=session),
        }

    context = await run(request, load)
    context.update(
        done=request.query_params.get("done"),
        errors={},
        category_labels=legal.CATEGORY_LABELS,
        bureau_labels=legal.BUREAU_LABELS,
        contract_items=legal.CONTRACT_ITEMS,
        shapes=legal.SHAPE_LABELS,
        all_categories=CATEGORIES,
    )
    return await render(request, "groups/members.html", context)


async def _coordinator_action(request: Request, user: User, action: str) -> Response:
    form = await form_with_csrf(request)
    settings = node_of(request).settings
    name = request.path_params["name"]
    member_id = int(request.path_params.get("member_id", 0))

    if action == "invite":
        target = text(form, "person", 300)
        uri, display = await person_address(request, target)
        await run(request, lambda s: service.invite(settings, user, _group(s, name), uri, display, session=s))
        return _redirect(f"/groups/{name}/members", "invited")

    if action == "remove" and not checkbox(form, "confirm"):
        return await render(
            request,
            "groups/confirm.html",
            {
                "action": f"/groups/{name}/members/{member_id}/remove",
                "question": N_("Remove this member from the group?"),
                "back": f"/groups/{name}/members",
            },
        )

    def save(session: Session) -> str:
        group = _group(session, name)
        if action in ("accept", "reject"):
            service.decide_request(
                settings, user, group, member_id, accept=action == "accept", session=session
            )
        elif action == "role":
            service.set_role(settings, user, group, member_id, text(form, "role", 20), session=session)
        elif action == "remove":
            service.remove(settings, user, group, member_id, session=session)
        elif action == "associate":
            college = text(form, "college_id", 12)
            associates.set_associate(
                settings,
                user,
                group,
                member_id,
                associates.AssociateInput(
                    category=text(form, "category", 20),
                    capital_percent=text(form, "capital_percent", 12),
                    college_id=int(college) if college.isdigit() else None,
                    associate=checkbox(form, "associate"),
                    bureau_role=text(form, "bureau_role", 20),
                    offers=[str(v)[:64] for v in form.getlist("offers")][:26],
                    contract_items=[str(v)[:20] for v in form.getlist("contract_items")][:10],
                    contract_signed_on=text(form, "contract_signed_on", 12),
                ),
                session=session,
            )
        elif action == "college":
            associates.add_college(
                settings, user, group, text(form, "name", 200), text(form, "weight", 12), session=session
            )
        elif action == "college-weight":
            associates.set_college_weight(
                settings, user, group, member_id, text(form, "weight", 12), session=session
            )
        elif action == "college-delete":
            associates.delete_college(settings, user, group, member_id, session=session)
        elif action == "notice":
            service.post_notice(settings, user, group, text(form, "text", 8000), session=session)
            return f"/groups/{name}"
        return f"/groups/{name}/members"

    target = await run(request, save)
    return _redirect(target, action)


def _action(action: str) -> Any:
    @login_required
    async def endpoint(request: Request, user: User) -> Response:
        return await _coordinator_action(request, user, action)

    endpoint.__name__ = f"group_{action.replace('-', '_')}"
    return endpoint


# --- rules and profile -----------------------------------------------------------------------------------


@login_required
async def rules_page(request: Request, user: User) -> Response:
    """``/groups/{name}/rules``: the group's rules (members read them, coordinators write them)."""
    settings = node_of(request).settings
    name = request.path_params["name"]
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = await form_with_csrf(request)
        data = group_profile.RulesInput(
            sharing_rule=text(form, "sharing_rule", 20),
            contribution_rate=text(form, "contribution_rate", 12),
            contribution_brackets=text(form, "contribution_brackets", 1000),
            members_see=text(form, "members_see", 8),
            rules_text=text(form, "rules_text", 8000),
        )
        try:
            await run(
                request,
                lambda s: group_profile.update_rules(settings, user, _group(s, name), data, session=s),
            )
            return _redirect(f"/groups/{name}/rules", "saved")
        except ValidationFailed as exc:
            errors, values, status = exc.fields, vars(data), http_status(exc)

    def load(session: Session) -> dict[str, Any]:
        group = _group(session, name)
        viewer = views.viewer_of(group, user, session=session)
        if not viewer.member:
            raise NotFound(N_("Only the group's members see this page."))
        return {"group": group, "viewer": viewer}

    context = await run(request, load)
    group = context["group"]
    context.update(
        errors=errors,
        values=values
        or {
            "sharing_rule": group.sharing_rule,
            "contribution_rate": f"{group.contribution_rate.normalize():f}",
            "contribution_brackets": group_rules.brackets_text(
                group_rules.brackets_from_json(group.contribution_brackets)
            ),
            "members_see": group.members_see,
            "rules_text": group.rules_text,
        },
        sharing=group_rules.SHARING_LABELS,
        members_see=group_rules.MEMBERS_SEE,
        done=request.query_params.get("done"),
    )
    return await render(request, "groups/rules.html", context, status_code=status)


@login_required
async def edit_profile(request: Request, user: User) -> Response:
    """``/groups/{name}/edit``: coordinators change the group's public profile (its followers receive
    the group's ``Update``)."""
    settings = node_of(request).settings
    name = request.path_params["name"]
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        form = await form_with_csrf(request)
        data = _group_input(form)
        try:
            await run(
                request,
                lambda s: group_profile.update_profile(settings, user, _group(s, name), data, session=s),
            )
            return _redirect(f"/groups/{name}", "saved")
        except ValidationFailed as exc:
            errors, values, status = exc.fields, vars(data), http_status(exc)

    def load(session: Session) -> Group:
        group = _group(session, name)
        service.require_coordinator(group, user, session=session)
        return group

    group = await run(request, load)
    context = _wizard_context(
        values
        or {
            "display_name": group.display_name,
            "summary": group.summary,
            "territory": group.territory,
            "legal_shape": group.legal_shape,
            "categories": records.json_list(group.categories),
            "join_policy": group.join_policy,
        },
        errors,
    )
    context["group"] = group
    return await render(request, "groups/edit.html", context, status_code=status)


# --- the constitution -------------------------------------------------------------------------------------


async def constitution_page(request: Request) -> Response:
    """``/groups/{name}/constitution``: the summary of the group's constitution, to print; ``.json``."""
    settings = node_of(request).settings
    name = request.path_params["name"]
    user = await current_user(request)
    shape = request.query_params.get("shape", "")

    def load(session: Session) -> dict[str, Any]:
        group = _group(session, name)
        viewer = views.viewer_of(group, user, session=session)
        if not viewer.member:
            raise NotFound(N_("Only the group's members see this page."))
        try:
            wanted = legal.Shape(shape).value if shape else None
        except ValueError:
            wanted = None
        return {
            "document": constitution.summary(settings, group, session=session, shape=wanted),
            "group": group,
            "checks": associates.checklist(group, session=session, shape=wanted),
        }

    context = await run(request, load)
    if request.url.path.endswith(".json"):
        return JSONResponse(context["document"])
    context.update(category_labels=legal.CATEGORY_LABELS, shapes=legal.SHAPE_LABELS, today=date.today())
    return await render(request, "groups/constitution.html", context)


def routes() -> list[BaseRoute]:
    members = "/groups/{name}/members"
    return [
        Route("/groups", directory, name="groups"),
        Route("/groups/new", new_group, methods=["GET", "POST"], name="new_group"),
        form_route("/groups/join", join_remote, "/me/groups", name="join_remote_group"),
        Route("/me/groups", my_groups, name="my_groups"),
        form_route("/me/groups/answer", remote_answer, "/me/groups", name="remote_group_answer"),
        form_route("/groups/{name}/join", join, "/groups/{name}"),
        form_route("/groups/{name}/leave", leave, "/groups/{name}"),
        form_route("/groups/{name}/invitation", invitation, "/groups/{name}"),
        form_route("/groups/{name}/invite", _action("invite"), members),
        form_route("/groups/{name}/colleges", _action("college"), members),
        form_route("/groups/{name}/colleges/{member_id:int}", _action("college-weight"), members),
        form_route("/groups/{name}/colleges/{member_id:int}/delete", _action("college-delete"), members),
        form_route("/groups/{name}/notices", _action("notice"), "/groups/{name}"),
        *(
            form_route(f"/groups/{{name}}/members/{{member_id:int}}/{action}", _action(action), members)
            for action in ("accept", "reject", "role", "remove", "associate")
        ),
        Route("/groups/{name}/rules", rules_page, methods=["GET", "POST"]),
        Route("/groups/{name}/edit", edit_profile, methods=["GET", "POST"]),
        Route("/groups/{name}/constitution", constitution_page),
        Route("/groups/{name}/constitution.json", constitution_page),
    ]
