"""The OpenAPI 3.1 document, generated from the operations declared with
:class:`node.http.api.framework.Api`."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from node.http.api.framework import ERROR_DESCRIPTIONS, ERROR_SCHEMA, INTEGER_ID, Api, expected_errors
from node.settings import Settings

REF_TEMPLATE = "#/components/schemas/{model}"


def document(api: Api, settings: Settings) -> dict[str, Any]:
    """The whole OpenAPI document of ``api``."""
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=REF_TEMPLATE)
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": REF_TEMPLATE.format(model=model.__name__)}

    for op in api.operations:
        item: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "responses": {},
        }
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": dict(INTEGER_ID)
                if ":int" in raw
                else op.path_schemas.get(name, {"type": "string", "minLength": 1}),
            }
            for raw, name in ((m.group(0), m.group(1)) for m in re.finditer(r"\{(\w+)(?::\w+)?\}", op.path))
        ]
        parameters += [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": spec.get("schema", {"type": "string"}),
                "description": spec.get("description", ""),
            }
            for name, spec in op.query.items()
        ]
        if parameters:
            item["parameters"] = parameters
        if op.auth != "none":
            item["security"] = [{"bearer": []}]
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body)}},
            }
        if op.response is not None:
            schema: dict[str, Any] = ref(op.response)
            if op.list_response:
                schema = {"type": "array", "items": schema}
            item["responses"][str(op.status)] = {
                "description": op.summary,
                "content": {"application/json": {"schema": schema}},
            }
        else:
            item["responses"][str(op.status)] = {"description": op.summary}
        codes = expected_errors(op)
        for code in sorted(codes):
            response: dict[str, Any] = {
                "description": ERROR_DESCRIPTIONS.get(code, "Error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
            if code == 429:
                response["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before trying again",
                        "schema": {"type": "integer", "minimum": 1},
                    }
                }
            item["responses"][str(code)] = response
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", api.prefix + op.path)
        paths.setdefault(path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"ASASAP API — {settings.node_name}",
            "version": "1",
            "description": "JSON API of an ASASAP node. Authenticate with `Authorization: Bearer <token>`; "
            "create tokens in the account settings or with `asasap user token`.",
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": settings.base_url.rstrip("/")}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
