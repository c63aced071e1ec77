"""What makes the node's pages an installable web app: the manifest (the node's own name, its icons),
a small service worker at the root (its scope is every page) and the page it shows offline.

The service worker keeps the shell (styles, scripts, icons, the offline page) and answers a page
request that fails for want of a network with the offline page; it never caches people's pages, which
are private and change."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from node.http.pages.assets import STATIC_DIR
from node.http.runtime import gettext_for, node_of, render

THEME = "#1f4fa3"


async def manifest(request: Request) -> Response:
    settings = node_of(request).settings
    _ = gettext_for(request)
    document = {
        "name": settings.node_name,
        "short_name": settings.node_name[:12],
        "description": _("Household and family services near you, offered and asked for by its members."),
        "lang": settings.default_language,
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return JSONResponse(document, media_type="application/manifest+json")


async def service_worker(request: Request) -> Response:
    # Served from the root (not /static) so that its scope covers every page; never cached itself, so
    # that a new version reaches browsers on their next visit.
    return FileResponse(
        STATIC_DIR / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


async def offline(request: Request) -> Response:
    return await render(request, "offline.html")


def routes() -> list[Route]:
    return [
        Route("/manifest.webmanifest", manifest, name="manifest"),
        Route("/sw.js", service_worker, name="service_worker"),
        Route("/offline", offline, name="offline"),
    ]
