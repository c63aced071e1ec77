"""A small declarative layer for the JSON API: each operation is declared once with its input and output
schemas, and the same declarations produce the routes and the OpenAPI document, so the document cannot
fall behind the API.

Authentication is by bearer token (``Authorization: Bearer asa_...``). Errors use the node's stable
shape ``{"error": {"code", "message", "fields"?}}``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from node.accounts import service
from node.accounts.models import User
from node.core.errors import N_, ValidationFailed
from node.http.runtime import node_of, run_writing

Handler = Callable[..., Awaitable[Any]]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["not_found"]},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}
ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, malformed or invalid bearer token (on a public route: a token was sent and is invalid)",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Validation failed",
    429: "Too many requests: an abuse limit of the node (see Retry-After)",
}


INTEGER_ID: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
"""An integer in a path (``{id:int}``): a row id, which the databases hold in 64 bits."""


def expected_errors(op: Operation) -> set[int]:
    """Every error status ``op`` can answer, whatever its handler declares beyond them: 401 (a bearer
    token may be sent to any route and be refused), 429 (the token's request limit, and the node's
    abuse limits), 403 for coordinator and admin routes, 404 where the path names a resource, 422 for
    query parameters, 400/413/415/422 for a body."""
    codes = set(op.errors) | {401, 429}
    if op.auth in ("coordinator", "admin"):
        codes.add(403)
    if "{" in op.path:
        codes.add(404)
    if op.query:
        codes.add(422)
    if op.body is not None:
        codes.update({400, 413, 415, 422})
    return codes


@dataclass
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: str  # "none", "user", "coordinator", "admin"
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    list_response: bool
    status: int
    errors: tuple[int, ...]
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    operation_id: str = ""
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)


def operation(
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    auth: str = "user",
    body: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    list_response: bool = False,
    status: int = 200,
    errors: tuple[int, ...] = (),
    query: dict[str, dict[str, Any]] | None = None,
    path_schemas: dict[str, dict[str, Any]] | None = None,
) -> Callable[[Handler], Operation]:
    """Declare an operation: the decorated handler, called as ``handler(request, caller, body)``, becomes
    its :class:`Operation`. Declaring registers nothing: each module lists its operations.
    ``path_schemas`` states the form of a string in the path that the handler checks (422 otherwise)."""

    def declare(handler: Handler) -> Operation:
        return Operation(
            method=method.upper(),
            path=path,
            handler=handler,
            summary=summary,
            tag=tag,
            auth=auth,
            body=body,
            response=response,
            list_response=list_response,
            status=status,
            errors=errors,
            query=query or {},
            operation_id=handler.__name__,
            path_schemas=path_schemas or {},
        )

    return declare


class Api:
    """A set of operations under one prefix: their routes and (:mod:`node.http.api.openapi`) their
    document come from the same declarations."""

    def __init__(self, prefix: str, operations: Sequence[Operation]) -> None:
        self.prefix = prefix
        self.operations: list[Operation] = list(operations)

    def routes(self) -> list[Route]:
        by_path: dict[str, dict[str, Operation]] = defaultdict(dict)
        for op in self.operations:
            by_path[op.path][op.method] = op
        return [
            Route(self.prefix + path, _dispatcher(ops), methods=list(ops)) for path, ops in by_path.items()
        ]


def _dispatcher(ops: dict[str, Operation]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        op = ops.get(request.method) or (ops.get("GET") if request.method == "HEAD" else None)
        if op is None:
            raise HTTPException(405)
        if any(isinstance(v, int) and v > INTEGER_ID["maximum"] for v in request.path_params.values()):
            raise HTTPException(404)  # no row has such an id (and no database can hold it)
        caller = await authenticate(request, op.auth)
        check_query(request, op.query)
        payload = await _parse_body(request, op.body) if op.body is not None else None
        result = await op.handler(request, caller, payload)
        if isinstance(result, Response):
            return result
        if isinstance(result, BaseModel):  # written by pydantic straight to JSON, with no dict between
            return Response(result.model_dump_json(), status_code=op.status, media_type="application/json")
        return JSONResponse(_dump(result), status_code=op.status)

    return endpoint


def _dump(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [_dump(item) for item in result]
    if isinstance(result, dict):
        return {key: _dump(value) for key, value in result.items()}
    return result


async def authenticate(request: Request, level: str) -> User | None:
    """The caller of an API request from its bearer token; 401/403 when ``level`` is not met."""
    header = request.headers.get("authorization")
    if header is None:
        if level == "none":
            return None
        raise HTTPException(401, N_("A bearer token is required."), headers={"WWW-Authenticate": "Bearer"})
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or " " in secret:
        raise HTTPException(
            401,
            N_("Malformed Authorization header; expected `Bearer <token>`."),
            headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
        )
    settings = node_of(request).settings
    user = await run_writing(request, lambda session: service.api_caller(settings, secret, session=session))
    if user is None:
        raise HTTPException(
            401,
            N_("Unknown, revoked or malformed token."),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if level == "coordinator" and not user.is_coordinator:
        raise HTTPException(403, N_("This requires a coordinator account."))
    if level == "admin" and not user.is_admin:
        raise HTTPException(403, N_("This requires an administrator account."))
    request.state.user = user
    return user


def check_query(request: Request, declared: dict[str, dict[str, Any]]) -> None:
    """Refuse (422) query parameters that break their declared schema: the handler reads only values
    the OpenAPI document allows (type, enum, bounds, length, pattern). Undeclared parameters are ignored."""
    problems: dict[str, str] = {}
    for name, spec in declared.items():
        values = request.query_params.getlist(name)
        if not values:
            if spec.get("required"):
                problems[name] = N_("Required.")
            continue
        schema = spec.get("schema", {"type": "string"})
        if len(values) > 1 and schema.get("type") != "array":
            problems[name] = N_("Give this parameter once.")
            continue
        problem = _query_value_problem(values[0], schema)
        if problem:
            problems[name] = problem
    if problems:
        raise ValidationFailed(N_("Some query parameters are not valid."), fields=problems)


def _query_value_problem(raw: str, schema: dict[str, Any]) -> str | None:
    kind = schema.get("type", "string")
    value: Any = raw
    if kind == "integer":
        if not re.fullmatch(r"-?\d{1,18}", raw):
            return N_("Expected a whole number.")
        value = int(raw)
    elif kind == "number":
        try:
            value = float(raw)
        except ValueError:
            return N_("Expected a number.")
        if value != value or value in (float("inf"), float("-inf")):
            return N_("Expected a number.")
    elif kind == "boolean":
        if raw not in ("true", "false"):
            return N_("Expected true or false.")
        return None
    if "enum" in schema and value not in schema["enum"]:
        return N_("Not one of the allowed values.")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return N_("Too small.")
        if "maximum" in schema and value > schema["maximum"]:
            return N_("Too large.")
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get("minLength", 0):
            return N_("Wrong length.")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return N_("Not in the expected form.")
    return None


async def _parse_body(request: Request, model: type[BaseModel]) -> BaseModel:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(415, N_("Send the body as application/json."))
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, N_("The body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise HTTPException(400, N_("The body must be a JSON object."))
    try:
        # Strict: no 0 for false, no "3" for 3; the types the document states are the types accepted.
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        fields = {".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()}
        raise ValidationFailed(N_("Some fields need attention."), fields=fields) from None
