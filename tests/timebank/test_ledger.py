"""The ledger's invariants under any sequence of operations (Hypothesis): gifts, grants, levies,
reversals and refused transfers keep the node's entries summing to zero, each balance equal to the sum
of its entries and within its limits; a refused transfer changes nothing. Also the lifecycles."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, update
from sqlmodel import Session, select

from node.accounts.models import Role, User
from node.core.errors import DomainError
from node.core.statemachine import TransitionRefused
from node.settings import Settings
from node.timebank import ledger, transfers
from node.timebank.lifecycles import EXCHANGE_LIFECYCLE, TRANSFER_LIFECYCLE
from node.timebank.models import Entry, TimebankAccount, Transfer
from node.timebank.policy import Policy
from tests.support.accounts import make_user
from tests.support.timebank import people

NAMES = ("alice", "bob", "carol")
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["gift", "grant", "levy", "reverse"]),
        st.sampled_from(NAMES),
        st.sampled_from(NAMES),
        st.sampled_from(["0.01", "0.5", "1", "3.25", "7", "12", "25", "0", "-1", "1.001"]),
    ),
    max_size=14,
)


@pytest.fixture
def cast(engine: Engine) -> dict[str, User]:
    found = {user.username: user for user in people(engine, *NAMES)}
    found["coord"] = make_user(engine, "coord", role=Role.COORDINATOR)
    return found


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_any_sequence_keeps_the_sum_at_zero_and_balances_within_limits(
    coop: Settings, engine: Engine, cast: dict[str, User], operations: list[tuple[str, str, str, str]]
) -> None:
    policy = Policy.of(coop)
    with Session(engine) as session:
        session.execute(update(Transfer).values(reverses_id=None))
        for table in (Entry, Transfer, TimebankAccount):
            session.execute(delete(table))
        session.commit()
    for kind, who, whom, amount in operations:
        with Session(engine, expire_on_commit=False) as session:
            before = {a.key: a.balance for a in session.exec(select(TimebankAccount)).all()}
            try:
                if kind == "gift":
                    transfers.give(session, coop, cast[who], whom, amount, confirm=True)
                elif kind in ("grant", "levy"):
                    getattr(transfers, kind)(session, coop, cast["coord"], whom, amount, "Atelier")
                else:
                    last = session.exec(select(Transfer.id).order_by(Transfer.id.desc())).first()  # type: ignore[union-attr]
                    transfers.reverse(session, coop, cast["coord"], last or 0, "Correction")
                session.commit()
            except DomainError:
                session.rollback()
                after = {a.key: a.balance for a in session.exec(select(TimebankAccount)).all()}
                assert {k: v for k, v in after.items() if k in before} == before  # refused: nothing moved
            report = ledger.verify(session, policy)
            assert report.ok, report.problems
            assert not report.warnings, report.warnings
            total = session.exec(select(func.coalesce(func.sum(TimebankAccount.balance), 0))).one()
            assert total == 0


def test_lifecycles_are_declared_graphs() -> None:
    assert TRANSFER_LIFECYCLE.allows("waiting", "pending") and TRANSFER_LIFECYCLE.allows("pending", "settled")
    with pytest.raises(TransitionRefused):
        TRANSFER_LIFECYCLE.check("settled", "refused")
    with pytest.raises(TransitionRefused):
        TRANSFER_LIFECYCLE.check("refused", "settled")
    assert EXCHANGE_LIFECYCLE.allows("deferred", "accepted") and EXCHANGE_LIFECYCLE.allows(
        "offering", "deferred"
    )
    with pytest.raises(TransitionRefused):
        EXCHANGE_LIFECYCLE.check("accepted", "offering")
    assert set(TRANSFER_LIFECYCLE.terminal) == {"settled", "refused"}
