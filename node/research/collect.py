"""``asasap research collect``: fetch the signed figures of many nodes and compare market and
cooperative nodes side by side.

Each node is found from its URL through NodeInfo (``metadata.researchFigures``, on the node's own
origin), its document fetched, its proof checked against the node actor's key fetched from the same
origin, and its figures against their own rules (:mod:`.document`). The comparison uses the ``local``
scope only (each node's own objects: a federated copy would count an agreement twice) and pools the
node-months of each setting:

- counts are added up; the share of a part is the pooled parts over the pooled totals, with a Wilson
  95 % interval (the share of the busiest member in groups too). The counts are perturbed by the cell key
  method (each within the document's ``noise.maxChange`` of the true one), so the interval is widened to
  hold the noise too: its low end is Wilson's for the fewest parts and the most totals the noise allows,
  its high end Wilson's for the most parts and the fewest totals;
- quantiles are the median of the node-months' quantiles (no interval: medians do not pool);
- a mean is weighted by the number of items behind each.

Every figure says how many nodes, person-months (people summed over node-months: a person active in
two months counts twice) and items are behind it, and how many node-months were withheld: those add
nothing, so a pooled count is a lower bound when ``withheld`` is not zero.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from node.activitypub import addressing
from node.research.cells import TOTAL
from node.research.document import DocumentRefused, check_figures, check_signature, max_change

QUANTILES = ("q1", "median", "q3")
SETTINGS = ("market", "cooperative")
Z95 = 1.959964
FIGURE_COLUMNS = ("value", "share", "ci_low", "ci_high", "nodes", "people", "items", "withheld")

GetJson = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Collected:
    """One node's checked figures."""

    url: str
    node: str
    mode: str
    name: str
    cells: list[dict[str, Any]]
    max_change: int = 0  # the declared noise: each count within this of the true one


async def collect_one(
    node_url: str,
    get_json: GetJson,
    get_activity: GetJson,
    actor_key: Callable[[dict[str, Any]], tuple[str, str]],
) -> Collected:
    """Fetch and check the figures of the node at ``node_url`` (:class:`DocumentRefused` if they fail)."""
    origin = addressing.origin(node_url.rstrip("/"))
    index = await get_json(f"{origin}/.well-known/nodeinfo")
    links = [link.get("href") for link in index.get("links", []) if isinstance(link, Mapping)]
    hrefs = [h for h in links if isinstance(h, str) and addressing.origin(h) == origin]
    if not hrefs:
        raise DocumentRefused(f"{origin} publishes no NodeInfo")
    info = await get_json(sorted(hrefs)[-1])
    metadata = info.get("metadata") if isinstance(info.get("metadata"), Mapping) else {}
    assert isinstance(metadata, Mapping)
    url = metadata.get("researchFigures")
    if not isinstance(url, str) or addressing.origin(url) != origin:
        raise DocumentRefused(f"{origin} publishes no research figures (NodeInfo metadata.researchFigures)")
    document = await get_activity(url)
    author = document.get("attributedTo")
    if not isinstance(author, str) or addressing.origin(author) != origin:
        raise DocumentRefused(f"the figures of {origin} are not attributed to its node actor")
    check_signature(document, origin, actor_key(await get_activity(author)))
    cells = check_figures(document)
    if metadata.get("mode") != document.get("mode"):
        raise DocumentRefused(f"{origin}'s figures name another mode than its NodeInfo")
    name = document.get("nodeName")
    return Collected(
        origin, str(document["node"]), str(document["mode"]), str(name or ""), cells, max_change(document)
    )


@dataclass
class _Pool:
    nodes: set[str] = field(default_factory=set)
    values: list[tuple[Decimal, int]] = field(default_factory=list)  # value, items
    people: int = 0
    parts: int = 0  # pooled counts of the part, over node-months whose total is shown
    totals: int = 0
    part_slack: int = 0  # how far the noise may have moved the pooled parts, and the totals
    total_slack: int = 0
    withheld: int = 0  # node-months whose cell was withheld: the pooled figure leaves them out


