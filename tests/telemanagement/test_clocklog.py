"""The tamper-evident clock log: every clock event chained by SHA-256, refused UPDATE and DELETE, any
rewritten row found by ``verify-log`` (its hash, the next link's previous hash, the head, or the clock
event it records), and a chain that stays whole when providers clock at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from node.cli import main
from node.core import db
from node.settings import Settings
from node.telemanagement import clocking, clocklog, visits
from node.telemanagement.tables import ClockLogEntry
from tests.support.settings import TEST_SECRET
from tests.support.telemanagement import CATEGORY, Setup, care_setup


@pytest.fixture
def setup(engine: Engine, settings: Settings) -> Setup:
    return care_setup(engine, settings, valid_from=date.today() - timedelta(days=40))


def _visits(engine: Engine, setup: Setup, count: int) -> list[int]:
    """``count`` visits of an hour, two hours apart, the last one starting now."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    found = []
    with db.session_scope(engine) as s:
        for k in range(count):
            start = (now - timedelta(hours=2 * k)).astimezone(visits.PARIS).replace(tzinfo=None)
            visit = visits.plan_visit(
                s,
                setup.coordinator,
                plan_id=setup.plan_id,
                category=CATEGORY,
                start=start.isoformat(timespec="minutes"),
                minutes=60,
                provider="aline",
            )
            found.append(visit.id or 0)
    return found


def _clock_three(engine: Engine, settings: Settings, setup: Setup) -> list[int]:
    """Three links: a check-in, a check-out, and a check-in by hand."""
    first, second = _visits(engine, setup, 2)
    for visit_id, kind in ((first, "in"), (first, "out"), (second, "in")):
        with db.session_scope(engine, write=True) as s:
            clocking.clock(s, settings, setup.provider, visit_id, kind, manual_reason="qr_damaged")
    return [first, second]


def _verify(engine: Engine) -> clocklog.Verification:
    with db.session_scope(engine) as s:
        return clocklog.verify(s)


def test_each_event_is_chained_to_the_previous(engine: Engine, settings: Settings, setup: Setup) -> None:
    _clock_three(engine, settings, setup)
    with db.session_scope(engine) as s:
        links = list(s.exec(select(ClockLogEntry).order_by(col(ClockLogEntry.seq))))
        assert [link.seq for link in links] == [1, 2, 3]
        assert links[0].prev_hash == clocklog.GENESIS
        assert [link.prev_hash for link in links[1:]] == [link.hash for link in links[:-1]]
        assert all(clocklog.link_hash(link.prev_hash, link) == link.hash for link in links)
        assert [(link.kind, link.method, link.manual_reason) for link in links][0] == (
            "in",
            "manual",
            "qr_damaged",
        )
    assert _verify(engine) == clocklog.Verification(3)


