"""Declared lifecycles: each one is a graph of states and allowed transitions, checked when declared.

A lifecycle names its initial state, its terminal states and its transitions; declaring it fails at
import time if a state is unreachable, a terminal state has exits, a state that is not terminal has no
exit or (when there are terminal states) cannot reach one, or a transition names an unknown state.
Services ask :meth:`Lifecycle.check` before changing a row's state, so no code path can move a row
along an edge that is not declared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class LifecycleError(Exception):
    """A lifecycle declaration is inconsistent (raised at import time)."""


class TransitionRefused(ValueError):
    """A change of state that the lifecycle does not allow."""

    def __init__(self, name: str, current: str, target: str) -> None:
        super().__init__(f"{name}: {current} → {target} is not an allowed transition")
        self.current = current
        self.target = target


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    """A declared state machine over the members of a ``StrEnum``."""

    name: str
    states: type[S]
    initial: S
    transitions: Mapping[S, frozenset[S]]
    terminal: frozenset[S] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        known = set(self.states)
        for source, targets in self.transitions.items():
            if source not in known or not set(targets) <= known:
                raise LifecycleError(f"{self.name}: unknown state in {source} → {sorted(targets)}")
            if source in self.terminal and targets:
                raise LifecycleError(f"{self.name}: terminal state {source} has exits")
        reachable = {self.initial}
        frontier = [self.initial]
        while frontier:
            for target in self.transitions.get(frontier.pop(), frozenset()):
                if target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
        unreachable = known - reachable
        if unreachable:
            raise LifecycleError(f"{self.name}: unreachable states {sorted(unreachable)}")
        dead_ends = {s for s in known if not self.transitions.get(s) and s not in self.terminal}
        if dead_ends:
            raise LifecycleError(
                f"{self.name}: states without exits must be declared terminal: {sorted(dead_ends)}"
            )
        if self.terminal:
            trapped = {s for s in known if not self._reaches_terminal(s)}
            if trapped:
                raise LifecycleError(
                    f"{self.name}: states that cannot reach a terminal state: {sorted(trapped)}"
                )

    def _reaches_terminal(self, state: S) -> bool:
        seen, frontier = {state}, [state]
        while frontier:
            current = frontier.pop()
            if current in self.terminal:
                return True
            for target in self.transitions.get(current, frozenset()):
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        return False

    def allows(self, current: S | str, target: S | str) -> bool:
        return self.states(target) in self.transitions.get(self.states(current), frozenset())

    def step(self, current: S | str, target: S | str) -> S:
        """``target`` as a state: staying where it is is no move, anything else must be declared."""
        if self.states(current) == self.states(target):
            return self.states(target)
        return self.check(current, target)

    def check(self, current: S | str, target: S | str) -> S:
        """``target`` as a state, or :class:`TransitionRefused` when the edge is not declared."""
        if not self.allows(current, target):
            raise TransitionRefused(self.name, str(current), str(target))
        return self.states(target)

    def edges(self) -> Iterable[tuple[S, S]]:
        for source, targets in self.transitions.items():
            for target in sorted(targets):
                yield source, target


def lifecycle(
    name: str, states: type[S], initial: S, edges: Mapping[S, Iterable[S]], terminal: Iterable[S] = ()
) -> Lifecycle[S]:
    """Declare a lifecycle; ``edges`` maps each state to the states it may move to."""
    return Lifecycle(
        name=name,
        states=states,
        initial=initial,
        transitions={source: frozenset(targets) for source, targets in edges.items()},
        terminal=frozenset(terminal),
    )
