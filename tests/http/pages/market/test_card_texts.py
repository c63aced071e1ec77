"""A card's price, quantity and schedule are formatted once per process for each stored value and
language (:func:`node.http.pages.market.proposals.card`): the texts are those formatted anew, they
follow a proposal's changes, and a schedule's date gets its year once the year has changed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlmodel import Session

from node.accounts.models import User
from node.http.pages.market.proposals import card, schedule_text
from node.market import schedule as sched
from node.market.models import Proposal
from node.market.money import format_hours, format_price
from node.market.proposals.records import price_of, schedule_of
from node.settings import Settings
from tests.support.market import make_proposal, window


def formatted_anew(settings: Settings, row: Proposal, lang: str) -> None:
    """The card of ``row`` shows the texts of its columns formatted now."""
    shown = card(settings, row, lang)
    price, schedule = price_of(row), schedule_of(row)
    assert row.quantity_hours is not None and schedule is not None
    assert shown["price"] == (format_price(price, lang) if price is not None else "")
    assert shown["hours"] == format_hours(row.quantity_hours, lang)
    assert shown["schedule"] == sched.summary(schedule, lang)


def test_card_texts_follow_the_proposal(session: Session, settings: Settings) -> None:
    author = User(username="amina", email="amina@example.org", password_hash="x")
    session.add(author)
    session.commit()
    row = make_proposal(
        session, settings, author, purpose="offer", amount=Decimal("18.5"), hours=Decimal("2")
    )
    for lang in ("fr", "en"):
        formatted_anew(settings, row, lang)
    before = card(settings, row, "fr")
    assert "18,50" in before["price"] and before["hours"] == "2\u00a0h"
    row.price_amount, row.price_currency, row.quantity_hours = Decimal("3"), "HOUR", Decimal("1.5")
    row.schedule = json.dumps(sched.to_json(window(days=12, hours=3)))
    session.add(row)
    session.commit()
    after = card(settings, row, "fr")  # the changed columns, not the texts of the values before
    assert after["price"] != before["price"] and after["hours"] == "1,5\u00a0h"
    assert after["schedule"] != before["schedule"]
    for lang in ("fr", "en"):
        formatted_anew(settings, row, lang)
    row.price_currency = None
    assert card(settings, row, "fr")["price"] == "" and card(settings, row, "fr")["free"]


def test_a_schedule_gets_its_year_when_the_year_changes() -> None:
    start = datetime(2031, 3, 4, 13, tzinfo=UTC)
    stored = json.dumps(sched.to_json(sched.TimeWindow(start, start.replace(hour=15))))
    this_year = schedule_text(stored, "fr", date(2031, 1, 10))
    assert this_year == "le mardi 4 mars de 14 h à 16 h"
    assert schedule_text(stored, "fr", date(2030, 12, 31)) == "le mardi 4 mars 2031 de 14 h à 16 h"
    assert schedule_text(stored, "fr", date(2031, 1, 10)) == this_year
    assert schedule_text(None, "fr", date(2031, 1, 10)) == ""
