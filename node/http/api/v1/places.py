"""API operations on places: autocompletion of French communes and lookup by postal code (public)."""

from __future__ import annotations

import re

from pydantic import BaseModel
from starlette.requests import Request

from node.accounts.models import User
from node.core.errors import N_, ValidationFailed
from node.http.api.framework import Operation, operation
from node.places.gazetteer import POSTAL_CODE, Commune, default_gazetteer

MAX_RESULTS = 10
QUERY_MAX = 100
_POSTAL_CODE = re.compile(POSTAL_CODE)


class Place(BaseModel):
    """A commune: its INSEE code, name, postal codes and département."""

    insee: str
    name: str
    postal_codes: list[str]
    departement: str
    departement_name: str
    label: str


def place_of(commune: Commune) -> Place:
    return Place(
        insee=commune.insee,
        name=commune.name,
        postal_codes=list(commune.postal_codes),
        departement=commune.departement,
        departement_name=commune.departement_name,
        label=commune.label(),
    )


@operation(
    "GET",
    "/places",
    summary="Communes whose name or postal code starts with the query (up to 10)",
    tag="places",
    auth="none",
    response=Place,
    list_response=True,
    query={"q": {"description": "Start of a commune name and/or postal code, e.g. `montr` or `93100`"}},
)
async def search_places(request: Request, caller: User | None, _body: None) -> list[Place]:
    query = request.query_params.get("q", "")[:QUERY_MAX]
    return [place_of(c) for c in default_gazetteer().search(query, limit=MAX_RESULTS)]


@operation(
    "GET",
    "/places/postal-codes/{code}",
    summary="The communes a postal code serves",
    tag="places",
    auth="none",
    response=Place,
    list_response=True,
    errors=(422,),
    path_schemas={"code": {"type": "string", "pattern": POSTAL_CODE}},
)
async def places_of_postal_code(request: Request, caller: User | None, _body: None) -> list[Place]:
    code = str(request.path_params["code"])
    if not _POSTAL_CODE.match(code):
        message = N_("Enter a French postal code of 5 digits.")
        raise ValidationFailed(message, fields={"code": message})
    return [place_of(c) for c in default_gazetteer().by_postal_code(code)]


def operations() -> list[Operation]:
    """The operations of this resource, in the order they are served."""
    return [search_places, places_of_postal_code]
