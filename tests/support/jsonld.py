"""Offline JSON-LD expansion with an independent processor (pyld): the two remote contexts our documents
name are served from ``tests/data/jsonld``, any other URL is refused (no network, no context of ours to
fetch)."""

from __future__ import annotations

import json
from typing import Any

from pyld import jsonld

from tests.support.data import DATA

CONTEXTS = {
    "https://www.w3.org/ns/activitystreams": DATA / "jsonld" / "activitystreams.jsonld",
    "https://w3id.org/security/v1": DATA / "jsonld" / "security-v1.jsonld",
}


def load(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """pyld's document loader, offline."""
    if url not in CONTEXTS:
        raise jsonld.JsonLdError(
            "not offline", "jsonld.LoadDocumentError", {"url": url}, code="loading document failed"
        )
    return {
        "contextUrl": None,
        "documentUrl": url,
        "document": json.loads(CONTEXTS[url].read_text(encoding="utf-8")),
    }


def expand(document: dict[str, Any]) -> list[dict[str, Any]]:
    """``document`` expanded, as a strict JSON-LD reader (Fedify, for one) reads it."""
    expanded: list[dict[str, Any]] = jsonld.expand(document, {"documentLoader": load})
    return expanded


def values_of(node: object, predicate: str) -> list[object]:
    """Every value of ``predicate`` anywhere in an expanded document."""
    found: list[object] = []
    if isinstance(node, list):
        for item in node:
            found.extend(values_of(item, predicate))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == predicate:
                found.extend(value if isinstance(value, list) else [value])
            found.extend(values_of(value, predicate))
    return found
