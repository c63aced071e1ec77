"""API operations of the time bank (cooperative nodes; a market node answers 409 saying it keeps no time
bank): the caller's balance and history, a gift (``confirm`` must be true: a gift cannot be taken back
by its giver), and for coordinators a grant or levy with its reason and the node's figures."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.requests import Request

from node.accounts.models import User
from node.http.api.framework import Operation, operation
from node.http.api.schemas import DecimalText, Strict, text
from node.http.runtime import node_of, run, run_on_engine
from node.timebank import transfers, views
from node.timebank.models import Transfer
from node.timebank.policy import TRANSFER_MAX, to_hours

HOURS = 'Hours with at most two decimals, above 0, at most 200 (1.5 or "1.5")'
Hours = Annotated[Decimal, DecimalText.between(Decimal(0), TRANSFER_MAX, places=2, above=True)]


class GiftIn(Strict):
    recipient: str = Field(
        max_length=2048, description="A username here, or a person's actor URI on another node"
    )
    amount: Hours = Field(description=HOURS)
    message: str = Field(default="", max_length=2000, description="At most 500 characters")
    confirm: bool = Field(description="Must be true: the giver cannot take a gift back")


class CommunityTransferIn(Strict):
    direction: Literal["grant", "levy"]
    username: str = Field(max_length=64)
    amount: Hours = Field(description=HOURS)
    reason: str = text(1, 2000, description="Required, at most 500 characters; the person sees it")


class ReversalIn(Strict):
    reason: str = text(1, 2000, description="Required, at most 500 characters")


class TransferOut(BaseModel):
    id: int
    uri: str = Field(description="The transfer's id, the same on both nodes of a transfer between nodes")
    kind: str
    state: Literal["waiting", "pending", "settled", "refused"]
    hours: Decimal = Field(description="Signed from the caller's account (negative: paid)")
    counterparty: str | None
    agreement: str | None
    memo: str
    at: datetime
    refusal: str


class AccountOut(BaseModel):
    balance: Decimal
    held: Decimal = Field(description="Reserved for transfers to other nodes waiting for an answer")
    minimum: Decimal
    maximum: Decimal
    history: list[TransferOut]


class FiguresOut(BaseModel):
    circulation: Decimal
    community: Decimal
    accounts: int
    exchanged_30_days: Decimal
    velocity: Decimal
    near_limits: list[str] = Field(description="Usernames of people within the margin of a limit")


def _out(transfer: Transfer, amount: int, counterparty: str | None) -> TransferOut:
    assert transfer.id is not None
    return TransferOut(
        id=transfer.id,
        uri=transfer.uri,
        kind=transfer.kind,
        state=transfer.state,  # type: ignore[arg-type]
        hours=to_hours(amount),
        counterparty=counterparty,
        agreement=transfer.agreement_ap_id,
        memo=transfer.memo,
        at=transfer.created_at,
        refusal=transfer.refusal,
    )


@operation(
    "GET",
    "/timebank/me",
    summary="The caller's balance and history",
    tag="timebank",
    response=AccountOut,
    errors=(409,),
)
async def my_account(request: Request, caller: User, _body: None) -> AccountOut:
    settings = node_of(request).settings

    def load(session: Session) -> AccountOut:
        statement = views.my_statement(session, settings, caller)
        return AccountOut(
            balance=to_hours(statement.account.balance),
            held=to_hours(statement.account.held_out),
            minimum=to_hours(statement.policy.min_balance),
            maximum=to_hours(statement.policy.max_balance),
            history=[_out(line.transfer, line.amount, line.counterparty) for line in statement.lines],
        )

    return await run(request, load)


@operation(
    "POST",
    "/timebank/gifts",
    summary="Give hours to a person, here or on another node",
    tag="timebank",
    body=GiftIn,
    response=TransferOut,
    status=201,
    errors=(409, 422),
)
async def give(request: Request, caller: User, body: GiftIn) -> TransferOut:
    settings = node_of(request).settings

    def plan(session: Session) -> transfers.Planned:
        return transfers.plan_gift(
            session,
            settings,
            caller,
            body.recipient,
            format(body.amount, "f"),
            body.message,
            confirm=body.confirm,
        )

    gift = await run_on_engine(request, lambda engine: transfers.at_once(engine, settings, plan))
    return _out(gift, -gift.amount, gift.payee_uri)


@operation(
    "POST",
    "/timebank/community-transfers",
    summary="A grant from the community account, or a levy to it, with its reason (coordinators)",
    tag="timebank",
    auth="coordinator",
    body=CommunityTransferIn,
    response=TransferOut,
    status=201,
    errors=(403, 409, 422),
)
async def community_transfer(request: Request, caller: User, body: CommunityTransferIn) -> TransferOut:
    settings = node_of(request).settings
    amount = format(body.amount, "f")

    def plan(session: Session) -> transfers.Planned:
        return transfers.plan_community(
            session, settings, caller, body.username, amount, body.reason, body.direction
        )

    made = await run_on_engine(request, lambda engine: transfers.at_once(engine, settings, plan))
    return _out(made, made.amount, made.payee_uri or made.payer_uri)


@operation(
    "POST",
    "/timebank/transfers/{transfer_id:int}/reverse",
    summary="Reverse a transfer made inside this node, with the reason (coordinators; once per transfer)",
    tag="timebank",
    auth="coordinator",
    body=ReversalIn,
    response=TransferOut,
    status=201,
    errors=(403, 404, 409, 422),
)
async def reverse(request: Request, caller: User, body: ReversalIn) -> TransferOut:
    settings = node_of(request).settings
    transfer_id = int(request.path_params["transfer_id"])

    def save(session: Session) -> TransferOut:
        made = transfers.reverse(session, settings, caller, transfer_id, body.reason)
        return _out(made, made.amount, made.payee_uri)

    return await run(request, save)


@operation(
    "GET",
    "/timebank/figures",
    summary="The node's figures: circulation, community, velocity, accounts near limits (coordinators)",
    tag="timebank",
    auth="coordinator",
    response=FiguresOut,
    errors=(403, 409),
)
async def figures(request: Request, caller: User, _body: None) -> FiguresOut:
    settings = node_of(request).settings

    def load(session: Session) -> FiguresOut:
        found = views.figures(session, settings)
        return FiguresOut(
            circulation=to_hours(found.circulation),
            community=to_hours(found.community),
            accounts=found.people,
            exchanged_30_days=to_hours(found.moved_30_days),
            velocity=found.velocity,
            near_limits=[user.username for _, user in found.near_limits],
        )

    return await run(request, load)


def operations() -> list[Operation]:
    return [my_account, give, community_transfer, reverse, figures]
