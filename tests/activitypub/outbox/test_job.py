"""The worker loop: passes over jobs, idle polling, waking, failing jobs, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from node.accounts.actors import DIRECTORY
from node.activitypub.actors.local import LocalActor
from node.activitypub.inbox.processing import InboxJob
from node.activitypub.outbox.job import DeliveryJob
from node.core.jobs import Worker, job_name
from node.settings import Settings
from node.worker import node_worker
from tests.support.accounts import make_user
from tests.support.delivery import (
    InboxSink,
    Reply,
    deliveries,
    local_person,
    publish_note,
    running_sink,
)

LIMIT = 20.0  # seconds a scenario may take before it counts as stuck


class CountingJob:
    """A job that hands out ``plan[i]`` items on its i-th pass (0 once the plan is used up)."""

    def __init__(self, plan: list[int], *, fail_on: set[int] | None = None) -> None:
        self.plan = plan
        self.fail_on = fail_on or set()
        self.passes = 0
        self.closed = False
        self.called = asyncio.Event()

    async def run_once(self) -> int:
        self.passes += 1
        self.called.set()
        if self.passes in self.fail_on:
            raise RuntimeError(f"pass {self.passes} broke")
        return self.plan[self.passes - 1] if self.passes <= len(self.plan) else 0

    async def aclose(self) -> None:
        self.closed = True


class OtherJob(CountingJob):
    name = "other"


@pytest.fixture
def sink() -> Iterator[InboxSink]:
    with running_sink() as server:
        yield server


def test_run_once_runs_every_job_and_counts(settings: Settings, engine: Engine) -> None:
    first, second = CountingJob([2, 0]), OtherJob([5, 1])
    worker = Worker(settings, engine, [first, second])
    assert asyncio.run(worker.run_once()) == 7
    assert asyncio.run(worker.run_once()) == 1
    assert worker.handled == {"counting": 2, "other": 6}
    assert (first.passes, second.passes) == (2, 2)


def test_a_failing_job_does_not_stop_the_others(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    broken, fine = CountingJob([1, 1], fail_on={1}), OtherJob([3])
    worker = Worker(settings, engine, [broken, fine])
    with caplog.at_level(logging.ERROR, logger="asasap.federation"):
        assert asyncio.run(worker.run_once()) == 3
    assert "worker job counting failed" in caplog.text
    assert asyncio.run(worker.run_once()) == 1


def test_run_goes_again_at_once_while_there_is_work(settings: Settings, engine: Engine) -> None:
    job = CountingJob([1, 1, 1, 1, 1])
    worker = Worker(settings, engine, [job], idle_interval=3600)  # an idle wait would never end in time

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        while job.passes < 6:  # five busy passes, then the first idle one
            await asyncio.wait_for(job.called.wait(), LIMIT)
            job.called.clear()
        stop.set()
        await asyncio.wait_for(running, LIMIT)

    asyncio.run(scenario())
    assert job.passes == 6 and job.closed


def test_wake_and_stop_cut_the_idle_wait_short(settings: Settings, engine: Engine) -> None:
    job = CountingJob([])
    worker = Worker(settings, engine, [job], idle_interval=3600)

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        await asyncio.wait_for(job.called.wait(), LIMIT)
        job.called.clear()
        waker = threading.Thread(target=worker.wake)  # as a web request thread would after publishing
        waker.start()
        waker.join()
        await asyncio.wait_for(job.called.wait(), LIMIT)
        stop.set()
        await asyncio.wait_for(running, LIMIT)

    asyncio.run(scenario())
    assert job.passes == 2 and job.closed
    worker.wake()  # harmless once stopped


def test_idle_polling_finds_new_work(settings: Settings, engine: Engine) -> None:
    job = CountingJob([0, 0, 1])
    worker = Worker(settings, engine, [job], idle_interval=0.01)

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        while job.passes < 4:
            await asyncio.wait_for(job.called.wait(), LIMIT)
            job.called.clear()
        stop.set()
        await asyncio.wait_for(running, LIMIT)

    asyncio.run(scenario())
    assert worker.handled == {"counting": 1}


def test_stopping_finishes_the_deliveries_in_flight(
    settings: Settings, engine: Engine, sink: InboxSink
) -> None:
    fed = settings.replace(allow_private_addresses=True)
    make_user(engine, "alice")
    alice: LocalActor = local_person(fed, engine, "alice")
    sink.answer("/inbox", Reply(202, delay=1.0))
    publish_note(fed, engine, alice, inboxes=[sink.url("/inbox")])
    worker = Worker(fed, engine, [DeliveryJob(fed, engine, accounts=DIRECTORY)])

    async def scenario() -> None:
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop))
        while not sink.posts():
            await asyncio.sleep(0.01)
        stop.set()  # while the inbox is still answering
        await asyncio.wait_for(running, LIMIT)

    asyncio.run(scenario())
    assert [d.state for d in deliveries(engine)] == ["delivered"]
    assert worker.handled == {"delivery": 1}


def test_node_worker_delivers_and_processes_the_inbox(settings: Settings, engine: Engine) -> None:
    worker = node_worker(settings, engine)
    assert isinstance(worker.jobs[0], DeliveryJob) and isinstance(worker.jobs[1], InboxJob)
    assert [job_name(job) for job in worker.jobs][:2] == ["delivery", "inbox"]
    asyncio.run(worker.aclose())
