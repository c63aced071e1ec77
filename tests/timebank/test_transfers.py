"""Transfers inside one cooperative node: starting credits, gifts, grants and levies, reversals,
payments of agreements priced in tokens (exactly once), late-cancellation fees, limits, and what a
market node answers. Each test ends with the zero-sum check (tests/timebank/conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, update
from sqlmodel import Session, select

from node.accounts import gdpr
from node.accounts.models import Role, User
from node.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from node.core.timeutil import utcnow
from node.market.agreements import service as agreements
from node.settings import Settings
from node.timebank import accounts, ledger, payments, transfers
from node.timebank.jobs import TimebankJob
from node.timebank.models import Entry, Transfer
from node.timebank.policy import Policy
from tests.support.accounts import make_user
from tests.support.timebank import balance, complete, cooperative, people, person_balance, token_agreement


def run_job(settings: Settings, engine: Engine) -> int:
    return TimebankJob(settings, engine, interval=0).run_steps()


def test_accounts_open_with_the_starting_credit_once(coop: Settings, engine: Engine) -> None:
    alice, bob = people(engine, "alice", "bob")
    assert run_job(coop, engine) >= 2
    run_job(coop, engine)
    assert person_balance(engine, alice) == 200 and person_balance(engine, bob) == 200
    assert balance(engine, "community") == -400
    with Session(engine) as session:
        starts = session.exec(
            select(func.count()).select_from(Transfer).where(Transfer.kind == "starting_credit")
        ).one()
    assert starts == 2


def test_a_gift_needs_confirmation_and_moves_two_entries(
    coop: Settings, engine: Engine, session: Session
) -> None:
    alice, bob = people(engine, "alice", "bob")
    with pytest.raises(ValidationFailed) as refused:
        transfers.give(session, coop, alice, "bob", "1,5", "Merci !", confirm=False)
    assert "confirm" in refused.value.fields
    session.rollback()
    gift = transfers.give(session, coop, alice, "bob", "1,5", "Merci pour les courses", confirm=True)
    session.commit()
    assert (gift.state, gift.amount, gift.memo) == ("settled", 150, "Merci pour les courses")
    entries = session.exec(select(Entry).where(Entry.transfer_id == gift.id)).all()
    assert sorted(e.amount for e in entries) == [-150, 150]
    assert person_balance(engine, alice) == 50 and person_balance(engine, bob) == 350


BAD_GIFTS = [
    ("bob", "0", "amount"),
    ("bob", "-3", "amount"),
    ("bob", "2.555", "amount"),
    ("bob", "250", "amount"),
    ("bob", "beaucoup", "amount"),
    ("bob", "1e400", "amount"),
    ("alice", "1", "recipient"),
    ("nobody", "1", "recipient"),
    ("http://testserver/users/nobody", "1", "recipient"),
    ("javascript:alert(1)", "1", "recipient"),
]


def test_bad_gifts_are_refused_and_change_nothing(coop: Settings, engine: Engine, session: Session) -> None:
    alice, _ = people(engine, "alice", "bob")
    run_job(coop, engine)
    for recipient, amount, field in BAD_GIFTS:
        with pytest.raises(ValidationFailed) as refused:
            transfers.give(session, coop, alice, recipient, amount, confirm=True)
        assert field in refused.value.fields, (recipient, amount)
        session.rollback()
    assert person_balance(engine, alice) == 200
    with Session(engine) as check:
        assert (
            check.exec(select(func.count()).select_from(Transfer).where(Transfer.kind == "gift")).one() == 0
        )


def test_limits_refuse_with_a_clear_message(coop: Settings, engine: Engine, session: Session) -> None:
    alice, bob = people(engine, "alice", "bob")
    transfers.give(session, coop, alice, "bob", "12", confirm=True)  # 2 - 12 = -10: the minimum, allowed
    session.commit()
    with pytest.raises(ledger.LimitRefused) as below:
        transfers.give(session, coop, alice, "bob", "0.01", confirm=True)
    assert below.value.limit == "minimum" and "minimum" in below.value.message
    session.rollback()
    carol = people(engine, "carol")[0]
    coordinator = make_user(engine, "coord", role=Role.COORDINATOR)
    transfers.grant(session, coop, coordinator, "carol", "6", "Bienvenue")
    session.commit()
    with pytest.raises(ledger.LimitRefused) as above:
        transfers.give(session, coop, bob, "carol", "13", confirm=True)  # carol 8 + 13 > 20
    assert above.value.limit == "maximum"
    session.rollback()
    assert (person_balance(engine, alice), person_balance(engine, bob), person_balance(engine, carol)) == (
        -1000,
        1400,
        800,
    )
    with Session(engine) as check:
        near = {user.username for _, user in accounts.person_accounts_near_limits(check, Policy.of(coop))}
    assert near == {"alice"}


def test_grants_and_levies_are_for_coordinators_with_a_reason(
    coop: Settings, engine: Engine, session: Session
) -> None:
    alice = people(engine, "alice")[0]
    member = make_user(engine, "member")
    coordinator = make_user(engine, "coord", role=Role.COORDINATOR)
    with pytest.raises(PermissionDenied):
        transfers.grant(session, coop, member, "alice", "3", "cadeau")
    with pytest.raises(ValidationFailed) as no_reason:
        transfers.grant(session, coop, coordinator, "alice", "3", "   ")
    assert "reason" in no_reason.value.fields
    session.rollback()
    transfers.grant(session, coop, coordinator, "alice", "3", "Animation de l'atelier réparation")
    transfers.levy(session, coop, coordinator, "alice", "1", "Cotisation annuelle")
    session.commit()
    assert person_balance(engine, alice) == 200 + 300 - 100


def test_a_reversal_names_what_it_reverses_once(coop: Settings, engine: Engine, session: Session) -> None:
    alice, bob = people(engine, "alice", "bob")
    coordinator = make_user(engine, "coord", role=Role.COORDINATOR)
    gift = transfers.give(session, coop, alice, "bob", "1", confirm=True)
    session.commit()
    assert gift.id is not None
    reversal = transfers.reverse(session, coop, coordinator, gift.id, "Erreur de destinataire")
    session.commit()
    assert reversal.reverses_id == gift.id and reversal.kind == "reversal"
    assert person_balance(engine, alice) == 200 and person_balance(engine, bob) == 200
    with pytest.raises(Conflict):
        transfers.reverse(session, coop, coordinator, gift.id, "encore")
    session.rollback()
    with pytest.raises(Conflict):
        transfers.reverse(session, coop, coordinator, reversal.id or 0, "et retour")
    session.rollback()
    with pytest.raises(NotFound):
        transfers.reverse(session, coop, coordinator, 999_999, "rien")


def test_a_completed_agreement_in_tokens_is_paid_exactly_once(
    coop: Settings, engine: Engine, session: Session
) -> None:
    alice, bob = people(engine, "alice", "bob")
    agreement = token_agreement(session, coop, alice, bob, amount="1.5", basis="per_hour", hours=Decimal(2))
    run_job(coop, engine)
    assert payments.payments_of(session, [agreement.ap_id]) == {}  # not completed yet
    complete(session, coop, agreement, alice, bob)
    for _ in range(3):
        run_job(coop, engine)
    paid = payments.payments_of(session, [agreement.ap_id])[agreement.ap_id]
    assert (paid.kind, paid.state, paid.amount) == ("payment", "settled", 300)
    assert person_balance(engine, alice) == 200 - 300 and person_balance(engine, bob) == 200 + 300
    with Session(engine) as check:
        assert (
            check.exec(select(func.count()).select_from(Transfer).where(Transfer.kind == "payment")).one()
            == 1
        )


def test_a_payment_over_the_limit_waits_then_goes_through(
    coop: Settings, engine: Engine, session: Session
) -> None:
    alice, bob = people(engine, "alice", "bob")
    coordinator = make_user(engine, "coord", role=Role.COORDINATOR)
    agreement = token_agreement(session, coop, alice, bob, amount="13", basis="total", hours=Decimal(13))
    complete(session, coop, agreement, alice, bob)
    run_job(coop, engine)  # 2 - 13 = -11: under the minimum
    session.expire_all()
    paid = payments.payments_of(session, [agreement.ap_id])[agreement.ap_id]
    assert (paid.state, paid.waiting_reason) == ("waiting", "minimum")
    transfers.grant(session, coop, coordinator, "alice", "1", "Aide ponctuelle")
    session.commit()
    with Session(engine) as s:
        s.execute(update(Transfer).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    run_job(coop, engine)
    session.expire_all()
    assert payments.payments_of(session, [agreement.ap_id])[agreement.ap_id].state == "settled"
    assert person_balance(engine, alice) == -1000


def test_a_late_cancellation_by_the_requester_carries_the_fee(
    settings: Settings, engine: Engine, session: Session
) -> None:
    node = cooperative(settings, timebank_late_cancellation_fee=Decimal("1"))
    alice, bob = people(engine, "alice", "bob")
    agreement = token_agreement(session, node, alice, bob, amount="3")
    agreement.starts_at = utcnow() + timedelta(hours=3)
    session.add(agreement)
    session.commit()
    agreements.cancel(node, alice, agreement, "Empêchement", session=session)
    session.commit()
    run_job(node, engine)
    fee = payments.payments_of(session, [agreement.ap_id])[agreement.ap_id]
    assert (fee.kind, fee.amount, fee.state) == ("cancellation_fee", 100, "settled")
    assert person_balance(engine, bob) == 300


def test_a_market_node_keeps_no_time_bank(settings: Settings, engine: Engine, session: Session) -> None:
    alice, _ = people(engine, "alice", "bob")
    with pytest.raises(Conflict) as refused:
        transfers.give(session, settings, alice, "bob", "1", confirm=True)
    assert "market node" in refused.value.message
    assert TimebankJob(settings, engine, interval=0).policy.enabled is False


def test_a_deleted_persons_balance_returns_to_the_community(
    coop: Settings, engine: Engine, session: Session
) -> None:
    alice, bob = people(engine, "alice", "bob")
    transfers.give(session, coop, alice, "bob", "1", "Pour toi, Bob", confirm=True)
    session.commit()
    user = session.get(User, alice.pk)
    assert user is not None
    gdpr.erase(user, session=session)
    session.commit()
    run_job(coop, engine)
    assert person_balance(engine, alice) == 0 and balance(engine, "community") == -400 + 100
    with Session(engine) as check:
        assert check.exec(select(Transfer.memo).where(Transfer.kind == "gift")).one() == ""
