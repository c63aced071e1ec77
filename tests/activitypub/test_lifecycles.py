"""The declared lifecycles of the federation layer: follows, relays, peers (delivery and inbox rows are
tested with their jobs)."""

from __future__ import annotations

import pytest

from node.activitypub.lifecycles import FOLLOW_LIFECYCLE, PEER_LIFECYCLE, RELAY_LIFECYCLE
from node.activitypub.models import FollowState, PeerState, RelayState
from node.core.statemachine import TransitionRefused


def test_follow_lifecycle() -> None:
    F = FollowState
    assert set(FOLLOW_LIFECYCLE.edges()) == {
        (F.PENDING, F.ACCEPTED),
        (F.PENDING, F.REJECTED),
        (F.ACCEPTED, F.REJECTED),  # a followee removes an accepted follower (Mastodon's Reject)
        (F.REJECTED, F.PENDING),  # asked again
        (F.REJECTED, F.ACCEPTED),  # followed again by someone who does not approve followers
    }
    assert FOLLOW_LIFECYCLE.initial is F.PENDING and not FOLLOW_LIFECYCLE.terminal
    assert FOLLOW_LIFECYCLE.step(F.PENDING, F.PENDING) is F.PENDING  # staying is no move
    with pytest.raises(TransitionRefused):
        FOLLOW_LIFECYCLE.step(F.ACCEPTED, F.PENDING)


def test_relay_lifecycle() -> None:
    R = RelayState
    assert set(RELAY_LIFECYCLE.edges()) == {
        (R.PENDING, R.ACCEPTED),
        (R.PENDING, R.REJECTED),
        (R.ACCEPTED, R.REJECTED),
        (R.REJECTED, R.ACCEPTED),
    }
    with pytest.raises(TransitionRefused):
        RELAY_LIFECYCLE.check(R.ACCEPTED, R.PENDING)


def test_peer_lifecycle() -> None:
    assert set(PEER_LIFECYCLE.edges()) == {
        (PeerState.OK, PeerState.FAILING),
        (PeerState.FAILING, PeerState.OK),
    }
    assert [state.value for state in PeerState] == ["ok", "failing"]
