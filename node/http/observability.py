"""What operators and their tools read: ``/healthz`` (the process answers), ``/readyz`` (database
reachable, migrations current, a worker alive: send traffic here) and ``/metrics`` (Prometheus text
format, only for the addresses of ``ASASAP_METRICS_ALLOW``). See docs/admin/metrics.md."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from node.activitypub import queues
from node.core import db, mail, metrics, processes
from node.http.runtime import Node, node_of, run
from node.settings import networks

log = logging.getLogger("asasap.web")


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def readyz(request: Request) -> Response:
    node = node_of(request)
    checks: dict[str, dict[str, Any]] = {}

    def database(session: Session) -> int:
        session.connection().exec_driver_sql("SELECT 1")
        return processes.alive("worker", node.settings.worker_stale_seconds, session=session)

    try:
        workers = await run(request, database)
        checks["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - any driver error means not ready
        checks["database"] = {"ok": False, "detail": type(exc).__name__}
        workers = 0
    try:
        await asyncio.to_thread(db.check_migrated, node.engine)
        checks["migrations"] = {"ok": True, "revision": db.head_revision()}
    except db.NotMigrated:
        checks["migrations"] = {"ok": False, "detail": "the database is not at the code's revision"}
    checks["worker"] = {"ok": workers > 0, "alive": workers}
    ok = all(check["ok"] for check in checks.values())
    return JSONResponse({"ok": ok, "checks": checks}, status_code=200 if ok else 503)


def _allowed(request: Request) -> bool:
    allowed = node_of(request).settings.metrics_allow
    if request.client is None or not allowed.strip():
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:
        return False
    return any(address in network for network in networks(allowed))


async def metrics_text(request: Request) -> Response:
    if not _allowed(request):
        return PlainTextResponse("Not found.", status_code=404)
    stale = node_of(request).settings.worker_stale_seconds

    def read(session: Session) -> str:
        total = metrics.merge(processes.snapshots(session=session))
        gauges = queues.gauges(session=session)
        waiting_mail = float(mail.waiting_count(session=session))  # the e-mail queue (core.mail)
        gauges.setdefault("asasap_queue_depth", {})[(("queue", "mail"), ("state", "waiting"))] = waiting_mail
        gauges["asasap_processes"] = {
            (("role", role),): float(processes.alive(role, stale, session=session))
            for role in ("web", "worker")
        }
        return metrics.render(total, gauges)

    body = await run(request, read)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_text, methods=["GET"]),
    ]


def install_heartbeat(app: Starlette, *, interval: float = processes.BEAT_SECONDS) -> None:
    """Beat as a web process (:mod:`node.core.processes`) for as long as ``app`` runs."""
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        node: Node = app.state.node
        heart = processes.Heartbeat(node.engine, roles=("web",))

        async def beating() -> None:
            while True:
                try:
                    await asyncio.to_thread(heart.beat_now)
                except Exception:  # noqa: BLE001 - a missed beat is logged; the next one may work
                    log.warning("could not record the web process's heartbeat", exc_info=True)
                await asyncio.sleep(interval)

        async with outer(application) as state:
            task = asyncio.create_task(beating(), name="asasap-heartbeat")
            try:
                yield state
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
