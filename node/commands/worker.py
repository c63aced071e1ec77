"""``asasap worker``: run the federation worker (deliveries, inbox processing) outside the web server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from node.activitypub.outbox.admin import count_by_state
from node.commands.base import Context, SubParsers, add_json_flag, print_json
from node.core import db, logs
from node.core.jobs import Worker
from node.worker import node_worker

log = logging.getLogger("asasap.federation")


def register(sub: SubParsers) -> None:
    p = sub.add_parser(
        "worker",
        help="run the federation worker (deliveries, inbox processing)",
        description="Deliver queued activities and process received ones until stopped by SIGINT or "
        "SIGTERM (the deliveries in progress are finished first; a second signal stops at once, and what "
        "was in progress is taken up again later). Several workers may run against one database. "
        "Refuses to start on an un-migrated database.",
    )
    p.add_argument("--once", action="store_true", help="process what is due now, then exit")
    add_json_flag(p)
    p.set_defaults(handler=cmd_worker)


def _runner() -> asyncio.Runner:
    """An event loop runner, on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


async def _once(worker: Worker) -> None:
    try:
        while await worker.run_once():
            pass
    finally:
        await worker.aclose()


async def _until_signalled(worker: Worker) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: stopping now", signal.Signals(signum).name)
            task.cancel()
            return
        log.warning("%s: finishing the work in progress, then stopping", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await worker.run(stop)
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def cmd_worker(args: argparse.Namespace, context: Context) -> int:
    settings = context.settings
    settings.effective_secret_key  # noqa: B018 - fail now, with a clear message, if there is none
    db.check_migrated(context.engine)
    logs.configure(settings.log_level, settings.log_format)
    worker = node_worker(settings, context.engine)
    main: Callable[[Worker], Coroutine[Any, Any, None]] = _once if args.once else _until_signalled
    with _runner() as runner:
        runner.run(main(worker))
    with context.session() as session:
        counts = count_by_state(session=session)
    if args.json:
        print_json({"handled": worker.handled, "deliveries": counts})
    else:
        handled = ", ".join(f"{count} {name}" for name, count in worker.handled.items()) or "nothing"
        print(f"Handled: {handled}.")
        print("Deliveries: " + ", ".join(f"{count} {state}" for state, count in counts.items()) + ".")
    return 0
