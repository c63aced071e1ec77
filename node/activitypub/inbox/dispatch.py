"""Which code processes a stored activity, decided once.

Each package contributes a :class:`Contribution`: the activity types it reads (the inbox stores no
other type), a classifier that names the *kind* of the activities that are its business (``follow``,
``offer``, ``evaluation``...), and handlers for kinds, its own or another package's (the marketplace
also acts when an actor deletes itself). The node composes the contributions once, in a declared
order (:mod:`node.worker`), into a :class:`Dispatcher`; nothing is registered by importing a module.

Processing one activity: the classifiers of the contributions that read its type are asked in order,
and the first kind given wins; then every handler of that kind runs, in the order of the
contributions. An activity that no classifier recognises is ignored. The dispatcher refuses, when it is
built, a kind that a classifier may give but nothing handles, a handler of a kind nobody gives, and a
kind two contributions both claim to give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from node.activitypub.inbox.context import Outcome, ProcessingContext
from node.activitypub.vocab import Activity

Handler = Callable[[ProcessingContext, Activity], Outcome]
Classifier = Callable[[ProcessingContext, Activity], str | None]


class DispatchError(Exception):
    """The contributions cannot be composed (a kind without handler, or claimed twice)."""


@dataclass(frozen=True)
class Contribution:
    """What one package processes: ``types`` it reads, the ``kinds`` its ``classify`` may give, and
    ``handlers`` by kind."""

    name: str
    types: frozenset[str]
    kinds: frozenset[str]
    classify: Classifier
    handlers: Mapping[str, Sequence[Handler]] = field(default_factory=dict)


def contribution(
    name: str,
    *,
    types: Iterable[str],
    kinds: Iterable[str],
    classify: Classifier,
    handlers: Mapping[str, Sequence[Handler]],
) -> Contribution:
    """Declare a :class:`Contribution`."""
    return Contribution(name, frozenset(types), frozenset(kinds), classify, dict(handlers))


class Dispatcher:
    """The node's contributions composed: what the inbox stores and who processes each activity."""

    def __init__(self, contributions: Sequence[Contribution]) -> None:
        self.contributions = tuple(contributions)
        self.types = frozenset(kind for part in self.contributions for kind in part.types)
        declared: dict[str, str] = {}
        for part in self.contributions:
            for kind in part.kinds:
                if kind in declared:
                    raise DispatchError(f"kind {kind!r} is given by both {declared[kind]} and {part.name}")
                declared[kind] = part.name
        handlers: dict[str, list[Handler]] = {}
        for part in self.contributions:
            for kind, functions in part.handlers.items():
                if kind not in declared:
                    raise DispatchError(f"{part.name} handles {kind!r}, which no classifier gives")
                handlers.setdefault(kind, []).extend(functions)
        unhandled = sorted(kind for kind in declared if not handlers.get(kind))
        if unhandled:
            raise DispatchError(f"kinds without handler: {', '.join(unhandled)}")
        self.handlers: Mapping[str, tuple[Handler, ...]] = {k: tuple(v) for k, v in handlers.items()}

    def accepts(self, activity_type: str) -> bool:
        """Whether the inbox stores activities of ``activity_type``."""
        return activity_type in self.types

    def kind_of(self, ctx: ProcessingContext, activity: Activity) -> str | None:
        """The kind of ``activity``: the first classifier's answer, in the order of the contributions."""
        for part in self.contributions:
            if activity.type not in part.types:
                continue
            kind = part.classify(ctx, activity)
            if kind is not None:
                if kind not in part.kinds:
                    raise DispatchError(f"{part.name} classified {activity.id} as undeclared {kind!r}")
                return kind
        return None

    def run(self, ctx: ProcessingContext, activity: Activity) -> tuple[str | None, Outcome]:
        """The activity's kind, and the outcome of running every handler of that kind: DONE when at
        least one of them did something (IGNORED, with no kind, when no classifier recognised it)."""
        kind = self.kind_of(ctx, activity)
        if kind is None:
            return None, Outcome.IGNORED
        outcome = Outcome.IGNORED
        for handler in self.handlers[kind]:
            if handler(ctx, activity) is Outcome.DONE:
                outcome = Outcome.DONE
        return kind, outcome

    def dispatch(self, ctx: ProcessingContext, activity: Activity) -> Outcome:
        """Run every handler of the activity's kind (:meth:`run`), and say whether one did something."""
        return self.run(ctx, activity)[1]
