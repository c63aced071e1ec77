"""The demo's time-bank tables: they load, name people and a demand of a cooperative node, and a mistake
in them is refused naming the file, the row and the column."""

from __future__ import annotations

from node.demo.loader import load_demo
from node.demo.timebank import load_timebank
from node.settings import Mode


def test_the_time_bank_tables_fit_the_demo() -> None:
    demo = load_demo()
    moves, deals = load_timebank()
    cooperative = {node.slug: node for node in demo.nodes if node.mode is Mode.COOPERATIVE}
    assert moves and deals
    for move in moves:
        people = {person.username for person in cooperative[move.node].people}
        assert {move.by, move.to} <= people, move
        assert move.kind == "gift" or move.message
    for deal in deals:
        node, proposal = demo.proposal_named(deal.proposal)
        assert node.slug in cooperative and proposal.purpose == "request" and proposal.price
        assert deal.provider in {person.username for person in node.people}
