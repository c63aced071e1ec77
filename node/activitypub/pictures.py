"""Our copies of pictures that other servers publish (actors' ``icon``, proposals' ``attachment``
images): fetched through the guarded fetcher (its size cap, content types and SSRF guard), then made
safe exactly like an upload (:func:`node.core.images.reencode`: format sniffed by Pillow, upright,
resized, re-encoded without metadata, so a file that is not a picture, or a polyglot, is refused) and
stored by content hash. The reader's browser never asks the other server."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread

from node.activitypub.transport.fetch import Fetcher
from node.core import images


async def copy_picture(fetcher: Fetcher, url: str, folder: Path, *, size: int, square: bool) -> str:
    """Fetch the picture at ``url``, store a safe copy under ``folder``; its content hash.

    Raises :class:`~node.activitypub.transport.fetch.RemoteError` when it cannot be fetched and
    :class:`~node.core.errors.ValidationFailed` when what came is not a usable picture."""
    data = await fetcher.get_image(url)

    def made_safe() -> str:
        picture = images.reencode(data, max_bytes=fetcher.max_bytes, size=size, square=square)
        return images.store(folder, picture)

    return await anyio.to_thread.run_sync(made_safe)
