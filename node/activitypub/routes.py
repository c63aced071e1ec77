"""ActivityPub and discovery routes (actors, WebFinger, host-meta, NodeInfo, collections)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
