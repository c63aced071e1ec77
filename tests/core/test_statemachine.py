from __future__ import annotations

from enum import StrEnum

import pytest

from node.core.statemachine import LifecycleError, TransitionRefused, lifecycle


class Light(StrEnum):
    OFF = "off"
    ON = "on"
    BROKEN = "broken"


def test_declared_edges_are_allowed_and_others_refused() -> None:
    machine = lifecycle(
        "light",
        Light,
        Light.OFF,
        {Light.OFF: [Light.ON], Light.ON: [Light.OFF, Light.BROKEN]},
        terminal=[Light.BROKEN],
    )
    assert machine.check("off", "on") is Light.ON
    assert machine.allows(Light.ON, Light.BROKEN)
    with pytest.raises(TransitionRefused, match="off → broken"):
        machine.check(Light.OFF, Light.BROKEN)
    assert sorted(machine.edges()) == [("off", "on"), ("on", "broken"), ("on", "off")]


def test_unreachable_state_is_refused_at_declaration() -> None:
    with pytest.raises(LifecycleError, match="unreachable"):
        lifecycle("light", Light, Light.OFF, {Light.OFF: [Light.ON], Light.ON: [Light.OFF]})


def test_terminal_state_with_exits_is_refused() -> None:
    with pytest.raises(LifecycleError, match="terminal"):
        lifecycle(
            "light",
            Light,
            Light.OFF,
            {Light.OFF: [Light.ON], Light.ON: [Light.BROKEN], Light.BROKEN: [Light.OFF]},
            terminal=[Light.BROKEN],
        )


def test_dead_end_must_be_terminal() -> None:
    with pytest.raises(LifecycleError, match="without exits"):
        lifecycle("light", Light, Light.OFF, {Light.OFF: [Light.ON], Light.ON: [Light.BROKEN]})
