"""The time bank of a cooperative node: a zero-sum, double-entry ledger of time tokens (hours).

- :mod:`~node.timebank.models`, :mod:`~node.timebank.ledger`: accounts, transfers, entries; the one
  way balances change (within the limits), and the check that the ledger adds up;
- :mod:`~node.timebank.policy`: the node's policy (starting credit, limits, peer cap, fee);
- :mod:`~node.timebank.records`, :mod:`~node.timebank.transfers`: recording transfers; gifts, grants,
  levies, reversals; :mod:`~node.timebank.payments`: agreements priced in tokens, paid by the job;
- :mod:`~node.timebank.exchange`, :mod:`~node.timebank.vocab`, :mod:`~node.timebank.federation`:
  transfers between nodes through clearing accounts (``Offer``/``Accept``/``Reject`` of a ValueFlows
  ``EconomicEvent``); :mod:`~node.timebank.reconcile`: signed statements and repairs;
  :mod:`~node.timebank.settlement`: netting between nodes;
- :mod:`~node.timebank.views`, :mod:`~node.timebank.closing`, :mod:`~node.timebank.jobs`: what pages
  show, deleted people's accounts, the background work.

The time bank reads the marketplace (agreements priced in tokens); the marketplace never imports it.
"""
