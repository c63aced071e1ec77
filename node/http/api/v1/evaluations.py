"""API operations on evaluations: evaluate the other party of a completed agreement, read the
evaluations of an agreement, and the reputation of anyone (local or known from other nodes)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts import actors as accounts_actors
from node.accounts.models import User
from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.actors.remote import RemoteActorError, RemoteActors, known_actor_uri
from node.activitypub.actors.resolve import NotResolvable, parse_handle, resolve
from node.activitypub.transport.fetch import RemoteError
from node.core.errors import N_, NotFound
from node.groups import actors as group_actors
from node.http.api.framework import Operation, operation
from node.http.api.schemas import Strict
from node.http.runtime import node_of, run
from node.market.evaluations import service as evaluations
from node.market.evaluations.reputation import Reputation
from node.market.models import Evaluation

MSG_NOBODY = N_("Nobody was found at this address.")


class EvaluationCreate(Strict):
    """An evaluation of the other party: ``overall`` and ``criteria`` from 1 to 5. The criteria of a
    provider are punctuality, quality and respect; of a requester clarity, welcome and payment."""

    overall: int
    criteria: dict[str, int] = Field(default_factory=dict, max_length=6)
    comment: str = Field(default="", max_length=4000, description="Plain text, at most 1,000 characters")


class EvaluationOut(BaseModel):
    id: str = Field(description="ActivityPub id of the Review")
    agreement: str
    evaluator: str
    evaluated: str
    evaluated_role: str
    overall: int
    criteria: dict[str, int]
    comment: str
    state: str = Field(description="submitted (hidden until revealed) or published")
    node: str = Field(description="Domain of the evaluator's node")
    submitted_at: datetime
    published_at: datetime | None

    @classmethod
    def of(cls, row: Evaluation) -> EvaluationOut:
        return cls(
            id=row.ap_id,
            agreement=row.agreement_ap_id,
            evaluator=row.evaluator_uri,
            evaluated=row.evaluated_uri,
            evaluated_role=row.evaluated_role,
            overall=row.overall,
            criteria=evaluations.criteria_of(row),
            comment=row.comment,
            state=row.state,
            node=addressing.domain_of(row.evaluator_uri),
            submitted_at=row.submitted_at,
            published_at=row.published_at,
        )


class NodeCount(BaseModel):
    domain: str
    count: int


class ReputationOut(BaseModel):
    actor: str
    mean: str | None = Field(description="Mean overall score, exact decimal rounded half-up to 0.01")
    count: int
    distribution: dict[str, int] = Field(description="How many evaluations gave each score, 1 to 5")
    criteria: dict[str, str] = Field(description="Mean of each criterion")
    by_node: list[NodeCount] = Field(description="How many evaluations came from each node")
    nodes: int

    @classmethod
    def of(cls, actor: str, reputation: Reputation) -> ReputationOut:
        return cls(
            actor=actor,
            mean=None if reputation.mean is None else str(reputation.mean),
            count=reputation.count,
            distribution={str(score): n for score, n in reputation.distribution.items()},
            criteria={name: str(value) for name, value in reputation.criteria.items()},
            by_node=[NodeCount(domain=d, count=n) for d, n in reputation.by_node.items()],
            nodes=len(reputation.by_node),
        )


@operation(
    "POST",
    "/agreements/{ref}/evaluations",
    summary="Evaluate the other party of a completed agreement (hidden until both are in or 14 days)",
    tag="evaluations",
    body=EvaluationCreate,
    response=EvaluationOut,
    status=201,
    errors=(403, 404, 409),
)
async def create_evaluation(request: Request, caller: User, body: EvaluationCreate) -> EvaluationOut:
    settings = node_of(request).settings
    ref = request.path_params["ref"]
    data = evaluations.EvaluationInput(
        overall=body.overall, criteria=dict(body.criteria), comment=body.comment
    )

    def save(session: Session) -> EvaluationOut:
        agreement = evaluations.agreement_for_party(settings, ref, caller, session=session)
        return EvaluationOut.of(evaluations.submit(settings, caller, agreement, data, session=session))

    return await run(request, save)


@operation(
    "GET",
    "/agreements/{ref}/evaluations",
    summary="The evaluations of an agreement the caller may read: published ones and their own",
    tag="evaluations",
    response=EvaluationOut,
    list_response=True,
    errors=(403, 404),
)
async def list_evaluations(request: Request, caller: User, _body: None) -> list[EvaluationOut]:
    settings = node_of(request).settings
    ref = request.path_params["ref"]

    def load(session: Session) -> list[EvaluationOut]:
        agreement = evaluations.agreement_for_party(settings, ref, caller, session=session)
        viewer = local.person(settings, caller).uri
        return [EvaluationOut.of(row) for row in evaluations.visible_to(agreement, viewer, session=session)]

    return await run(request, load)


def _local_uri(session: Session, request: Request, username: str) -> str:
    user = accounts_actors.active_person(username, session=session)
    if user is None:
        group = group_actors.DIRECTORY.find(username, session=session)  # a group's reputation
        if group is None:
            raise NotFound(N_("No such account."))
        return local.group(node_of(request).settings, group.name).uri
    return local.person(node_of(request).settings, user).uri


async def actor_uri_of(request: Request, handle: str) -> str:
    """The actor URI for ``user@host`` (``@`` optional) or a local username: a local account, an actor
    this node knows, else WebFinger on ``host`` (404 when nobody answers)."""
    settings = node_of(request).settings
    handle = handle.strip()
    if "@" not in handle.lstrip("@"):
        return await run(request, _local_uri, request, handle.lstrip("@"))
    parsed = parse_handle(handle)
    if parsed is None:
        raise NotFound(MSG_NOBODY)
    username, host = parsed
    if host == settings.domain.lower():
        return await run(request, _local_uri, request, username)
    known = await run(request, lambda session: known_actor_uri(username, host, session=session))
    if known is not None:
        return known
    actors: RemoteActors = request.app.state.remote_actors
    try:
        uri = await resolve(await actors.fetcher(), handle, allow_http=settings.allow_private_addresses)
        if local.is_local(settings, uri):
            raise NotFound(MSG_NOBODY)
        return (await actors.get_actor(uri)).uri
    except (RemoteError, RemoteActorError, NotResolvable):
        raise NotFound(MSG_NOBODY) from None


@operation(
    "GET",
    "/actors/{handle}/reputation",
    summary="Reputation of a person or group (user@host or a local name) from the evaluations held here",
    tag="evaluations",
    auth="none",
    response=ReputationOut,
    errors=(404,),
)
async def get_reputation(request: Request, caller: User | None, _body: None) -> ReputationOut:
    uri = await actor_uri_of(request, request.path_params["handle"][:300])
    reputation = await run(request, lambda session: evaluations.reputation_of(uri, session=session))
    return ReputationOut.of(uri, reputation)


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [create_evaluation, list_evaluations, get_reputation]
