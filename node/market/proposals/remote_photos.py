"""Copying the photos of other nodes' proposals, as a worker job.

Storing a received proposal (:mod:`node.market.proposals.federation`) only records its pictures'
addresses and marks it due (``photos_due_at``); this job, outside the inbox and its transaction, fetches
each picture through the same code as actors' pictures (:func:`node.activitypub.pictures.copy_picture`:
guarded fetcher, size cap, content type, re-encoded by Pillow without metadata, anything that is not a
picture refused) and records our copy, served at ``/photos/<hash>.jpg``. A picture the other server
cannot give now (unavailable, asked to come back later) is tried again after a while, at most
:data:`MAX_TRIES` times; one refused (not found, gone, not a picture, too large) is skipped for good.
Either way the proposal stays, shown without that photo. An ``Update`` with other pictures starts over
for the new addresses only.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine
from sqlmodel import col, select

from node.activitypub.actors.remote import RemoteActors
from node.activitypub.pictures import copy_picture
from node.activitypub.transport.fetch import RemoteError, retryable
from node.core.db import session_scope
from node.core.errors import ValidationFailed
from node.core.jobs import Backoff
from node.core.timeutil import utcnow
from node.market.models import Proposal
from node.market.proposals import photos
from node.settings import Settings

log = logging.getLogger("asasap.federation")

MAX_TRIES = 3
RETRY = Backoff(base=timedelta(minutes=5), cap=timedelta(hours=6))
LEASE = timedelta(minutes=10)  # a worker that died half-way leaves the proposal due again after this


class RemotePhotosJob:
    """Copies the photos of a few due remote proposals per pass."""

    name = "remote-photos"

    def __init__(self, settings: Settings, engine: Engine, remote: RemoteActors, *, batch: int = 8) -> None:
        self.settings = settings
        self.engine = engine
        self.remote = remote
        self.batch = batch

    def _claim(self) -> list[tuple[int, str]]:
        now = utcnow()
        with session_scope(self.engine, write=True) as session:
            rows = session.exec(
                select(Proposal)
                .where(col(Proposal.photos_due_at) <= now)
                .order_by(col(Proposal.photos_due_at))
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            claimed = []
            for row in rows:
                row.photos_due_at = now + LEASE
                session.add(row)
                assert row.id is not None
                claimed.append((row.id, row.photos or ""))
            return claimed

    async def _copy(self, entries: list[dict[str, Any]]) -> None:
        fetcher = await self.remote.fetcher()
        for entry in entries:
            if "digest" in entry or entry.get("skipped"):
                continue
            url = str(entry["url"])
            try:
                entry["digest"] = await copy_picture(
                    fetcher, url, photos.folder(self.settings), size=photos.SIZE, square=False
                )
            except ValidationFailed:
                log.info("photo %s skipped: not a usable image", url)
                entry["skipped"] = True
            except RemoteError as exc:
                entry["tries"] = int(entry.get("tries", 0)) + 1
                if not retryable(exc) or entry["tries"] >= MAX_TRIES:
                    log.info("photo %s skipped: %s", url, exc)
                    entry["skipped"] = True
                else:
                    log.info("photo %s not copied yet: %s", url, exc)

    def _save(self, proposal_id: int, before: str, entries: list[dict[str, Any]]) -> None:
        with session_scope(self.engine, write=True) as session:
            row = session.get(Proposal, proposal_id)
            if row is None or (row.photos or "") != before:
                return  # gone, or an Update changed the pictures meanwhile (it set its own due time)
            row.photos = json.dumps(entries, ensure_ascii=False)
            waiting = [int(e.get("tries", 0)) for e in entries if "digest" not in e and not e.get("skipped")]
            row.photos_due_at = utcnow() + RETRY.after(max(waiting)) if waiting else None
            session.add(row)

    async def run_once(self) -> int:
        """Copy the photos of the due proposals; how many proposals were handled."""
        claimed = await anyio.to_thread.run_sync(self._claim)
        for proposal_id, before in claimed:
            entries = [dict(entry) for entry in json.loads(before or "[]") if isinstance(entry, dict)]
            await self._copy(entries)
            await anyio.to_thread.run_sync(self._save, proposal_id, before, entries)
        return len(claimed)

    async def aclose(self) -> None:
        return None
