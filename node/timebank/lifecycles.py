"""The time bank's lifecycles, declared as graphs.

Transfer (the ledger's view, column ``state``): ``waiting`` → ``pending`` | ``settled`` | ``refused``;
``pending`` → ``settled`` | ``refused``.
    A transfer inside the node is applied at once (``waiting`` → ``settled`` in the transaction that
    creates it), unless a limit stops an automatic one (a payment due on completion, a starting
    credit): it then waits, with its reason, and is tried again until the limits allow it. A transfer
    to another node is first *held* on this node (the payer's tokens and the room under the peer's cap
    are reserved: ``pending``) and offered to the payee's node; it is applied here when that node
    accepts (``settled``), and its hold released when that node refuses it for good (``refused``).
    The payee's node stores the transfer as ``settled`` (or ``refused`` for good) directly.

Exchange (the payer's node's conversation with the payee's node, column ``exchange_state``):
``offering`` → ``accepted`` | ``refused`` | ``deferred``; ``deferred`` → ``offering`` | ``accepted`` |
``refused``.
    ``offering``: an ``Offer`` was sent and no answer came yet; it is offered again (a new activity,
    the same transfer id) when ``next_attempt_at`` passes, doubling the wait up to an hour.
    ``deferred``: the peer refused for now (its cap with us, the payee's maximum balance); offered again
    later, the tokens staying held. ``accepted`` and ``refused`` are the peer's final answers; an
    ``Accept`` is final whichever attempt it answers, since the payee's node never takes back a
    transfer it applied.
"""

from __future__ import annotations

from enum import StrEnum

from node.core.statemachine import Lifecycle, lifecycle

__all__ = ["EXCHANGE_LIFECYCLE", "TRANSFER_LIFECYCLE", "ExchangeState", "TransferState"]


class TransferState(StrEnum):
    WAITING = "waiting"
    PENDING = "pending"
    SETTLED = "settled"
    REFUSED = "refused"


class ExchangeState(StrEnum):
    OFFERING = "offering"
    DEFERRED = "deferred"
    ACCEPTED = "accepted"
    REFUSED = "refused"


_T = TransferState
TRANSFER_LIFECYCLE: Lifecycle[TransferState] = lifecycle(
    "transfer",
    TransferState,
    _T.WAITING,
    {_T.WAITING: [_T.PENDING, _T.SETTLED, _T.REFUSED], _T.PENDING: [_T.SETTLED, _T.REFUSED]},
    terminal=[_T.SETTLED, _T.REFUSED],
)

_X = ExchangeState
EXCHANGE_LIFECYCLE: Lifecycle[ExchangeState] = lifecycle(
    "clearing exchange",
    ExchangeState,
    _X.OFFERING,
    {
        _X.OFFERING: [_X.ACCEPTED, _X.REFUSED, _X.DEFERRED],
        _X.DEFERRED: [_X.OFFERING, _X.ACCEPTED, _X.REFUSED],
    },
    terminal=[_X.ACCEPTED, _X.REFUSED],
)
