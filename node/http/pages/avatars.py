"""Profile pictures on the pages: the upload (or removal) from the profile form, and the pictures
themselves, served from the data folder under their content hash (cached for ever)."""

from __future__ import annotations

from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from node.accounts import avatars, service
from node.accounts import federation as account_events
from node.accounts.models import User
from node.core.errors import N_, DomainError, NotFound, http_status
from node.http.pages import accounts as account_pages
from node.http.runtime import form_with_csrf, login_required, node_of, render, run

CACHE_FOREVER = "public, max-age=31536000, immutable"


@login_required
async def change_avatar(request: Request, user: User) -> Response:
    """``POST /settings/avatar``: a new picture (field ``avatar``), or none (``remove``)."""
    settings = node_of(request).settings
    try:
        form = await form_with_csrf(request, max_files=1)
        upload = form.get("avatar")
        data = await upload.read(settings.max_body_bytes + 1) if isinstance(upload, UploadFile) else b""
        remove = form.get("remove") == "1"
    finally:
        await request.close()  # the upload's temporary file

    def save(session: Session) -> None:
        account = service.reload(user, session=session)
        if remove:
            avatars.remove_avatar(account, session=session)
        else:
            avatars.set_avatar(settings, account, data, session=session)
        account_events.profile_changed(settings, account, session=session)  # the actor's new icon

    try:
        await run(request, save)
    except DomainError as exc:  # the profile form again, the picture's error beside its field
        slugs = await run(request, lambda session: service.user_categories(user, session=session))
        return await render(
            request,
            "profile_edit.html",
            {"values": account_pages.profile_values(user, slugs), "errors": {}, "avatar_error": exc.message},
            status_code=http_status(exc),
        )
    return RedirectResponse("/settings/profile?avatar=saved", status_code=303)


async def avatar(request: Request) -> Response:
    """``GET /avatars/<hash>.jpg``."""
    found = avatars.path_of(node_of(request).settings, request.path_params["digest"])
    if found is None or not found.is_file():
        raise NotFound(N_("No such picture."))
    return FileResponse(found, media_type="image/jpeg", headers={"Cache-Control": CACHE_FOREVER})


def routes() -> list[Route]:
    return [
        Route("/settings/avatar", change_avatar, methods=["POST"], name="change_avatar"),
        Route("/avatars/{digest}.jpg", avatar, name="avatar"),
    ]
