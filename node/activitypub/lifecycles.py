"""The lifecycles of the federation layer, declared as graphs (:mod:`node.core.statemachine`).

Follow: ``pending`` → ``accepted`` | ``rejected``.
    A follow waits for the followee's answer; people who do not approve followers, and the node actor,
    accept at once. A followee may still refuse an accepted follow (Mastodon removes a follower with
    ``Reject``); a refused follow may be asked again (pending) or accepted when the follower follows
    again. Unfollowing, ``Undo`` and removals delete the row: the end of a follow is not a state.

Relay: ``pending`` → ``accepted`` | ``rejected``, and the relay may change its answer later.

Peer: ``ok`` ⇄ ``failing``: a server that gives no usable answer is failing until it answers again.

Delivery and inbox rows have their lifecycles next to their jobs (:mod:`node.activitypub.outbox.delivery`,
:mod:`node.activitypub.inbox.processing`).
"""

from __future__ import annotations

from node.activitypub.models import FollowState, PeerState, RelayState
from node.core.statemachine import Lifecycle, lifecycle

F, R, P = FollowState, RelayState, PeerState

FOLLOW_LIFECYCLE: Lifecycle[FollowState] = lifecycle(
    "follow",
    FollowState,
    F.PENDING,
    {F.PENDING: {F.ACCEPTED, F.REJECTED}, F.ACCEPTED: {F.REJECTED}, F.REJECTED: {F.PENDING, F.ACCEPTED}},
)

RELAY_LIFECYCLE: Lifecycle[RelayState] = lifecycle(
    "relay",
    RelayState,
    R.PENDING,
    {R.PENDING: {R.ACCEPTED, R.REJECTED}, R.ACCEPTED: {R.REJECTED}, R.REJECTED: {R.ACCEPTED}},
)

PEER_LIFECYCLE: Lifecycle[PeerState] = lifecycle(
    "peer", PeerState, P.OK, {P.OK: {P.FAILING}, P.FAILING: {P.OK}}
)