def wilson(successes: int, n: int) -> tuple[float, float] | None:
    """The Wilson 95 % interval of a proportion (None without observations)."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def _add(pool: _Pool, part: int, whole: int, change: int) -> None:
    pool.parts += part
    pool.totals += whole
    pool.part_slack += change if part else 0  # an empty count is never perturbed
    pool.total_slack += change if whole else 0


def noisy_wilson(parts: int, totals: int, part_slack: int, total_slack: int) -> tuple[float, float] | None:
    """The Wilson interval widened by the noise: every true (parts, totals) the noise allows is inside."""
    if totals <= 0:
        return None
    most_totals = totals + total_slack
    fewest_totals = max(1, totals - total_slack)
    low = wilson(max(0, parts - part_slack), most_totals)
    high = wilson(min(parts + part_slack, fewest_totals), fewest_totals)
    assert low is not None and high is not None
    return low[0], high[1]


def _statistic(breakdown: str) -> str:
    part = breakdown.rpartition(":")[2]
    if part in QUANTILES:
        return "quantile"
    if part == "mean":
        return "mean"
    if breakdown == "busiest_share":
        return "share"
    return "count"


def compare(collected: Sequence[Collected]) -> list[dict[str, Any]]:
    """One row per indicator and breakdown, with each setting's pooled figure (module doc)."""
    pools: dict[tuple[str, str], dict[str, _Pool]] = {}
    for node in collected:
        for c in node.cells:
            if c["scope"] == "local" and c.get("suppressed"):
                pool = pools.setdefault((c["indicator"], c["breakdown"]), {}).setdefault(node.mode, _Pool())
                pool.nodes.add(node.node)
                pool.withheld += 1
        shown = {
            (c["month"], c["indicator"], c["breakdown"]): c
            for c in node.cells
            if c["scope"] == "local" and not c.get("suppressed") and c.get("value") is not None
        }
        for (month, indicator, breakdown), cell in shown.items():
            pool = pools.setdefault((indicator, breakdown), {}).setdefault(node.mode, _Pool())
            pool.nodes.add(node.node)
            pool.values.append((Decimal(cell["value"]), int(cell.get("items") or 0)))
            pool.people += int(cell.get("people") or 0)
            prefix = breakdown.rpartition(":")[0]
            total = shown.get((month, indicator, f"{prefix}:{TOTAL}" if prefix else TOTAL))
            if total is not None and not breakdown.endswith(TOTAL):
                part, whole = int(Decimal(cell["value"])), int(Decimal(total["value"]))
                _add(pool, part, whole, node.max_change)
            if breakdown == "busiest_share":
                whole = int(cell.get("items") or 0)
                _add(pool, round(Decimal(cell["value"]) * whole), whole, node.max_change)
    rows = []
    for (indicator, breakdown), by_mode in sorted(pools.items()):
        row: dict[str, Any] = {"indicator": indicator, "breakdown": breakdown}
        kind = _statistic(breakdown)
        for mode in SETTINGS:
            row.update(_figure(mode, kind, by_mode.get(mode)))
        rows.append(row)
    return rows


def _figure(mode: str, kind: str, pool: _Pool | None) -> dict[str, Any]:
    empty: dict[str, Any] = {f"{mode}_{name}": None for name in FIGURE_COLUMNS}
    if pool is None:
        return empty
    if not pool.values:
        return {**empty, f"{mode}_nodes": len(pool.nodes), f"{mode}_withheld": pool.withheld}
    values = [v for v, _ in pool.values]
    items = sum(n for _, n in pool.values)
    share = interval = None
    if kind == "quantile":
        value: Decimal = Decimal(str(statistics.median(values)))
    elif kind == "mean":
        value = sum((v * n for v, n in pool.values), Decimal(0)) / items if items else Decimal(0)
    elif kind == "share":
        value = min(Decimal(1), Decimal(pool.parts) / pool.totals) if pool.totals else Decimal(0)
        interval = noisy_wilson(pool.parts, pool.totals, pool.part_slack, pool.total_slack)
    else:
        value = sum(values, Decimal(0))
        if pool.totals:
            share = min(Decimal(1), Decimal(pool.parts) / pool.totals)
            interval = noisy_wilson(pool.parts, pool.totals, pool.part_slack, pool.total_slack)
    return {
        f"{mode}_value": str(value.quantize(Decimal("0.01")))
        if kind != "share"
        else str(value.quantize(Decimal("0.0001"))),
        f"{mode}_share": None if share is None else str(share.quantize(Decimal("0.0001"))),
        f"{mode}_ci_low": None if interval is None else interval[0],
        f"{mode}_ci_high": None if interval is None else interval[1],
        f"{mode}_nodes": len(pool.nodes),
        f"{mode}_people": pool.people,
        f"{mode}_items": items if kind != "count" else int(value),
        f"{mode}_withheld": pool.withheld,
    }


COLUMNS = ["indicator", "breakdown"] + [f"{mode}_{name}" for mode in SETTINGS for name in FIGURE_COLUMNS]


COMPARISON_FILE = "research-comparison.json"


def saved_path(data_dir: Path) -> Path:
    """Where ``collect --save`` keeps the last comparison, for this node's research pages."""
    return data_dir / COMPARISON_FILE


def save(data_dir: Path, collected: Sequence[Collected], rows: list[dict[str, Any]], at: str) -> Path:
    """Keep the comparison (written to a temporary file, then moved: a page never reads half of it)."""
    path = saved_path(data_dir)
    nodes = [{"url": c.url, "node": c.node, "mode": c.mode, "name": c.name} for c in collected]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        json.dumps({"collectedAt": at, "nodes": nodes, "rows": rows}, ensure_ascii=False), encoding="utf-8"
    )
    temporary.replace(path)
    return path


def load(data_dir: Path) -> dict[str, Any] | None:
    """The last saved comparison, or None when there is none (or it cannot be read)."""
    try:
        found = json.loads(saved_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("rows"), list) else None
