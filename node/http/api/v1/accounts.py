"""API operations on accounts, tokens, categories and the node itself."""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from node.accounts import credentials, gdpr, service
from node.accounts import federation as account_events
from node.accounts.models import AccountStatus, ApiToken, User
from node.activitypub import discovery
from node.catalog import categories
from node.http.api import schemas
from node.http.api.framework import Operation, operation
from node.http.runtime import node_of, run


def _account(request: Request, session: Session, user: User) -> schemas.Account:
    url = node_of(request).settings.url(f"/users/{user.username}")
    return schemas.Account.of(user, service.user_categories(user, session=session), url)


@operation("GET", "/me", summary="The caller's account and profile", tag="accounts", response=schemas.Account)
async def get_me(request: Request, caller: User, _body: None) -> schemas.Account:
    return await run(
        request, lambda session: _account(request, session, service.reload(caller, session=session))
    )


@operation(
    "PATCH",
    "/me",
    summary="Change the caller's profile",
    tag="accounts",
    body=schemas.ProfileUpdate,
    response=schemas.Account,
)
async def update_me(request: Request, caller: User, body: schemas.ProfileUpdate) -> schemas.Account:
    def save(session: Session) -> schemas.Account:
        user = service.reload(caller, session=session)
        current = service.user_categories(user, session=session)
        changes = body.model_dump(exclude_unset=True, mode="json")
        language = changes.pop("language", None)
        data = service.ProfileInput(
            display_name=user.display_name,
            bio=user.bio,
            postal_code=user.postal_code,
            commune_name=user.commune_name,
            offers_services=user.offers_services,
            requests_services=user.requests_services,
            provider_status=user.provider_status,
            siret=user.siret or "",
            categories=current,
        )
        for key, value in changes.items():
            if value is not None:
                setattr(data, key, value)
        if "postal_code" in changes and "commune_name" not in changes:
            data.commune_name = ""
        service.update_profile(user, data, session=session)
        if language:
            service.set_language(user, language, session=session)
        account_events.profile_changed(node_of(request).settings, user, session=session)
        return _account(request, session, user)

    return await run(request, save)


@operation("GET", "/me/export", summary="Everything the node holds about the caller", tag="accounts")
async def export_me(request: Request, caller: User, _body: None) -> Response:
    data = await run(
        request,
        lambda session: gdpr.export_account(
            caller,
            node_url=node_of(request).settings.base_url,
            session=session,
            exporters=node_of(request).exporters,
        ),
    )
    return JSONResponse(data)


def _token(token: ApiToken) -> schemas.Token:
    assert token.id is not None
    return schemas.Token(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
    )


@operation(
    "GET",
    "/tokens",
    summary="The caller's active API tokens",
    tag="tokens",
    response=schemas.Token,
    list_response=True,
)
async def list_tokens(request: Request, caller: User, _body: None) -> list[schemas.Token]:
    tokens = await run(request, lambda session: credentials.list_api_tokens(caller, session=session))
    return [_token(t) for t in tokens]


@operation(
    "POST",
    "/tokens",
    summary="Create an API token (the secret is shown once)",
    tag="tokens",
    body=schemas.TokenCreate,
    response=schemas.NewToken,
    status=201,
)
async def create_token(request: Request, caller: User, body: schemas.TokenCreate) -> schemas.NewToken:
    token, secret = await run(
        request,
        lambda session: service.create_token(node_of(request).settings, caller, body.name, session=session),
    )
    return schemas.NewToken(**_token(token).model_dump(), token=secret)


@operation(
    "DELETE", "/tokens/{token_id:int}", summary="Revoke an API token", tag="tokens", status=204, errors=(404,)
)
async def revoke_token(request: Request, caller: User, _body: None) -> Response:
    await run(
        request,
        lambda session: credentials.revoke_api_token(
            caller, request.path_params["token_id"], session=session
        ),
    )
    return Response(status_code=204)


@operation(
    "GET",
    "/categories",
    summary="The 26 service categories (art. D7231-1 of the labour code)",
    tag="reference",
    auth="none",
    response=schemas.Category,
    list_response=True,
)
async def list_categories(request: Request, caller: User | None, _body: None) -> list[schemas.Category]:
    return [
        schemas.Category(
            slug=c.slug,
            label_fr=c.label_fr,
            label_en=c.label_en,
            group=c.group.value,
            requires_approval=c.requires_approval,
            legal_ref=c.legal_ref,
        )
        for c in categories.CATEGORIES
    ]


@operation(
    "GET",
    "/node",
    summary="This node: name, territory, mode, registration policy",
    tag="reference",
    auth="none",
    response=schemas.NodeDescription,
)
async def describe_node(request: Request, caller: User | None, _body: None) -> schemas.NodeDescription:
    settings = node_of(request).settings
    return schemas.NodeDescription(
        name=settings.node_name,
        territory=settings.territory,
        mode=settings.mode.value,
        registration=settings.registration.value,
        base_url=settings.base_url,
        software="asasap",
        version=discovery.software_version(),
    )


@operation(
    "GET",
    "/admin/users",
    summary="People registered on this node",
    tag="admin",
    auth="coordinator",
    response=schemas.UserSummary,
    list_response=True,
    query={
        "status": {"schema": {"type": "string", "enum": [s.value for s in AccountStatus]}},
        "q": {"description": "Part of a username or display name"},
    },
)
async def admin_list_users(request: Request, caller: User, _body: None) -> list[schemas.UserSummary]:
    raw_status = request.query_params.get("status")
    status = (
        AccountStatus(raw_status) if raw_status and raw_status in AccountStatus._value2member_map_ else None
    )
    people = await run(
        request,
        lambda session: service.list_users(
            status=status, query=request.query_params.get("q", "")[:100], session=session
        ),
    )
    return [
        schemas.UserSummary(
            username=p.username,
            display_name=p.display_name,
            role=p.role,
            status=p.status,
            created_at=p.created_at,
        )
        for p in people
    ]


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [
        get_me,
        update_me,
        export_me,
        list_tokens,
        create_token,
        revoke_token,
        list_categories,
        describe_node,
        admin_list_users,
    ]
