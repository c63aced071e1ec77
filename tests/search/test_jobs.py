"""The worker's job of saved searches: part of every node's worker, runs at most once per interval, and
notifies through the same pass for local and federated proposals."""

from __future__ import annotations

import anyio
from sqlalchemy import Engine
from sqlmodel import Session, select

from node.core import db
from node.core.jobs import job_name
from node.market.models import Notification
from node.search import saved
from node.search.jobs import SavedSearchAlerts
from node.settings import Settings
from node.worker import node_worker
from tests.support.accounts import make_user
from tests.support.search import indexed


def test_the_job_alerts_once_per_interval(settings: Settings, engine: Engine) -> None:
    assert "saved searches" in [job_name(job) for job in node_worker(settings, engine).jobs]
    carla = make_user(engine, "carla")
    with db.session_scope(engine, write=True) as session:
        saved.create(settings, carla, "Jardin", "q=jardinage", session=session)
    with Session(engine) as session:
        indexed(session, settings, "Tonte de pelouse", origin="b.example")
    clock = [0.0]
    job = SavedSearchAlerts(settings, engine, interval=60, monotonic=lambda: clock[0])
    assert anyio.run(job.run_once) == 1
    with Session(engine) as session:
        indexed(session, settings, "Taille de haies")
    assert anyio.run(job.run_once) == 0  # the interval has not passed
    clock[0] = 61.0
    assert anyio.run(job.run_once) == 1
    with Session(engine) as session:
        notes = session.exec(select(Notification).where(Notification.user_id == carla.id)).all()
    assert [n.kind for n in notes] == ["saved_search_match", "saved_search_match"]