def test_the_database_refuses_to_change_or_delete_a_link(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    _clock_three(engine, settings, setup)
    for statement in (
        "UPDATE tm_clock_log SET note = 'x' WHERE seq = 2",
        "DELETE FROM tm_clock_log WHERE seq = 3",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert _verify(engine).ok


def _drop_guards(engine: Engine) -> None:
    """What someone with the database's owner rights could do before rewriting the log."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER tm_clock_log_append_only ON tm_clock_log"))
        else:
            connection.execute(text("DROP TRIGGER tm_clock_log_no_update"))
            connection.execute(text("DROP TRIGGER tm_clock_log_no_delete"))


TAMPERINGS: dict[str, tuple[str, int]] = {
    "an earlier check-in time": ("UPDATE tm_clock_log SET at = received_at WHERE seq = 1", 1),
    "another provider": ("UPDATE tm_clock_log SET provider_id = provider_id + 1 WHERE seq = 2", 2),
    "a method": ("UPDATE tm_clock_log SET method = 'qr', manual_reason = '' WHERE seq = 3", 3),
    "a hash made to fit": (
        "UPDATE tm_clock_log SET hash = '" + "a" * 64 + "' WHERE seq = 2",
        2,
    ),
    "a link taken out": ("DELETE FROM tm_clock_log WHERE seq = 2", 2),
    "the last link taken out": ("DELETE FROM tm_clock_log WHERE seq = 3", 3),
    "the clock event itself": ("UPDATE tm_clock_events SET at = received_at WHERE kind = 'out'", 2),
}


@pytest.mark.parametrize("what", list(TAMPERINGS))
def test_verify_names_the_first_broken_link(
    engine: Engine, settings: Settings, setup: Setup, what: str
) -> None:
    _clock_three(engine, settings, setup)
    _drop_guards(engine)
    statement, broken = TAMPERINGS[what]
    with engine.begin() as connection:
        assert connection.execute(text(statement)).rowcount == 1
    found = _verify(engine)
    assert (found.ok, found.broken_seq) == (False, broken), found.reason


def test_a_rewritten_link_with_its_hash_recomputed_breaks_the_next(
    engine: Engine, settings: Settings, setup: Setup
) -> None:
    """Recomputing the changed link's own hash is not enough: the next one names the old hash."""
    _clock_three(engine, settings, setup)
    _drop_guards(engine)
    with db.session_scope(engine) as s:
        link = s.exec(select(ClockLogEntry).where(ClockLogEntry.seq == 1)).one()
        link.at = link.at - timedelta(minutes=20)
        link.hash = clocklog.link_hash(link.prev_hash, link)
        s.add(link)
    with engine.begin() as connection:  # the event too, so that only the chain can tell
        connection.execute(text("UPDATE tm_clock_events SET at = :at WHERE id = 1"), {"at": link.at})
    found = _verify(engine)
    assert (found.ok, found.broken_seq) == (False, 2), found.reason


def test_providers_clocking_at_once_keep_one_chain(engine: Engine, settings: Settings, setup: Setup) -> None:
    """Six check-ins in six threads at once: each waits for the chain's head, none forks it."""
    ids = _visits(engine, setup, 6)
    barrier = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def tap(visit_id: int) -> Callable[[], None]:
        def run() -> None:
            barrier.wait()

            def once() -> None:
                with db.session_scope(engine, write=True) as s:
                    clocking.clock(s, settings, setup.provider, visit_id, "in", manual_reason="other")

            try:
                db.retry_when_busy(engine, once)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        return run

    threads = [threading.Thread(target=tap(visit_id)) for visit_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with db.session_scope(engine) as s:
        assert sorted(link.seq for link in s.exec(select(ClockLogEntry))) == [1, 2, 3, 4, 5, 6]
    assert _verify(engine) == clocklog.Verification(6)


def test_verify_log_command(
    engine: Engine,
    settings: Settings,
    setup: Setup,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "ASASAP_DATA_DIR": str(settings.data_dir),
        "ASASAP_DATABASE_URL": database_url,
        "ASASAP_BASE_URL": "http://127.0.0.1:8123",
        "ASASAP_SECRET_KEY": TEST_SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit):
        main(["telemanagement", "verify-log", "--help"])
    assert "first broken link" in capsys.readouterr().out
    _clock_three(engine, settings, setup)
    assert main(["telemanagement", "verify-log"]) == 0
    assert capsys.readouterr().out == "clock log intact: 3 links\n"
    _drop_guards(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE tm_clock_log SET visit_id = visit_id + 1 WHERE seq = 2"))
    assert main(["telemanagement", "verify-log"]) == 1
    assert "clock log broken at link 2: link 2 was changed after it was written" in capsys.readouterr().err
    assert main(["telemanagement", "verify-log", "--json"]) == 1
    assert '"broken": 2' in capsys.readouterr().out


@pytest.mark.parametrize(
    "odd",
    [
        {},
        {"note": 'guillemets « » "quotes" \\ back\nslash\ttab \x01 é 😀', "client_id": None},
        {"event_id": None, "manual_reason": "other"},
        {"origin": "https://b.example/events/1?x=\u2028", "provider_id": None, "offline": True},
    ],
)
def test_the_canonical_form_is_sorted_compact_json(odd: dict[str, object]) -> None:
    """The form written out field by field is exactly ``json.dumps`` of the fields, keys sorted."""
    import json
    from types import SimpleNamespace

    moment = datetime(2026, 3, 29, 1, 30, 5, 12, tzinfo=UTC)
    fields: dict[str, object] = {
        "chain": "node", "seq": 12, "event_id": 7, "visit_id": 3, "kind": "in", "at": moment,
        "received_at": moment + timedelta(hours=1), "method": "qr", "manual_reason": "", "provider_id": 4,
        "offline": False, "client_id": "abc_DEF-123", "origin": "", "note": "", "position": "inside",
    }  # fmt: skip
    fields.update(odd)
    expected = json.dumps(
        {
            **fields,
            "at": moment.isoformat(timespec="microseconds"),
            "received_at": (moment + timedelta(hours=1)).isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert clocklog.canonical(SimpleNamespace(**fields)) == expected
