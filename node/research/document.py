"""The signed monthly document a node publishes at ``/research/figures`` when it opts in
(``ASASAP_RESEARCH_PUBLISH``), and its checks on the collecting side.

The document carries the protected cells of the last twelve closed months (the current month is not
over, so it is never published), the node's mode and k, and a proof by the node actor's key made as the
time bank's clearing statements are (:func:`node.timebank.reconcile.sign`: RSA PKCS#1 v1.5 SHA-256 over
the document without ``proof``, keys sorted, compact). A collector refuses a document that is not
signed by the node actor of the URL it came from, names another node, or whose figures fail their own
rules (a shown cell from fewer than k people, shown parts adding up to more than their total, or all
parts shown and not adding up to it, beyond what the declared noise allows): :class:`DocumentRefused`.

The counts are perturbed by the cell key method (:mod:`.cellkey`), which the document declares in
``noise``: each count within ``maxChange`` of the true one, so the parts of a group may miss their total
by ``maxChange`` times the number of cells, and no more.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session

from node.activitypub import addressing
from node.activitypub.actors import local
from node.activitypub.signatures.keys import load_public_key_pem, verify_with
from node.core.timeutil import isoformat, utcnow
from node.market.vocab.common import NS
from node.research import export, figures
from node.research.cells import TOTAL
from node.research.records import month_of, month_start
from node.settings import Settings
from node.timebank import reconcile

PATH = "/research/figures"
TYPE = "ResearchFigures"
CONTEXT: dict[str, Any] = {"@vocab": NS, "id": "@id", "type": "@type", "attributedTo": {"@type": "@id"}}
PUBLISHED_MONTHS = 12
MAX_DECLARED_CHANGE = 5  # a noise larger than this would make the figures useless: refused


class DocumentRefused(ValueError):
    """A collected document that cannot be trusted or does not hold together; it is left out."""


def closed_months(now: datetime | None = None) -> list[str]:
    """The twelve months before the current one."""
    last = month_of(month_start(month_of(now or utcnow())) - timedelta(days=1))
    return figures.period(None, last, now=now)


def build(
    session: Session,
    settings: Settings,
    *,
    now: datetime | None = None,
    computed: figures.Figures | None = None,
) -> dict[str, Any]:
    """This node's signed figures document (of ``computed``, the closed months' figures, when given)."""
    if computed is None:
        computed = figures.compute(session, settings, closed_months(now), now=now)
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "type": TYPE,
        "id": settings.url(PATH),
        "attributedTo": local.node_actor(settings).uri,
        "nodeName": settings.node_name,
        "published": isoformat(now or utcnow()),
        **export.to_json(computed),
    }
    del document["dictionary"]  # the catalogue is the software's; a collector has its own
    return reconcile.sign(session, settings, document)


def check_signature(document: Mapping[str, Any], node_url: str, actor_key: tuple[str, str]) -> None:
    """Refuse a document not of ``node_url``'s node or not signed by its node actor's key."""
    if document.get("type") != TYPE:
        raise DocumentRefused("the document is not research figures")
    origin = addressing.origin(node_url)
    for name in ("id", "attributedTo"):
        value = document.get(name)
        if not isinstance(value, str) or addressing.origin(value) != origin:
            raise DocumentRefused(f"the document's {name} is not of {origin}")
    if document.get("node") != addressing.domain_of(node_url):
        raise DocumentRefused(f"the document names another node ({document.get('node')!r})")
    proof = document.get("proof")
    if not isinstance(proof, Mapping) or not isinstance(proof.get("proofValue"), str):
        raise DocumentRefused("the document is not signed")
    key_id, pem = actor_key
    if proof.get("verificationMethod") != key_id:
        raise DocumentRefused("the document is signed by another key than the node actor's")
    try:
        signature = base64.b64decode(proof["proofValue"], validate=True)
        verify_with(reconcile.ALGORITHM, load_public_key_pem(pem), reconcile.canonical(document), signature)
    except Exception as exc:  # noqa: BLE001 - any failure means the proof does not hold
        raise DocumentRefused(f"the document's signature does not verify: {exc}") from None


def _number(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise DocumentRefused(f"a figure is not a number: {value!r}") from None


def max_change(document: Mapping[str, Any]) -> int:
    """The largest change the document's noise makes to a count (0: exact figures)."""
    noise = document.get("noise")
    if noise is None:
        return 0
    found = noise.get("maxChange") if isinstance(noise, Mapping) else None
    if not isinstance(found, int) or isinstance(found, bool) or not 0 <= found <= MAX_DECLARED_CHANGE:
        raise DocumentRefused("the document's noise is not a method with a small maxChange")
    return found


def check_figures(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The document's cells when they keep their own rules (module doc); :class:`DocumentRefused` else."""
    k, cells = document.get("k"), document.get("figures")
    change = max_change(document)
    if not isinstance(k, int) or k < 3:
        raise DocumentRefused("the document's k is missing or below 3")
    if document.get("mode") not in ("market", "cooperative"):
        raise DocumentRefused("the document's mode is neither market nor cooperative")
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise DocumentRefused("the document's figures are not a list of objects")
    groups: dict[tuple[str, str, str, str], dict[str, Decimal | None]] = {}
    for cell in cells:
        for name in ("month", "scope", "indicator", "breakdown"):
            if not isinstance(cell.get(name), str):
                raise DocumentRefused(f"a figure has no {name}")
        value, people = _number(cell.get("value")), cell.get("people")
        if cell.get("suppressed"):
            if value is not None or people is not None:
                raise DocumentRefused("a withheld figure carries a value")
            value = None
        elif people is not None and (not isinstance(people, int) or 0 < people < k):
            raise DocumentRefused(f"a figure of {cell['indicator']} is shown from fewer than k people")
        breakdown: str = cell["breakdown"]
        prefix, _, part = breakdown.rpartition(":") if ":" in breakdown else ("", "", breakdown)
        groups.setdefault((cell["month"], cell["scope"], cell["indicator"], prefix), {})[part] = value
    for (month, _scope, indicator, _prefix), parts in groups.items():
        if TOTAL not in parts or parts[TOTAL] is None:
            continue
        total = parts[TOTAL]
        assert total is not None
        shown = [v for name, v in parts.items() if name != TOTAL and v is not None]
        slack = change * (len([v for v in shown if v]) + 1)  # an empty count is never perturbed
        gap = sum(shown, Decimal(0)) - total
        if gap > slack or (len(shown) == len(parts) - 1 and abs(gap) > slack):
            raise DocumentRefused(f"the figures of {indicator} in {month} do not add up to their total")
    return cells
