"""The lifecycle of a visit, declared as a graph.

Visit (column ``state``): ``planned`` → ``in_progress`` | ``cancelled``; ``in_progress`` → ``done``.
    ``planned``: on the board, assigned or not. ``in_progress``: the provider checked in at the door.
    ``done``: checked out. ``cancelled``: with its reason code; a visit under way cannot be cancelled,
    only finished. (A coordinator's correction of a visit never clocked is not built yet: it stays
    ``planned`` and the anomaly list shows it.)

Application for a visit waiting for a replacement (column ``state`` of ``tm_replacement_applications``):
``applied`` → ``chosen`` | ``declined``. ``chosen``: the visit is given to the applicant. ``declined``:
it was given to someone else (another applicant, or anyone the coordinator named), and they are told.
"""

from __future__ import annotations

from enum import StrEnum

from node.core.statemachine import Lifecycle, lifecycle

__all__ = ["APPLICATION_LIFECYCLE", "VISIT_LIFECYCLE", "ApplicationState", "VisitState"]


class VisitState(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


_V = VisitState
VISIT_LIFECYCLE: Lifecycle[VisitState] = lifecycle(
    "visit",
    VisitState,
    _V.PLANNED,
    {_V.PLANNED: [_V.IN_PROGRESS, _V.CANCELLED], _V.IN_PROGRESS: [_V.DONE]},
    terminal=[_V.DONE, _V.CANCELLED],
)


class ApplicationState(StrEnum):
    APPLIED = "applied"
    CHOSEN = "chosen"
    DECLINED = "declined"


_A = ApplicationState
APPLICATION_LIFECYCLE: Lifecycle[ApplicationState] = lifecycle(
    "replacement application",
    ApplicationState,
    _A.APPLIED,
    {_A.APPLIED: [_A.CHOSEN, _A.DECLINED]},
    terminal=[_A.CHOSEN, _A.DECLINED],
)
