"""API operation of telemanagement for agreements: the beneficiary side of an agreement, or a
coordinator, turns it into a care plan with its visits planned (:mod:`node.telemanagement.
from_agreement`). Asking again answers the same plan with ``created`` false."""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.http.api.framework import Operation, operation
from node.http.api.v1.telemanagement import TAG, answer
from node.http.runtime import node_of, run
from node.telemanagement import from_agreement


class AgreementPlanOut(BaseModel):
    plan_id: int
    beneficiary_id: int
    funder_id: int
    folder_number: str
    created: bool
    visits_planned: int


@operation(
    "POST",
    "/agreements/{agreement_id:int}/care-plan",
    summary="Make a care plan of an agreement, its visits planned (its requester or a coordinator)",
    tag=TAG,
    response=AgreementPlanOut,
    errors=(403, 404, 409),
)
async def make_plan(request: Request, caller: User, _body: None) -> AgreementPlanOut:
    agreement_id: int = request.path_params["agreement_id"]
    settings = node_of(request).settings

    def save(s: Session) -> AgreementPlanOut:
        made = from_agreement.make_plan(s, settings, caller, agreement_id)
        return answer(
            AgreementPlanOut,
            made.plan,
            plan_id=made.plan.id,
            created=made.created,
            visits_planned=made.visits,
        )

    return await run(request, save)


def operations() -> list[Operation]:
    return [make_plan]
